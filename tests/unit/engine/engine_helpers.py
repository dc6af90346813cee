"""Shared helpers for the engine tests: apply a config to a simulated kernel and compare."""

from __future__ import annotations

from vdsm_net.backends.memory import MemoryKernel
from vdsm_net.engine.plan.planner import diff
from vdsm_net.engine.render import render
from vdsm_net.model.desired import RunningConfig
from vdsm_net.model.kernel import SOURCE_RULE_PRIORITY, KernelState, Link
from vdsm_net.model.ops import Op


def apply_all(kernel: MemoryKernel, plan: list[Op]) -> None:
    for op in plan:
        kernel.apply(op)


def converge(kernel: MemoryKernel, config: RunningConfig) -> list[Op]:
    """Plan the config against the kernel and apply it; return the plan."""
    observed = kernel.observe()
    plan = diff(render(config, observed), observed)
    apply_all(kernel, plan)
    return plan


def _comparable(want: Link, seen: Link) -> Link:
    return seen if want.mac is not None else seen.with_(mac=None)


def mismatches(target: KernelState, observed: KernelState) -> list[str]:
    """Field-by-field differences on the target's links, their addresses and routes, and the
    source-routing rules. Independent of the planner."""
    out: list[str] = []
    for name, want in target.links.items():
        seen = observed.links.get(name)
        if seen is None:
            out.append(f"missing link {name}")
        elif _comparable(want, seen) != want:
            out.append(f"link {name}: want {want}, seen {seen}")
    names = set(target.links)
    seen_addr = {a for a in observed.addresses if a.ifname in names}
    if seen_addr != target.addresses:
        out.append(f"addresses: want {sorted(target.addresses)}, seen {sorted(seen_addr)}")
    seen_routes = {r for r in observed.routes if r.oif in names}
    if seen_routes != target.routes:
        out.append(f"routes: want {sorted(target.routes, key=str)}, seen "
                   f"{sorted(seen_routes, key=str)}")
    seen_rules = {r for r in observed.rules if r.priority == SOURCE_RULE_PRIORITY}
    if seen_rules != target.rules:
        out.append(f"rules: want {target.rules}, seen {seen_rules}")
    return out


def foreign_part(state: KernelState, names: set[str]) -> tuple[object, ...]:
    """Everything on the named (foreign) links, and the other rules: must never change."""
    links = {n: (lk, lk.mac, lk.index) for n, lk in state.links.items() if n in names}
    return (
        links,
        sorted(a for a in state.addresses if a.ifname in names),
        sorted((r for r in state.routes if r.oif in names), key=str),
        sorted((r for r in state.rules if r.priority != SOURCE_RULE_PRIORITY), key=str),
    )
