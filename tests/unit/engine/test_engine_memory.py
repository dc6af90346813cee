"""The simulated kernel: each rule it enforces, its side effects, fault injection, write count."""

from __future__ import annotations

import pytest

from vdsm_net.backends.memory.kernel import MemoryKernel
from vdsm_net.model.errors import KernelError
from vdsm_net.model.kernel import Address, Link, Route, Rule
from vdsm_net.model.ops import (
    AddAddress,
    AddRoute,
    AddRule,
    CreateLink,
    DelAddress,
    DeleteLinks,
    DelRoute,
    DelRule,
    SetBondOptions,
    SetMaster,
    SetMtu,
    SetUp,
)

BOND = Link("bond0", "bond", bond_options=(("mode", "4"),))


def kernel() -> MemoryKernel:
    return MemoryKernel(["eth0", "eth1"])


def vlan(name: str = "eth0.10", base: str = "eth0", vid: int = 10, mtu: int = 1500) -> Link:
    return Link(name, "vlan", mtu=mtu, vlan_id=vid, vlan_base=base)


def test_nics_start_down_with_a_mac() -> None:
    links = kernel().observe().links
    assert set(links) == {"eth0", "eth1"}
    assert not links["eth0"].up and links["eth0"].mac and links["eth0"].mac != links["eth1"].mac


@pytest.mark.parametrize("name", ["a" * 16, "", "a b"])
def test_bad_names_fail(name: str) -> None:
    with pytest.raises(KernelError, match="invalid link name"):
        kernel().apply(CreateLink(Link(name, "bridge")))


def test_names_unique_and_nics_cannot_be_created_or_deleted() -> None:
    k = kernel()
    k.apply(CreateLink(Link("br0", "bridge")))
    with pytest.raises(KernelError, match="exists"):
        k.apply(CreateLink(Link("br0", "bridge")))
    with pytest.raises(KernelError, match="kind nic"):
        k.apply(CreateLink(Link("eth9", "nic")))
    with pytest.raises(KernelError, match="not a virtual link"):
        k.apply(DeleteLinks(("br0", "eth0")))
    assert "br0" in k.observe().links  # the failed bulk delete changed nothing


def test_one_master_per_port() -> None:
    k = kernel()
    k.apply(CreateLink(Link("br0", "bridge")))
    k.apply(CreateLink(Link("br1", "bridge")))
    k.apply(SetMaster("eth0", "br0"))
    with pytest.raises(KernelError, match="already has master br0"):
        k.apply(SetMaster("eth0", "br1"))


def test_bond_port_must_be_down_then_is_opened_with_the_bond_mtu() -> None:
    k = kernel()
    k.apply(CreateLink(BOND.with_(mtu=9000)))
    k.apply(SetUp("eth0"))
    with pytest.raises(KernelError, match="must be down"):
        k.apply(SetMaster("eth0", "bond0"))
    k.apply(SetUp("eth0", False))
    k.apply(SetMaster("eth0", "bond0"))
    port = k.observe().links["eth0"]
    assert (port.master, port.mtu, port.up) == ("bond0", 9000, True)
    k.apply(SetMtu("bond0", 2000))
    assert k.observe().links["eth0"].mtu == 2000
    k.apply(SetMaster("eth0", None))  # as 6.1: closed, back to its MTU from before the bond
    port = k.observe().links["eth0"]
    assert (port.mtu, port.master, port.up) == (1500, None, False)


def test_vlan_needs_its_base_and_dies_with_it() -> None:
    k = kernel()
    with pytest.raises(KernelError, match="no link bond0"):
        k.apply(CreateLink(vlan("bond0.10", "bond0")))
    k.apply(CreateLink(BOND))
    k.apply(CreateLink(vlan("bond0.10", "bond0")))
    with pytest.raises(KernelError, match="VLAN id 10 exists"):
        k.apply(CreateLink(vlan("v10", "bond0")))
    k.apply(SetUp("bond0.10"))
    k.apply(AddAddress(Address("bond0.10", "10.0.0.1/24")))
    k.apply(DeleteLinks(("bond0",)))
    state = k.observe()
    assert "bond0.10" not in state.links and not state.addresses


def test_vlan_mtu_bounded_by_base_and_clamped_when_base_lowers() -> None:
    k = kernel()
    with pytest.raises(KernelError, match="base MTU 1500"):
        k.apply(CreateLink(vlan(mtu=9000)))
    k.apply(SetMtu("eth0", 9000))
    k.apply(CreateLink(vlan(mtu=9000)))
    with pytest.raises(KernelError, match="base MTU 9000"):
        k.apply(SetMtu("eth0.10", 9001))
    k.apply(SetMtu("eth0", 2000))
    assert k.observe().links["eth0.10"].mtu == 2000


def test_bond_mode_change_needs_down_and_portless() -> None:
    k = kernel()
    k.apply(CreateLink(BOND))
    k.apply(SetMaster("eth0", "bond0"))
    with pytest.raises(KernelError, match="mode change"):
        k.apply(SetBondOptions("bond0", (("mode", "1"),)))
    k.apply(SetBondOptions("bond0", (("mode", "4"), ("miimon", "100"))))  # same mode: fine
    k.apply(SetMaster("eth0", None))
    k.apply(SetUp("bond0"))
    with pytest.raises(KernelError, match="mode change"):
        k.apply(SetBondOptions("bond0", (("mode", "1"),)))
    k.apply(SetUp("bond0", False))
    k.apply(SetBondOptions("bond0", (("mode", "1"),)))
    assert k.observe().links["bond0"].bond_options == (("mode", "1"),)


def test_addresses_routes_rules_unique_and_need_their_link() -> None:
    k = kernel()
    with pytest.raises(KernelError, match="no link eth7"):
        k.apply(AddAddress(Address("eth7", "10.0.0.1/24")))
    k.apply(AddAddress(Address("eth0", "10.0.0.1/24")))
    with pytest.raises(KernelError, match="exists"):
        k.apply(AddAddress(Address("eth0", "10.0.0.1/24")))
    route = Route("0.0.0.0/0", "eth0", "10.0.0.254")
    with pytest.raises(KernelError, match="network is down"):
        k.apply(AddRoute(route))
    k.apply(SetUp("eth0"))
    with pytest.raises(KernelError, match="unreachable"):
        k.apply(AddRoute(Route("0.0.0.0/0", "eth0", "10.9.0.1")))
    k.apply(AddRoute(route))
    with pytest.raises(KernelError, match="route exists"):
        k.apply(AddRoute(route))
    k.apply(AddRule(Rule(3200, 7, src="10.0.0.0/24")))
    with pytest.raises(KernelError, match="exists"):
        k.apply(AddRule(Rule(3200, 7, src="10.0.0.0/24")))
    k.apply(DelRule(Rule(3200, 7, src="10.0.0.0/24")))
    with pytest.raises(KernelError, match="no rule"):
        k.apply(DelRule(Rule(3200, 7, src="10.0.0.0/24")))
    k.apply(DelRoute(route))
    assert not k.observe().routes and not k.observe().rules


def test_gateway_reachable_through_a_link_route_in_its_table() -> None:
    k = kernel()
    k.apply(SetUp("eth0"))
    k.apply(AddRoute(Route("10.5.0.0/16", "eth0", None, 99, scope_link=True)))
    k.apply(AddRoute(Route("0.0.0.0/0", "eth0", "10.5.0.1", 99)))
    assert len(k.observe().routes) == 2


def test_down_drops_routes_and_ipv6_addresses() -> None:
    k = kernel()
    k.apply(SetUp("eth0"))
    k.apply(AddAddress(Address("eth0", "10.0.0.1/24")))
    k.apply(AddAddress(Address("eth0", "fd00::1/64")))
    k.apply(AddRoute(Route("0.0.0.0/0", "eth0", "10.0.0.254")))
    k.apply(SetUp("eth0", False))
    state = k.observe()
    assert state.addresses == {Address("eth0", "10.0.0.1/24")} and not state.routes


def test_deleting_the_last_ipv4_address_drops_ipv4_routes() -> None:
    k = kernel()
    k.apply(SetUp("eth0"))
    k.apply(AddAddress(Address("eth0", "10.0.0.1/24")))
    k.apply(AddAddress(Address("eth0", "fd00::1/64")))
    k.apply(AddRoute(Route("0.0.0.0/0", "eth0", "10.0.0.254")))
    k.apply(AddRoute(Route("::/0", "eth0", "fd00::fe")))
    k.apply(DelAddress(Address("eth0", "10.0.0.1/24")))
    assert k.observe().routes == {Route("::/0", "eth0", "fd00::fe")}


def test_deleting_a_bridge_releases_ports_and_drops_its_ip() -> None:
    k = kernel()
    k.apply(CreateLink(Link("br0", "bridge")))
    k.add_foreign_link("tap0", master="br0")
    k.apply(SetMaster("eth0", "br0"))
    k.apply(SetUp("br0"))
    k.apply(AddAddress(Address("br0", "10.0.0.1/24")))
    k.apply(AddRoute(Route("0.0.0.0/0", "br0", "10.0.0.254")))
    k.apply(DeleteLinks(("br0",)))
    state = k.observe()
    assert state.links["eth0"].master is None and state.links["tap0"].master is None
    assert not state.addresses and not state.routes


def test_fault_injection_fails_the_kth_write_once_and_changes_nothing() -> None:
    k = kernel()
    k.apply(CreateLink(Link("br0", "bridge")))
    assert k.writes == 1
    k.fail_at = 1
    k.apply(CreateLink(Link("br1", "bridge")))
    before = k.observe()
    with pytest.raises(KernelError, match="injected fault at write 1"):
        k.apply(DeleteLinks(("br0", "br1")))
    assert k.observe() == before and k.writes == 2 and k.fail_at is None
    k.apply(DeleteLinks(("br0", "br1")))
    assert k.writes == 3 and set(k.observe().links) == {"eth0", "eth1"}


def test_failed_op_is_not_a_write() -> None:
    k = kernel()
    with pytest.raises(KernelError):
        k.apply(SetMtu("nope", 1500))
    assert k.writes == 0


def test_clone_is_independent() -> None:
    k = kernel()
    c = k.clone()
    c.apply(CreateLink(Link("br0", "bridge")))
    assert "br0" not in k.observe().links and k.writes == 0


def test_nic_facts() -> None:
    k = kernel()
    assert k.nic_facts("eth0").duplex == "full"
    with pytest.raises(KernelError):
        k.nic_facts("bond0")
