"""Parity (issue 3, item 4): each scenario runs through an Engine on the netlink backend in a fresh
namespace and on the simulated kernel with the same NICs; after every step both behave as the
step specifies, a second plan is empty on both, and their observed states are equal modulo
ifindex and random MACs."""

from __future__ import annotations

import pytest

from tests.common.parity_runner import MemoryWorld, differences, normalize, run_on_both
from tests.common.parity_scenarios import SCENARIOS, Scenario, params
from tests.kernel.conftest import NetlinkWorld
from vdsm_net.backends.base import Backend
from vdsm_net.engine.engine import Engine
from vdsm_net.model import ops as o
from vdsm_net.model.kernel import Link


def test_both_worlds_start_equal(real: NetlinkWorld) -> None:
    sim = MemoryWorld()
    scenario = SCENARIOS[0]
    a = normalize(real.backend.observe(), scenario, Engine(real.backend))
    b = normalize(sim.backend.observe(), scenario, Engine(sim.backend))
    assert differences(a, b, ("kernel", "sim")) == []


@pytest.mark.parametrize("scenario", params())
def test_parity(real: NetlinkWorld, scenario: Scenario) -> None:
    run_on_both(real, scenario)


def _release_story(backend: Backend) -> list[tuple[int, bool, str | None]]:
    """Enslave a 1500 NIC to a 9000 bond, lower the bond to 2000, release it, enslave it again
    and delete the bond: the port's (mtu, up, master) after each step."""
    seen: list[tuple[int, bool, str | None]] = []

    def record() -> None:
        port = backend.observe().links["dummy_0"]
        seen.append((port.mtu, port.up, port.master))

    backend.apply(o.CreateLink(Link("bond0", "bond", mtu=9000, bond_options=(("mode", "1"),))))
    backend.apply(o.SetMaster("dummy_0", "bond0"))
    record()
    backend.apply(o.SetMtu("bond0", 2000))
    record()
    backend.apply(o.SetMaster("dummy_0", None))
    record()
    backend.apply(o.SetMtu("dummy_0", 1600))
    backend.apply(o.SetMaster("dummy_0", "bond0"))
    backend.apply(o.DeleteLinks(("bond0",)))
    record()
    return seen


def test_bond_port_release_side_effects_match(real: NetlinkWorld) -> None:
    """The bonding driver opens a port and gives it the bond's MTU; releasing it (or deleting
    the bond) closes it and restores the MTU it had when enslaved. The simulated kernel too."""
    expected = [(9000, True, "bond0"), (2000, True, "bond0"), (1500, False, None),
                (1600, False, None)]
    assert _release_story(real.backend) == expected
    assert _release_story(MemoryWorld().backend) == expected
