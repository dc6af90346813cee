"""Rendering the policy for one host: pool addresses, NIC maps, the boot network kept."""

from __future__ import annotations

from typing import Any

import pytest

from autonomic.render import HostView, RenderError, render_host

MGMT = {"nic": "eth0", "bridged": True, "ipaddr": "192.168.50.11",
        "netmask": "255.255.255.0", "defaultRoute": True}
HOST = HostView("h1", "ovirtmgmt", MGMT, {})
NETS: dict[str, Any] = {
    "vmnet": {"bonding": "bond0", "vlan": 100, "ipv4pool": "10.0.0.0/24", "required": True,
              "gateway": "10.0.0.1"},
    "v6net": {"nic": "eth3", "bridged": False, "ipv6pool": "fd00:1::/64"},
}
BONDS = {"bond0": {"nics": ["eth1", "eth2"], "options": "mode=4"}}
ADDRS = {"vmnet": {"ipv4": "10.0.0.2/24"}, "v6net": {"ipv6": "fd00:1::2/64"}}


def test_pools_become_the_hosts_addresses_and_manager_keys_are_dropped() -> None:
    out = render_host(NETS, BONDS, {}, HOST, ADDRS)
    assert out.networks["vmnet"] == {"bonding": "bond0", "vlan": 100, "ipaddr": "10.0.0.2",
                                     "netmask": "255.255.255.0", "bootproto": "none",
                                     "gateway": "10.0.0.1"}
    assert out.networks["v6net"] == {"nic": "eth3", "bridged": False,
                                     "ipv6addr": "fd00:1::2/64", "dhcpv6": False,
                                     "ipv6autoconf": False}
    assert out.required == frozenset({"vmnet"})
    assert NETS["vmnet"]["ipv4pool"] == "10.0.0.0/24"  # the policy itself is not changed


def test_the_boot_network_is_kept_exactly_as_registered() -> None:
    out = render_host(NETS, BONDS, {}, HOST, ADDRS)
    assert out.networks["ovirtmgmt"] == MGMT


def test_a_policy_may_add_properties_to_the_boot_network() -> None:
    nets = {**NETS, "ovirtmgmt": {"mtu": 9000, "required": True}}
    out = render_host(nets, BONDS, {}, HOST, ADDRS)
    assert out.networks["ovirtmgmt"] == {**MGMT, "mtu": 9000}
    assert "ovirtmgmt" in out.required


@pytest.mark.parametrize("attrs", [{"ipaddr": "10.9.9.9"}, {"nic": "eth2"}, {"vlan": 5},
                                   {"bootproto": "dhcp"}, {"ipv4pool": "10.1.0.0/24"}])
def test_a_policy_cannot_readdress_or_move_the_boot_network(attrs: dict[str, Any]) -> None:
    with pytest.raises(RenderError, match="management network"):
        render_host({"ovirtmgmt": attrs}, {}, {}, HOST, {})


def test_a_policy_cannot_redefine_the_boot_bond() -> None:
    host = HostView("h1", "ovirtmgmt", {"bonding": "bond9"}, {"bond9": {"nics": ["eth0"]}})
    out = render_host({}, {}, {}, host, {})
    assert out.bondings == {"bond9": {"nics": ["eth0"]}}
    with pytest.raises(RenderError) as err:
        render_host({}, {"bond9": {"nics": ["eth1"]}}, {}, host, {})
    assert err.value.code == 25


def test_nic_names_are_mapped_per_host() -> None:
    out = render_host(NETS, BONDS, {"eth1": "ens1", "eth3": "ens3"}, HOST, ADDRS)
    assert out.bondings["bond0"]["nics"] == ["ens1", "eth2"]
    assert out.networks["v6net"]["nic"] == "ens3"
    assert out.networks["ovirtmgmt"]["nic"] == "eth0"  # the boot network is never mapped


def test_a_pool_network_without_an_allocation_is_an_error() -> None:
    with pytest.raises(RenderError, match="no address allocated"):
        render_host(NETS, BONDS, {}, HOST, {})


def test_properties_for_another_hosts_management_network_are_not_pushed() -> None:
    host = HostView("h2", "mgmt2", MGMT, {})
    out = render_host({"ovirtmgmt": {"mtu": 9000}}, {}, {}, host, {})
    assert set(out.networks) == {"mgmt2"}
