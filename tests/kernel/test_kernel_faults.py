"""Fault injection on the real kernel (issue 3, item 5): for a sample of plans across the parity
scenarios, the k-th write fails (first, middle and last op of the plan) and the kernel must be
back to the exact pre-call state, and the engine's running config unchanged."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from tests.common.parity_runner import MemoryWorld
from tests.common.parity_scenarios import QOS_SCENARIOS, SCENARIOS, Scenario
from tests.kernel.conftest import NetlinkWorld
from vdsm_net.backends.base import Backend, NicFacts
from vdsm_net.engine.engine import Engine
from vdsm_net.model.errors import KernelError, NetworkError
from vdsm_net.model.kernel import KernelState
from vdsm_net.model.ops import Op

SAMPLE = (
    "bridged_vlan_on_bond",
    "bond_modes_options_slaves",
    "vlan_moves_tag_and_bridged_toggles",
    "jumbo_bond_vlan_bridge",
    "static_v4_v6_default_route_and_source_routing",
    "nicless_bridge_opts_and_stp",
    "port_removed_behind_our_back",
    "host_qos_vlans_bond_change_remove",
)
MIN_FAILURE_POINTS = 20


class FailAt:
    """A test-only proxy: the ``k``-th apply (0-based) raises ``KernelError`` before it reaches
    the kernel; every other call goes through. One shot."""

    def __init__(self, inner: Backend, k: int) -> None:
        self.inner = inner
        self.k = k
        self.calls = 0
        self.fired: Op | None = None

    def observe(self, stats: bool = True) -> KernelState:
        return self.inner.observe(stats)

    def nic_facts(self, name: str) -> NicFacts:
        return self.inner.nic_facts(name)

    def apply(self, op: Op) -> None:
        call = self.calls
        self.calls += 1
        if call == self.k and self.fired is None:
            self.fired = op
            raise KernelError(op.kind, f"injected fault at write {call}")
        self.inner.apply(op)


def snapshot(state: KernelState, forced: set[str]) -> dict[str, Any]:
    """Everything observed, compared fields only; MACs of NICs and forced MACs kept (the
    kernel picks the others at random when a link is created again)."""
    links = {}
    for name, link in state.links.items():
        fields = {f.name: getattr(link, f.name) for f in dataclasses.fields(link) if f.compare}
        if link.kind != "nic" and name not in forced:
            fields.pop("mac")
        links[name] = fields
    return {
        "links": links,
        "addresses": sorted(state.addresses),
        "routes": sorted(state.routes, key=str),
        "rules": sorted(state.rules, key=str),
        "tc": sorted(o.describe() for o in state.tc),
    }


def fault_points(length: int) -> list[int]:
    return sorted({0, length // 2, length - 1}) if length else []


@pytest.mark.parametrize("name", SAMPLE)
def test_fault_at_k_restores_the_pre_call_state(real: NetlinkWorld, name: str) -> None:
    scenario: Scenario = next(s for s in (*SCENARIOS, *QOS_SCENARIOS) if s.name == name)
    engine = Engine(real.backend)
    for i, step in enumerate(scenario.steps):
        for action in step.before:
            real.foreign(action)
        if step.error is None:
            forced = {b.name for b in engine.running.bonds.values() if b.hwaddr}
            pre = snapshot(real.backend.observe(), forced)
            running = engine.running
            plan = engine.plan(*step.request())
            for k in fault_points(len(plan)):
                proxy = FailAt(real.backend, k)
                engine.backend = proxy
                try:
                    with pytest.raises(KernelError, match="injected fault"):
                        engine.setup(*step.request())
                finally:
                    engine.backend = real.backend
                assert proxy.fired is not None
                where = f"step {i}, fault at {k}/{len(plan)} ({proxy.fired.describe()})"
                assert snapshot(real.backend.observe(), forced) == pre, where
                assert engine.running is running, where
        try:
            engine.setup(*step.request())
        except Exception as exc:  # an error step: the parity suite checks it in detail
            assert step.error is not None and getattr(exc, "code", None) == step.error


def test_the_sample_has_enough_failure_points() -> None:
    """The sample's plans offer at least MIN_FAILURE_POINTS fault points. Counted by playing the
    sample on the simulated kernel (the parity suite holds it to the real one), so this test
    depends on no other test having run first."""
    points = 0
    for name in SAMPLE:
        scenario = next(s for s in (*SCENARIOS, *QOS_SCENARIOS) if s.name == name)
        world = MemoryWorld()
        engine = Engine(world.backend)
        for step in scenario.steps:
            for action in step.before:
                world.foreign(action)
            if step.error is None:
                points += len(fault_points(len(engine.plan(*step.request()))))
            try:
                engine.setup(*step.request())
            except NetworkError:
                assert step.error is not None
    assert points >= MIN_FAILURE_POINTS, points
