"""Shared helpers for the engine tests: apply a config to a simulated kernel."""

from __future__ import annotations

from vdsm_net.backends.memory.kernel import MemoryKernel
from vdsm_net.engine.plan.planner import diff
from vdsm_net.engine.render import render
from vdsm_net.model.desired import RunningConfig
from vdsm_net.model.kernel import SOURCE_RULE_PRIORITY, KernelState
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


def foreign_part(state: KernelState, names: set[str]) -> tuple[object, ...]:
    """Everything on the named (foreign) links, and the other rules: must never change."""
    links = {n: (lk, lk.mac, lk.index) for n, lk in state.links.items() if n in names}
    return (
        links,
        sorted(a for a in state.addresses if a.ifname in names),
        sorted((r for r in state.routes if r.oif in names), key=str),
        sorted((r for r in state.rules if r.priority != SOURCE_RULE_PRIORITY), key=str),
    )
