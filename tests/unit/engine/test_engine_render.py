"""render(): the device model of vdsm-wire §4.4-§4.5, rule by rule."""

from __future__ import annotations

import zlib

from vdsm_net.engine.render import render
from vdsm_net.model.desired import Bond, Network, RunningConfig
from vdsm_net.model.kernel import Address, KernelState, Link, Route, Rule

EMPTY = KernelState()


def cfg(*nets: Network, bonds: tuple[Bond, ...] = ()) -> RunningConfig:
    return RunningConfig(networks={n.name: n for n in nets}, bonds={b.name: b for b in bonds})


def test_bridged_network_on_nic() -> None:
    state = render(cfg(Network("red", nic="eth0", stp=True)), EMPTY)
    assert state.links == {
        "red": Link("red", "bridge", up=True, tag="vdsm-net:net=red", stp=True),
        "eth0": Link("eth0", "nic", up=True, master="red", tag="vdsm-net:nic"),
    }
    assert not state.addresses and not state.routes and not state.rules


def test_bridgeless_network_on_nic_carries_the_ip() -> None:
    net = Network("red", nic="eth0", bridged=False, ipaddr="192.0.2.5", netmask="255.255.255.0")
    state = render(cfg(net), EMPTY)
    assert set(state.links) == {"eth0"}
    assert state.links["eth0"].master is None
    assert state.addresses == {Address("eth0", "192.0.2.5/24")}


def test_bridged_vlan_network_ip_on_the_bridge_only() -> None:
    net = Network("red", nic="eth0", vlan=100, mtu=9000, ipaddr="192.0.2.5",
                  netmask="255.255.255.0", ipv6addr="fd00::5/64")
    state = render(cfg(net), EMPTY)
    assert state.links["eth0.100"] == Link(
        "eth0.100", "vlan", mtu=9000, up=True, master="red", tag="vdsm-net:net=red",
        vlan_id=100, vlan_base="eth0",
    )
    assert state.links["eth0"].master is None
    assert state.links["eth0"].mtu == 9000
    assert state.links["red"].mtu == 9000
    assert state.addresses == {Address("red", "192.0.2.5/24"), Address("red", "fd00::5/64")}


def test_bond_with_forced_mac_and_slaves_get_bond_mtu() -> None:
    bond = Bond("bond0", ("eth1", "eth2"), (("mode", "4"), ("miimon", "100")), "02:00:00:00:00:01")
    state = render(cfg(Network("red", bonding="bond0", vlan=5, mtu=2000), bonds=(bond,)), EMPTY)
    assert state.links["bond0"] == Link(
        "bond0", "bond", mtu=2000, up=True, tag="vdsm-net:bond=bond0", mac="02:00:00:00:00:01",
        bond_options=(("mode", "4"), ("miimon", "100")),
    )
    for nic in ("eth1", "eth2"):
        assert state.links[nic] == Link(nic, "nic", mtu=2000, up=True, master="bond0",
                                        tag="vdsm-net:nic")
    assert state.links["bond0.5"].vlan_base == "bond0"


def test_untagged_bridged_network_on_bond_makes_the_bond_a_port() -> None:
    state = render(cfg(Network("red", bonding="bond0"), bonds=(Bond("bond0", ("eth1",)),)), EMPTY)
    assert state.links["bond0"].master == "red"
    assert state.links["eth1"].master == "bond0"


def test_bond_without_network_gets_1500() -> None:
    state = render(cfg(bonds=(Bond("bond0", ("eth1",)),)), EMPTY)
    assert state.links["bond0"].mtu == 1500
    assert state.links["eth1"].mtu == 1500


def test_nicless_bridge_has_no_port() -> None:
    state = render(cfg(Network("red", mtu=1600)), EMPTY)
    assert state.links == {"red": Link("red", "bridge", mtu=1600, up=True, tag="vdsm-net:net=red")}


def test_base_takes_the_max_mtu_and_vlans_keep_their_own() -> None:
    state = render(cfg(
        Network("a", nic="eth0", vlan=1, mtu=1600),
        Network("b", nic="eth0", vlan=2, mtu=2000),
        Network("c", nic="eth0", mtu=1500),
    ), EMPTY)
    assert state.links["eth0"].mtu == 2000
    assert state.links["eth0"].master == "c"
    assert (state.links["eth0.1"].mtu, state.links["eth0.2"].mtu, state.links["c"].mtu) == (
        1600, 2000, 1500,
    )


def test_nic_copies_observed_facts_but_not_mac() -> None:
    seen = Link("eth0", "nic", mtu=9000, mac="52:54:00:00:00:01", perm_mac="52:54:00:00:00:01",
                index=7)
    state = render(cfg(Network("red", nic="eth0")), KernelState(links={"eth0": seen}))
    nic = state.links["eth0"]
    assert (nic.index, nic.perm_mac, nic.mac, nic.mtu) == (7, "52:54:00:00:00:01", None, 1500)


def test_default_route_and_source_routing_bridged() -> None:
    net = Network("red", nic="eth0", ipaddr="192.0.2.5", netmask="255.255.255.0",
                  gateway="192.0.2.1", default_route=True, ipv6addr="fd00::5/64",
                  ipv6gateway="fd00::1")
    state = render(cfg(net), EMPTY)
    table = zlib.adler32(b"red")
    assert state.routes == {
        Route("0.0.0.0/0", "red", "192.0.2.1", 254),
        Route("::/0", "red", "fd00::1", 254),
        Route("0.0.0.0/0", "red", "192.0.2.1", table),
        Route("192.0.2.0/24", "red", None, table, scope_link=True),
    }
    assert state.rules == {
        Rule(3200, table, src="192.0.2.0/24"), Rule(3200, table, dst="192.0.2.0/24"),
    }


def test_source_routing_without_default_route_uses_the_top_device() -> None:
    net = Network("red", bonding="bond0", vlan=7, bridged=False, ipaddr="10.1.2.3",
                  netmask="255.255.0.0", gateway="10.1.0.1", ipv6addr="fd00::5/64",
                  ipv6gateway="fd00::1")
    state = render(cfg(net, bonds=(Bond("bond0", ("eth1",)),)), EMPTY)
    table = zlib.adler32(b"bond0.7")
    assert state.routes == {
        Route("0.0.0.0/0", "bond0.7", "10.1.0.1", table),
        Route("10.1.0.0/16", "bond0.7", None, table, scope_link=True),
    }
    assert Rule(3200, table, src="10.1.0.0/16") in state.rules


def test_ipv6_gateway_double_colon_means_none() -> None:
    net = Network("red", nic="eth0", ipv6addr="fd00::5/64", ipv6gateway="::", default_route=True)
    assert render(cfg(net), EMPTY).routes == frozenset()


def test_dhcp_renders_no_ipv4() -> None:
    net = Network("red", nic="eth0", bootproto="dhcp", ipaddr="192.0.2.5",
                  netmask="255.255.255.0", gateway="192.0.2.1", default_route=True)
    state = render(cfg(net), EMPTY)
    assert not state.addresses and not state.routes and not state.rules


def test_every_rendered_link_is_up() -> None:
    state = render(cfg(Network("a", nic="eth0", vlan=3), Network("b", bonding="bond0"),
                       bonds=(Bond("bond0", ("eth1", "eth2")),)), EMPTY)
    assert all(link.up for link in state.links.values())
    assert len(state.links) == 7
