"""The drift compare on the simulated kernel: one readable line per attribute, the managed scope
only, and always in agreement with the planner (drift iff the planner would change something)."""

from __future__ import annotations

import pytest

from vdsm_net.drift.monitor import scope_of
from vdsm_net.engine.compare import compare
from vdsm_net.engine.engine import Engine
from vdsm_net.engine.plan.planner import verify
from vdsm_net.engine.render import render
from vdsm_net.model.kernel import Address, Link
from vdsm_net.model.ops import (
    CreateLink,
    DelAddress,
    DeleteLinks,
    Op,
    SetBondOptions,
    SetMaster,
    SetMtu,
    SetTag,
    SetUp,
)

from .drift_helpers import configured


def drift_after(*ops: Op) -> tuple[list[str], Engine]:
    engine, kernel = configured()
    for op in ops:
        kernel.apply(op)
    return compare(engine.running, kernel.observe()), engine


def test_converged_kernel_has_no_drift() -> None:
    engine, kernel = configured()
    assert compare(engine.running, kernel.observe()) == []


def test_mtu_change_is_one_line_with_both_values() -> None:
    drift, _ = drift_after(SetMtu("net1", 1500))
    assert drift == ["net1.mtu: desired 9000, kernel 1500"]


def test_address_removal_names_the_network() -> None:
    drift, _ = drift_after(DelAddress(Address("eth0", "198.51.100.5/24")))
    assert "mgmt (eth0): address 198.51.100.5/24 missing" in drift
    # the kernel drops the IPv4 routes with the last IPv4 address: reported, nothing else
    assert all(line.startswith("mgmt (eth0): ") for line in drift)


def test_address_on_a_bridge_is_labelled_by_its_network() -> None:
    drift, _ = drift_after(DelAddress(Address("data", "192.0.2.10/24")))
    assert "data: address 192.0.2.10/24 missing" in drift


def test_port_detach_is_reported_on_its_master() -> None:
    drift, _ = drift_after(SetMaster("eth1", None))
    assert "bond0: port eth1 detached" in drift


def test_deleted_owned_bridge_is_missing_without_port_noise() -> None:
    drift, _ = drift_after(DeleteLinks(("net1",)))
    assert drift == ["net1: missing"]


def test_link_down_and_tag_change() -> None:
    drift, _ = drift_after(SetUp("net1", False), SetTag("bond0.100", None))
    assert "net1.state: desired up, kernel down" in drift
    assert "bond0.100.tag: desired vdsm-net:net=data, kernel none" in drift


def test_bond_option_change_is_reported_per_option() -> None:
    engine, kernel = configured()
    opts = tuple(
        (k, "200" if k == "miimon" else v) for k, v in kernel.observe().links["bond0"].bond_options
    )
    kernel.apply(SetBondOptions("bond0", opts))
    assert compare(engine.running, kernel.observe()) == ["bond0.miimon: desired 150, kernel 200"]


def test_unowned_links_are_never_looked_at() -> None:
    engine, kernel = configured()
    kernel.add_foreign_link("tap0")
    kernel.add_foreign_link("vnet0", master="net1")  # a VM on our bridge is fine too
    kernel.apply(SetMtu("tap0", 1400))
    kernel.add_address(Address("tap0", "203.0.113.1/24"))
    assert compare(engine.running, kernel.observe()) == []


def test_leftover_owned_link_is_unexpected() -> None:
    engine, kernel = configured()
    kernel.apply(CreateLink(Link("old", "bridge", tag="vdsm-net:net=old")))
    assert compare(engine.running, kernel.observe()) == [
        "old: unexpected bridge tagged 'vdsm-net:net=old'"
    ]


PERTURBATIONS: list[list[Op]] = [
    [SetMtu("net1", 1500)],
    [DelAddress(Address("eth0", "198.51.100.5/24"))],
    [SetMaster("eth1", None)],
    [SetMaster("eth3", None)],
    [DeleteLinks(("net1",))],
    [DeleteLinks(("data",))],
    [DeleteLinks(("bond0",))],
    [SetUp("eth2", False), SetUp("data", False)],
    [CreateLink(Link("old", "bridge", tag="vdsm-net:net=old"))],
]


@pytest.mark.parametrize("ops", PERTURBATIONS, ids=lambda ops: ops[0].describe())
def test_drift_agrees_with_the_planner_and_reconcile_clears_it(ops: list[Op]) -> None:
    drift, engine = drift_after(*ops)
    observed = engine.backend.observe()
    assert drift and verify(render(engine.running, observed), observed)
    result = engine.reconcile()
    assert result.changed and result.writes > 0 and not result.committed
    after = engine.backend.observe()
    assert compare(engine.running, after) == []
    assert verify(render(engine.running, after), after) == []


def test_scope_is_what_the_running_config_names() -> None:
    engine, _ = configured()
    assert scope_of(engine.running) == {
        "bond0", "eth1", "eth2", "bond0.100", "data", "eth0", "eth3", "net1"
    }
