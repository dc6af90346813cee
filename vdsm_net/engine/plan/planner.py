"""The planner: an ordered list of ops that turns the observed kernel into the target.

Pure and deterministic. ``diff(target, observed)`` plans for every link in the target and every
link the agent owns (tagged); ``diff(pre, now, scope=names)`` plans a revert limited to the named
links. A link that is neither managed nor named is never touched, nor its addresses and routes.

The planner never relies on a kernel side effect it cannot be sure of: before a link goes down
or loses its last IPv4 address it deletes the routes (and IPv6 addresses) the kernel would drop,
and adds them back afterwards. It tracks link state through the plan (``LinkProjection``) so that
each op is emitted only when it is still needed.
"""

from __future__ import annotations

from collections.abc import Iterable

from vdsm_net.engine.plan.ip import IpPlan
from vdsm_net.engine.plan.state import LinkProjection, evolve
from vdsm_net.engine.plan.tc import TcPlan
from vdsm_net.model.desired import DEFAULT_MTU
from vdsm_net.model.errors import ERR_BAD_BRIDGE, ERR_USED_BOND, ERR_USED_NIC, NetworkError
from vdsm_net.model.kernel import SOURCE_RULE_PRIORITY, TAG_PREFIX, KernelState, Link
from vdsm_net.model.ops import (
    CreateLink,
    DeleteLinks,
    Op,
    SetBondOptions,
    SetBridge,
    SetMac,
    SetMaster,
    SetMtu,
    SetTag,
    SetUp,
)

UPPER_FIRST: tuple[tuple[str, ...], ...] = (
    ("ovs-port",), ("bridge", "other", "ovs-bridge"), ("vlan",), ("bond",)
)
LOWER_FIRST: tuple[str, ...] = ("nic", "bond", "vlan", "bridge", "other", "ovs-bridge", "ovs-port")


def diff(
    target: KernelState, observed: KernelState, scope: frozenset[str] | None = None
) -> list[Op]:
    """The ops that make ``observed`` equal ``target`` on the managed scope, in order."""
    return _Planner(target, observed, scope, strict=scope is None).plan()


def verify(
    target: KernelState, observed: KernelState, scope: frozenset[str] | None = None
) -> list[str]:
    """What still differs between the target and the observed state; empty when converged."""
    return [op.describe() for op in _Planner(target, observed, scope, strict=False).plan()]


def explain(plan: list[Op]) -> str:
    return "\n".join(op.describe() for op in plan)


def touched(plan: Iterable[Op], observed: KernelState | None = None) -> frozenset[str]:
    """Every link the ops act on: the scope of a revert plan.

    Given the state the ops started from, it also counts the links the kernel changes as a side
    effect: the ports and VLANs of a deleted link, the ports and VLANs of a link whose MTU is set.
    """
    names: set[str] = set()
    for op in plan:
        names.update(op.links)
        if observed is not None and isinstance(op, DeleteLinks | SetMtu):
            for name in op.links:
                names |= _dependents(observed, name)
    return frozenset(names)


def _dependents(observed: KernelState, name: str) -> set[str]:
    out: set[str] = set()
    for other, link in observed.links.items():
        if link.master == name:
            out.add(other)
        elif link.vlan_base == name:
            out |= {other} | _dependents(observed, other)
    return out


def is_owned(link: Link) -> bool:
    return link.tag is not None and link.tag.startswith(TAG_PREFIX)


def owned_links(observed: KernelState) -> set[str]:
    """The links that carry our ownership tag: managed even when the target no longer names them."""
    return {n for n, link in observed.links.items() if is_owned(link)}


def reset_nic(seen: Link) -> Link:
    """What a NIC that leaves the managed config goes back to (a NIC is reset, never deleted)."""
    return seen.with_(master=None, mtu=DEFAULT_MTU, tag=None, up=True, mac=None)


def in_use_bridges(observed: KernelState, names: Iterable[str]) -> dict[str, list[str]]:
    """The named networks whose bridge has ports the agent does not own (VM taps), with those
    ports: a legacy network's own bridge, an OVS network's (internal port's) OVS bridge."""
    owned = owned_links(observed)
    ports = ports_by_master(observed)
    out: dict[str, list[str]] = {}
    for name in sorted(set(names)):
        link = observed.links.get(name)
        bridge = None
        if link is not None and link.kind == "bridge":
            bridge = name
        elif link is not None and link.kind == "ovs-port":
            bridge = link.master
        foreign = _foreign_ports(ports, bridge, owned) if bridge else []
        if foreign:
            out[name] = foreign
    return out


def ports_by_master(state: KernelState) -> dict[str, list[str]]:
    """``state.ports_of`` for every master at once (one pass instead of one per master)."""
    out: dict[str, list[str]] = {}
    for name, link in sorted(state.links.items()):
        if link.master is not None:
            out.setdefault(link.master, []).append(name)
    return out


def _foreign_ports(ports: dict[str, list[str]], master: str, managed: set[str]) -> list[str]:
    return [p for p in ports.get(master, ()) if p not in managed]


def recreate_reason(want: Link, seen: Link) -> str:
    """Why the kernel forces ``seen`` to be deleted and created again as ``want`` ('' if not)."""
    if want.kind == "nic":
        return ""
    if want.kind != seen.kind:
        return f"recreate: kind {seen.kind} -> {want.kind}"
    if want.kind == "ovs-port" and (want.vlan_id, want.master) != (seen.vlan_id, seen.master):
        return f"recreate: tag {seen.vlan_id} on {seen.master} -> {want.vlan_id} on {want.master}"
    if want.kind == "vlan":
        if want.vlan_id != seen.vlan_id:
            return f"recreate: vlan id {seen.vlan_id} -> {want.vlan_id}"
        if want.vlan_base != seen.vlan_base:
            return f"recreate: vlan base {seen.vlan_base} -> {want.vlan_base}"
    return ""


def _mode(link: Link) -> str | None:
    return dict(link.bond_options).get("mode")


class _Planner:
    """One plan: the managed links (the target's and the tagged ones, or a revert's scope),
    what is wanted of each, what must be deleted or created again, then the ops in the order
    the kernel accepts them (``plan``). ``strict`` refuses what the target may not take (a
    NIC as a bond; deleting, or changing the mode of, a bridge or bond that foreign links use);
    a revert is lenient."""

    def __init__(
        self, target: KernelState, observed: KernelState, scope: frozenset[str] | None,
        strict: bool,
    ) -> None:
        self.target = target
        self.observed = observed
        self.ports = ports_by_master(observed)
        self.strict = strict
        if scope is None:
            self.managed = set(target.links) | owned_links(observed)
        else:
            self.managed = set(scope)
        self.want = self._wanted_links()
        self.by_kind: dict[str, list[str]] = {}
        for name in sorted(self.want):
            self.by_kind.setdefault(self.want[name].kind, []).append(name)
        self.delete = self._deletions()
        self.create = sorted(
            n for n, w in self.want.items()
            if w.kind != "nic" and (n not in observed.links or n in self.delete)
        )
        self.mode_change = sorted(
            n for n, w in self.want.items()
            if w.kind == "bond" and n in observed.links and n not in self.delete
            and _mode(w) != _mode(observed.links[n])
        )
        if strict:
            self._check_in_use()
        self.state = LinkProjection(observed.links)

    # -- what is wanted -------------------------------------------------------------------

    def _wanted_links(self) -> dict[str, Link]:
        want: dict[str, Link] = {}
        for name in sorted(self.managed):
            t = self.target.links.get(name)
            o = self.observed.links.get(name)
            if t is None:
                if o is not None and o.kind == "nic":  # a NIC is reset, never deleted
                    want[name] = reset_nic(o)
                continue
            if t.kind == "nic" and o is None:  # vanished behind our back: nothing to configure
                continue
            if o is not None and o.kind == "nic" and t.kind != "nic":
                if self.strict:
                    raise NetworkError(ERR_USED_NIC, f"{name} is a NIC, it cannot be a {t.kind}")
                continue
            want[name] = t
        return want

    def _deletions(self) -> dict[str, str]:
        """Managed links to delete, with the reason when they are created again."""
        delete: dict[str, str] = {}
        for name in sorted(self.managed & set(self.observed.links)):
            seen = self.observed.links[name]
            want = self.want.get(name)
            if want is None:
                if seen.kind != "nic":
                    delete[name] = ""
            else:
                reason = recreate_reason(want, seen)
                if reason:
                    delete[name] = reason
        for name, seen in sorted(self.observed.links.items()):  # VLANs die with their base,
            base = seen.vlan_base if seen.kind != "ovs-port" else seen.master  # ports too
            if base in delete and name in self.managed and name not in delete:
                delete[name] = f"recreate: base {base} is recreated" if name in self.want else ""
        return delete

    def _check_in_use(self) -> None:
        for name in sorted(self.delete):
            seen = self.observed.links[name]
            foreign = _foreign_ports(self.ports, name, self.managed)
            if not foreign:
                continue
            users = ", ".join(foreign)
            if seen.kind in ("bridge", "ovs-bridge"):
                raise NetworkError(
                    ERR_BAD_BRIDGE, f"Cannot delete network {name}: bridge in use by {users}"
                )
            if seen.kind == "bond":
                raise NetworkError(ERR_USED_BOND, f"Cannot delete bond {name}: in use by {users}")
        for name in self.mode_change:
            foreign = _foreign_ports(self.ports, name, self.managed)
            if foreign:
                raise NetworkError(
                    ERR_USED_BOND,
                    f"Cannot change the mode of bond {name}: in use by {', '.join(foreign)}",
                )

    # -- the plan -------------------------------------------------------------------------

    def plan(self) -> list[Op]:
        self._release_ports()
        ip = IpPlan(
            self.target, self.observed, self.want, dead=set(self.delete),
            bounced=set(self.mode_change) | self._ports_to_bond(),
            rule_priority=SOURCE_RULE_PRIORITY,
        )
        tc = TcPlan(self.target.tc, self.observed.tc, set(self.want), dead=set(self.delete))
        self.state.extend(ip.removals())
        self.state.extend(tc.removals())
        self._bounce_mode_changes()
        self._delete_links()
        self._create(("bond",))
        self._configure(("bond",))
        self._enslave("bond")
        self._mtu(("bond", "nic"), raising=True)
        self._create(("vlan",))
        self._create(("bridge", "other", "ovs-bridge"))
        self._create(("ovs-port",))
        self._configure(("nic", "vlan", "bridge", "other", "ovs-port"))
        self._enslave("bridge")
        self._enslave("ovs-bridge")
        self._mtu(("vlan", "bridge"), raising=True)
        self._mtu(("bridge", "vlan", "bond", "nic"), raising=False)
        self._mtu(LOWER_FIRST, raising=None)
        self._tags()
        self._ups()
        self.state.extend(tc.additions())
        self.state.extend(ip.additions())
        return self.state.ops

    def _ports_to_bond(self) -> set[str]:
        out: set[str] = set()
        for name, w in self.want.items():
            master = self.want.get(w.master) if w.master else None
            seen = self.observed.links.get(name)
            if master is not None and master.kind == "bond" and seen is not None and (
                seen.master != w.master or w.master in self.delete or w.master in self.mode_change
            ):
                out.add(name)
        return out

    def _release_ports(self) -> None:
        for name in sorted(self.managed):
            cur = self.state.get(name)
            if cur is None or cur.master is None or name in self.delete:
                continue
            master = cur.master
            want = self.want.get(name)
            if master in self.delete:
                reason = f"{master} is deleted"
            elif master in self.mode_change:
                reason = f"{master}: mode change"
            elif want is None or want.master != master:
                reason = ""
            else:
                continue
            self.state.emit(SetMaster(name, None, reason=reason))

    def _bounce_mode_changes(self) -> None:
        for name in self.mode_change:
            old, new = _mode(self.observed.links[name]), _mode(self.want[name])
            reason = f"mode change {old} -> {new}"
            if self.state.links[name].up:
                self.state.emit(SetUp(name, False, reason=reason))
            self.state.emit(SetBondOptions(name, self.want[name].bond_options, reason=reason))

    def _delete_links(self) -> None:
        for kinds in UPPER_FIRST:
            names = [n for n in self.delete if self.observed.links[n].kind in kinds]
            gone = tuple(n for n in names if not self.delete[n] and n in self.state.links)
            if gone:
                self.state.emit(DeleteLinks(gone))
            for name in names:
                if self.delete[name] and name in self.state.links:
                    self.state.emit(DeleteLinks((name,), reason=self.delete[name]))

    def _create(self, kinds: tuple[str, ...]) -> None:
        for name in self.create:
            want = self.want[name]
            if want.kind in kinds:
                master = want.master if want.kind == "ovs-port" else None  # born on its bridge
                link = evolve(want, up=False, master=master)
                self.state.emit(CreateLink(link, reason=self.delete.get(name, "")))

    def _configure(self, kinds: tuple[str, ...]) -> None:
        for name in self._names(kinds):
            want = self.want[name]
            cur = self.state.get(name)
            if cur is None:
                continue
            if want.mac is not None and cur.mac != want.mac:
                self.state.emit(SetMac(name, want.mac))
            if (
                want.kind == "bond" and cur.kind == "bond"
                and cur.bond_options != want.bond_options
            ):
                self.state.emit(SetBondOptions(name, want.bond_options))
            if want.kind == "bridge" and (cur.stp, cur.bridge_opts) != (
                want.stp, want.bridge_opts
            ):
                self.state.emit(SetBridge(name, want.stp, want.bridge_opts))

    def _enslave(self, master_kind: str) -> None:
        for name in self._names(LOWER_FIRST):
            want = self.want[name]
            master = want.master
            cur = self.state.get(name)
            if master is None or cur is None or cur.master == master:
                continue
            ml = self.want.get(master) or self.state.get(master)
            if ml is None or ml.kind != master_kind:
                continue
            if cur.master is not None:
                self.state.emit(SetMaster(name, None))
            if master_kind == "bond" and self.state.links[name].up:
                self.state.emit(SetUp(name, False, reason=f"enslave to bond {master}"))
            self.state.emit(SetMaster(name, master))

    def _names(self, kinds: Iterable[str]) -> list[str]:
        """Wanted link names, kind by kind in the given order, by name within a kind."""
        return [name for kind in kinds for name in self.by_kind.get(kind, ())]

    def _mtu(self, kinds: tuple[str, ...], raising: bool | None) -> None:
        """Set MTUs kind by kind: only raises, only lowerings, or (None) whatever is left."""
        for name in self._names(kinds):
            want = self.want[name]
            cur = self.state.get(name)
            if cur is None or cur.mtu == want.mtu:
                continue
            if raising is None or raising == (want.mtu > cur.mtu):
                self.state.emit(SetMtu(name, want.mtu))

    def _tags(self) -> None:
        for name in self._names(LOWER_FIRST):
            want = self.want[name]
            cur = self.state.get(name)
            if cur is not None and cur.tag != want.tag:
                self.state.emit(SetTag(name, want.tag))

    def _ups(self) -> None:
        for name in self._names(LOWER_FIRST):
            want = self.want[name]
            cur = self.state.get(name)
            if cur is not None and cur.up != want.up:
                self.state.emit(SetUp(name, want.up))
