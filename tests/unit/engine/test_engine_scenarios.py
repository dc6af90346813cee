"""vdsm functional scenarios (vdsm-wire §5.3) that need no real kernel, on the simulated one."""

from __future__ import annotations

from dataclasses import replace

from tests.unit.engine.engine_helpers import converge
from vdsm_net.backends.memory.kernel import MemoryKernel
from vdsm_net.engine.compare import differences
from vdsm_net.engine.plan.planner import diff
from vdsm_net.engine.render import render
from vdsm_net.model.desired import Bond, Network, RunningConfig
from vdsm_net.model.kernel import Address, KernelState, Route
from vdsm_net.model.ops import CreateLink, DeleteLinks, Op, SetMtu

NICS = ["eth0", "eth1", "eth2"]


def cfg(*nets: Network, bonds: tuple[Bond, ...] = ()) -> RunningConfig:
    return RunningConfig(networks={n.name: n for n in nets}, bonds={b.name: b for b in bonds})


def setup(kernel: MemoryKernel, config: RunningConfig) -> tuple[list[Op], KernelState]:
    plan = converge(kernel, config)
    state = kernel.observe()
    assert differences(render(config, state), state) == []
    assert diff(render(config, state), state) == []
    return plan, state


def test_move_vlan_from_one_nic_to_another() -> None:  # 15
    k = MemoryKernel(NICS)
    setup(k, cfg(Network("red", nic="eth0", vlan=100)))
    plan, state = setup(k, cfg(Network("red", nic="eth1", vlan=100)))
    assert "eth0.100" not in state.links and state.links["eth1.100"].master == "red"
    assert state.links["eth0"].tag is None  # the old NIC is released
    assert DeleteLinks(("eth0.100",)) in plan  # a new name: deleted and created, no recreate


def test_change_vlan_tag_bridged_and_bridgeless() -> None:  # 4
    for bridged in (True, False):
        k = MemoryKernel(NICS)
        setup(k, cfg(Network("red", nic="eth0", vlan=101, bridged=bridged)))
        plan, state = setup(k, cfg(Network("red", nic="eth0", vlan=102, bridged=bridged)))
        assert state.links["eth0.102"].vlan_id == 102 and "eth0.101" not in state.links
        assert DeleteLinks(("eth0.101",)) in plan


def test_toggle_bridged_on_a_vlan_network_moves_the_ip() -> None:  # 14
    k = MemoryKernel(NICS)
    net = Network("red", nic="eth0", vlan=5, bridged=False, ipaddr="10.0.0.5",
                  netmask="255.255.255.0", gateway="10.0.0.1", default_route=True)
    _, state = setup(k, cfg(net))
    assert state.addresses == {Address("eth0.5", "10.0.0.5/24")}
    _, state = setup(k, cfg(replace(net, bridged=True)))
    assert state.addresses == {Address("red", "10.0.0.5/24")}
    assert Route("0.0.0.0/0", "red", "10.0.0.1") in state.routes
    _, state = setup(k, cfg(net))
    assert "red" not in state.links and state.links["eth0.5"].master is None


def test_mtu_raise_and_lower_across_bond_vlan_bridge() -> None:  # 42
    k = MemoryKernel(NICS)
    bond = Bond("bond0", ("eth0", "eth1"))
    setup(k, cfg(Network("red", bonding="bond0", vlan=7, mtu=2000), bonds=(bond,)))
    plan, state = setup(k, cfg(Network("red", bonding="bond0", vlan=7, mtu=9000), bonds=(bond,)))
    assert {state.links[n].mtu for n in ("eth0", "eth1", "bond0", "bond0.7", "red")} == {9000}
    mtus = [op.name for op in plan if isinstance(op, SetMtu)]
    assert mtus.index("bond0") < mtus.index("bond0.7")  # raising: lower device first
    plan, state = setup(k, cfg(Network("red", bonding="bond0", vlan=7, mtu=1600), bonds=(bond,)))
    assert {state.links[n].mtu for n in ("eth0", "eth1", "bond0", "bond0.7", "red")} == {1600}
    mtus = [op.name for op in plan if isinstance(op, SetMtu)]
    assert mtus.index("red") < mtus.index("bond0.7") < mtus.index("bond0")  # upper first


def test_base_takes_max_of_vlan_networks_on_add_and_remove() -> None:  # 43
    k = MemoryKernel(NICS)
    a = Network("a", nic="eth0", vlan=1, mtu=1600)
    b = Network("b", nic="eth0", vlan=2, mtu=2000)
    _, state = setup(k, cfg(a))
    assert state.links["eth0"].mtu == 1600
    _, state = setup(k, cfg(a, b))
    assert (state.links["eth0"].mtu, state.links["eth0.1"].mtu) == (2000, 1600)
    _, state = setup(k, cfg(a))
    assert (state.links["eth0"].mtu, state.links["eth0.1"].mtu) == (1600, 1600)


def test_bond_removal_resets_slaves_to_1500() -> None:  # 44
    k = MemoryKernel(NICS)
    bond = Bond("bond0", ("eth0", "eth1"))
    setup(k, cfg(Network("red", bonding="bond0", mtu=9000), bonds=(bond,)))
    _, state = setup(k, cfg())
    assert set(state.links) == set(NICS)
    for nic in ("eth0", "eth1"):
        assert (state.links[nic].mtu, state.links[nic].master, state.links[nic].up) == (
            1500, None, True,
        )


def test_default_route_moves_between_networks() -> None:  # 36-38
    k = MemoryKernel(NICS)
    red = Network("red", nic="eth0", ipaddr="10.0.0.5", netmask="255.255.255.0",
                  gateway="10.0.0.1")
    blue = Network("blue", nic="eth1", ipaddr="10.1.0.5", netmask="255.255.255.0",
                   gateway="10.1.0.1")
    _, state = setup(k, cfg(replace(red, default_route=True), blue))
    main = {r for r in state.routes if r.table == 254}
    assert main == {Route("0.0.0.0/0", "red", "10.0.0.1")}
    _, state = setup(k, cfg(red, replace(blue, default_route=True)))
    main = {r for r in state.routes if r.table == 254}
    assert main == {Route("0.0.0.0/0", "blue", "10.1.0.1")}
    assert {r.oif for r in state.routes if r.table != 254 and r.gateway} == {"red", "blue"}


def test_network_moves_from_bond_to_its_slave_while_bond_is_removed() -> None:  # 31
    k = MemoryKernel(NICS)
    setup(k, cfg(Network("red", bonding="bond0"), bonds=(Bond("bond0", ("eth0", "eth1")),)))
    _, state = setup(k, cfg(Network("red", nic="eth0")))
    assert "bond0" not in state.links and state.links["eth0"].master == "red"


def test_replace_network_nic_with_a_bond_that_includes_it() -> None:  # 32
    k = MemoryKernel(NICS)
    setup(k, cfg(Network("red", nic="eth1", ipaddr="10.0.0.5", netmask="255.255.255.0",
                         bridged=False)))
    _, state = setup(k, cfg(Network("red", bonding="bond0", ipaddr="10.0.0.5",
                                    netmask="255.255.255.0", bridged=False),
                            bonds=(Bond("bond0", ("eth0", "eth1")),)))
    assert state.links["eth1"].master == "bond0"
    assert state.addresses == {Address("bond0", "10.0.0.5/24")}


def test_nic_with_a_foreign_ip_becomes_a_bond_slave() -> None:  # 40
    k = MemoryKernel(NICS)
    k.add_address(Address("eth2", "198.51.100.9/24"))
    _, state = setup(k, cfg(bonds=(Bond("bond0", ("eth2",)),)))
    assert state.addresses_of("eth2") == []


def test_same_request_twice_is_idempotent() -> None:  # 5
    k = MemoryKernel(NICS)
    config = cfg(Network("red", nic="eth0", vlan=3, ipv6addr="fd00::1/64"))
    setup(k, config)
    writes = k.writes
    plan, _ = setup(k, config)
    assert plan == [] and k.writes == writes


def test_remove_vlan_network_removes_its_device() -> None:  # 3
    k = MemoryKernel(NICS)
    setup(k, cfg(Network("red", nic="eth0", vlan=100)))
    plan, state = setup(k, cfg())
    assert "eth0.100" not in state.links
    assert [op for op in plan if isinstance(op, DeleteLinks)] == [
        DeleteLinks(("red",)), DeleteLinks(("eth0.100",)),
    ]


def test_bridge_whose_port_nic_vanished_is_kept_and_readopts_it() -> None:  # 52
    k = MemoryKernel(NICS)
    config = cfg(Network("red", nic="eth0"))
    setup(k, config)
    gone = MemoryKernel(["eth1", "eth2"])
    gone.apply(CreateLink(k.observe().links["red"].with_(up=False)))
    state = gone.observe()
    assert [op for op in diff(render(config, state), state) if op.links == ("eth0",)] == []
    converge(gone, config)
    assert gone.observe().ports_of("red") == [] and gone.observe().links["red"].up
