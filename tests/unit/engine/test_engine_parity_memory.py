"""The parity scenarios on the simulated kernel alone: every step behaves as specified (outcome,
expectations, idempotence), so the unit tier proves them without a real kernel. The kernel
tier runs the same list on both backends and compares them."""

from __future__ import annotations

import pytest

from tests.common.parity_ovs import ovs_params
from tests.common.parity_runner import MemoryWorld, normalize, run_step
from tests.common.parity_scenarios import SCENARIOS, Scenario, params
from vdsm_net.engine.engine import Engine


@pytest.mark.parametrize("scenario", [*params(), *ovs_params()])
def test_scenario_on_the_simulated_kernel(scenario: Scenario) -> None:
    world = MemoryWorld()
    engine = Engine(world.backend)
    for i, step in enumerate(scenario.steps):
        assert run_step(world, engine, scenario, step) == [], f"step {i}"


def test_a_failed_expectation_is_reported() -> None:
    # the runner must be able to fail: a wrong expectation on a real scenario shows up
    from dataclasses import replace

    from tests.common.parity_scenarios import Expect

    scenario = SCENARIOS[0]
    wrong = replace(scenario.steps[0], expect=(Expect("impossible", lambda s: False),))
    world = MemoryWorld()
    assert run_step(world, Engine(world.backend), scenario, wrong) == ["expected: impossible"]


def test_normalize_ignores_random_macs_but_not_forced_ones() -> None:
    a, b = MemoryWorld(), MemoryWorld()
    ea, eb = Engine(a.backend), Engine(b.backend)
    scenario = next(s for s in SCENARIOS if s.name == "bond_forced_hwaddr")
    run_step(a, ea, scenario, scenario.steps[0])
    run_step(b, eb, scenario, scenario.steps[0])
    na = normalize(a.backend.observe(), scenario, ea)
    assert "mac" in na["links"]["bond0"] and "mac" not in na["links"]["dummy_0"]
    assert na == normalize(b.backend.observe(), scenario, eb)
