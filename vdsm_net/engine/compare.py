"""The one comparator: what differs between a target and the kernel, one readable line each.

``differences(target, observed)`` compares, per attribute, the target's links and every link that
carries our ownership tag (a tagged NIC the target no longer names is compared with its reset
state), their addresses and routes, the source-routing rules and the host QoS objects
(``model.tc``). Unowned links are never looked at. When every attribute matches it still asks the
planner (``verify``): never call "converged" what the planner would fix. ``compare(running,
observed)`` is the drift: the running config's render against the kernel, with the network names as
labels.

The drift monitor and the tests read these lines; the engine converges on the planner's own
``diff`` (``verify`` is its readable form).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields

from vdsm_net.engine.plan.planner import owned_links, reset_nic, verify
from vdsm_net.engine.render import render
from vdsm_net.model.desired import Pairs, RunningConfig
from vdsm_net.model.kernel import SOURCE_RULE_PRIORITY, KernelState, Link, Route, Rule
from vdsm_net.model.tc import by_key

_NO_LINK_FIELDS = frozenset({"name", "kind", "mac", "master", "bond_options", "bridge_opts"})


def compare(running: RunningConfig, observed: KernelState) -> list[str]:
    """The drift, one readable line per attribute, sorted; empty when the kernel matches."""
    labels = {net.top: net.name for net in running.networks.values() if net.top}
    return differences(render(running, observed), observed, labels)


def differences(
    target: KernelState, observed: KernelState, labels: Mapping[str, str] | None = None
) -> list[str]:
    """What differs on the managed scope, sorted; ``labels`` names a network's top device."""
    present: set[str] = set()
    out: list[str] = []
    for name in sorted(set(target.links) | owned_links(observed)):
        want, seen = target.links.get(name), observed.links.get(name)
        if seen is None:
            out.append(f"{name}: missing")
            continue
        present.add(name)
        if want is None:
            if seen.kind != "nic":
                out.append(f"{name}: unexpected {seen.kind} tagged {seen.tag!r}")
                continue
            want = reset_nic(seen)
        out += _link_drift(want, seen, observed)
    out += _ip_drift(target, observed, present, labels or {})
    out += _tc_drift(target, observed, present)
    if not out:  # the planner's view is the contract: never call "converged" what it would fix
        out = [f"plan: {line}" for line in verify(target, observed)]
    return sorted(out)


def _link_drift(want: Link, seen: Link, observed: KernelState) -> list[str]:
    name = want.name
    if want.kind != seen.kind:
        return [f"{name}.kind: desired {want.kind}, kernel {seen.kind}"]
    out: list[str] = []
    if want.master != seen.master:
        if seen.master is None and want.master is not None:
            if want.master in observed.links:  # else its own "missing" line says it
                out.append(f"{want.master}: port {name} detached")
        else:
            out.append(f"{name}.master: desired {want.master}, kernel {seen.master}")
    for f in fields(Link):
        if not f.compare or f.name in _NO_LINK_FIELDS:
            continue
        a, b = getattr(want, f.name), getattr(seen, f.name)
        if a != b:
            out.append(f"{name}.{_label(f.name)}: desired {_show(a)}, kernel {_show(b)}")
    if want.mac is not None and want.mac != seen.mac:
        out.append(f"{name}.mac: desired {want.mac}, kernel {seen.mac}")
    out += _pairs_drift(name, want.bond_options, seen.bond_options)
    out += _pairs_drift(name, want.bridge_opts, seen.bridge_opts)
    return out


def _label(field: str) -> str:
    return "state" if field == "up" else field


def _show(value: object) -> str:
    if isinstance(value, bool):
        return {True: "up", False: "down"}[value]
    return "none" if value is None else str(value)


def _pairs_drift(name: str, want: Pairs, seen: Pairs) -> list[str]:
    w, s = dict(want), dict(seen)
    return [
        f"{name}.{key}: desired {w.get(key, 'unset')}, kernel {s.get(key, 'unset')}"
        for key in sorted(set(w) | set(s))
        if w.get(key) != s.get(key)
    ]


def _ip_drift(
    target: KernelState, observed: KernelState, present: set[str], labels: Mapping[str, str]
) -> list[str]:
    out: list[str] = []

    def label(ifname: str) -> str:
        net = labels.get(ifname)
        return ifname if net is None else net if net == ifname else f"{net} ({ifname})"

    want_a = {a for a in target.addresses if a.ifname in present}
    seen_a = {a for a in observed.addresses if a.ifname in present}
    out += [f"{label(a.ifname)}: address {a.address} missing" for a in want_a - seen_a]
    out += [f"{label(a.ifname)}: address {a.address} unexpected" for a in seen_a - want_a]
    want_r = {r for r in target.routes if r.oif in present}
    seen_r = {r for r in observed.routes if r.oif in present}
    out += [f"{label(r.oif)}: {_route(r)} missing" for r in want_r - seen_r]
    out += [f"{label(r.oif)}: {_route(r)} unexpected" for r in seen_r - want_r]
    want_u = {r for r in target.rules if r.priority == SOURCE_RULE_PRIORITY}
    seen_u = {r for r in observed.rules if r.priority == SOURCE_RULE_PRIORITY}
    out += [f"{_rule(r)} missing" for r in want_u - seen_u]
    out += [f"{_rule(r)} unexpected" for r in seen_u - want_u]
    return out


def _tc_drift(target: KernelState, observed: KernelState, present: set[str]) -> list[str]:
    """Host QoS objects on present links: missing, unexpected, or different, per object."""
    want, seen = by_key(target.tc, present), by_key(observed.tc, present)
    out: list[str] = []
    for key in sorted(set(want) | set(seen)):
        w, s = want.get(key), seen.get(key)
        if s is None:
            out.append(f"{key[0]}: {w.describe() if w else key} missing")
        elif w is None:
            out.append(f"{key[0]}: {s.describe()} unexpected")
        elif w != s:
            out.append(f"{key[0]}: desired {w.describe()}, kernel {s.describe()}")
    return out


def _route(r: Route) -> str:
    via = f" via {r.gateway}" if r.gateway else ""
    return f"route {r.dst}{via} table {r.table}"


def _rule(r: Rule) -> str:
    sel = " ".join(f"{k} {v}" for k, v in (("from", r.src), ("to", r.dst)) if v)
    return f"rule {r.priority} {sel} table {r.table}".replace("  ", " ")
