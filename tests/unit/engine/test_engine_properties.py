"""Properties of render + diff + the simulated kernel over random valid configs."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.engine.engine_helpers import apply_all, converge, foreign_part
from tests.unit.engine.strategies import FOREIGN_LINK, nic_sets, running_configs, seed_foreign
from vdsm_net.backends.memory.kernel import MemoryKernel
from vdsm_net.engine.compare import differences
from vdsm_net.engine.plan.planner import diff, is_owned, touched
from vdsm_net.engine.render import render
from vdsm_net.model.desired import RunningConfig
from vdsm_net.model.errors import KernelError
from vdsm_net.model.ops import Op


@st.composite
def kernel_and_configs(draw: st.DrawFn) -> tuple[list[str], RunningConfig, RunningConfig]:
    nics = draw(nic_sets())
    return nics, draw(running_configs(nics)), draw(running_configs(nics))


def fresh(nics: list[str]) -> MemoryKernel:
    kernel = MemoryKernel(nics)
    seed_foreign(kernel)
    return kernel


def foreign_names(nics: list[str], *configs: RunningConfig) -> set[str]:
    used = {n for c in configs for n in render(c, MemoryKernel().observe()).links}
    return {FOREIGN_LINK} | (set(nics) - used)


def owned_names(kernel: MemoryKernel) -> set[str]:
    return {n for n, link in kernel.observe().links.items() if is_owned(link)}


@given(kernel_and_configs())
def test_apply_converges_and_replans_empty(case: tuple[list[str], RunningConfig, object]) -> None:
    nics, config, _ = case
    kernel = fresh(nics)
    foreign = foreign_names(nics, config)
    before = foreign_part(kernel.observe(), foreign)
    converge(kernel, config)
    observed = kernel.observe()
    target = render(config, observed)
    assert differences(target, observed) == []
    assert owned_names(kernel) == set(target.links)
    writes = kernel.writes
    assert diff(target, observed) == []
    assert converge(kernel, config) == []
    assert kernel.writes == writes
    assert foreign_part(kernel.observe(), foreign) == before


@given(kernel_and_configs())
def test_move_from_a_to_b(case: tuple[list[str], RunningConfig, RunningConfig]) -> None:
    nics, config_a, config_b = case
    kernel = fresh(nics)
    foreign = foreign_names(nics, config_a, config_b)
    before = foreign_part(kernel.observe(), foreign)
    converge(kernel, config_a)
    converge(kernel, config_b)
    observed = kernel.observe()
    target = render(config_b, observed)
    assert differences(target, observed) == []
    assert owned_names(kernel) == set(target.links)
    assert diff(target, observed) == []
    assert foreign_part(observed, foreign) == before
    unused = set(nics) - set(target.links)
    for nic in unused & set(render(config_a, observed).links):
        link = observed.links[nic]  # a NIC the agent no longer uses is reset, not deleted
        assert (link.master, link.mtu, link.tag, link.up) == (None, 1500, None, True)
        assert observed.addresses_of(nic) == []


@settings(max_examples=40)
@given(kernel_and_configs())
def test_fault_at_every_write_then_revert_restores(
    case: tuple[list[str], RunningConfig, RunningConfig],
) -> None:
    nics, config_a, config_b = case
    base = fresh(nics)
    converge(base, config_a)
    pre = base.observe()
    plan = diff(render(config_b, pre), pre)
    for k in range(len(plan)):
        kernel = base.clone()
        kernel.fail_at = k
        attempted: list[Op] = []
        with pytest.raises(KernelError, match="injected fault"):
            for op in plan:
                attempted.append(op)
                kernel.apply(op)
        assert len(attempted) == k + 1
        revert = diff(pre, kernel.observe(), scope=touched(attempted, pre))
        apply_all(kernel, revert)
        assert kernel.observe() == pre, f"fault at {k}: {attempted[-1].describe()}"
