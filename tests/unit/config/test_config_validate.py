"""validate: every rule of vdsm-wire §4.3 with its code, and the order between them."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.config.config_fixtures import code_of, error_of, kernel, setup
from vdsm_net.model.desired import Bond, Network, RunningConfig
from vdsm_net.model.errors import (
    ERR_BAD_ADDR,
    ERR_BAD_BONDING,
    ERR_BAD_BRIDGE,
    ERR_BAD_NIC,
    ERR_BAD_PARAMS,
    ERR_BAD_VLAN,
    ERR_USED_BOND,
    ERR_USED_NIC,
)
from vdsm_net.model.kernel import Link

BOND = {"bond1": {"nics": ["eth0", "eth1"]}}


def test_valid_requests_pass() -> None:
    _, desired = setup(
        {"a": {"nic": "eth2", "vlan": "0"}, "b": {"nic": "eth2", "vlan": "1"},
         "c": {"bonding": "bond1", "ipaddr": "192.0.2.1", "prefix": "24",
               "gateway": "192.0.2.254", "defaultRoute": True, "nameservers": ["fe80::1%eth0"]},
         "d": {"bridged": True}},
        {"bond1": {"nics": ["eth0", "eth1"], "options": "mode=3 miimon=150"}},
    )
    assert set(desired.networks) == {"a", "b", "c", "d"} and set(desired.bonds) == {"bond1"}


@pytest.mark.parametrize("name", ["bond", "bond bad", "jamesbond007", "bond1234567890123"])
def test_bad_bond_name_is_25(name: str) -> None:
    assert code_of({}, {name: {"nics": ["eth0"]}}) == ERR_BAD_BONDING
    assert code_of({"net": {"bonding": name}}) == ERR_BAD_BONDING


@pytest.mark.parametrize("name", ["bond1", "bond_x", "bond1_name"])
def test_good_bond_names(name: str) -> None:
    setup({}, {name: {"nics": ["eth0"]}})


def test_bond_without_nics_is_21() -> None:
    err = error_of({}, {"bond1": {"nics": []}})
    assert (err.code, err.message) == (ERR_BAD_PARAMS, "bond1: Must specify nics for bonding")
    assert code_of({}, {"bond1": {"options": "mode=1"}}) == ERR_BAD_PARAMS


@pytest.mark.parametrize("bridged", [True, False])
def test_vlan_without_device_is_26(bridged: bool) -> None:
    assert code_of({"net": {"vlan": "10", "bridged": bridged}}) == ERR_BAD_VLAN


@pytest.mark.parametrize(
    "attrs",
    [
        {"ipaddr": "1.2.3.4"},  # no netmask
        {"gateway": "1.2.3.1"},
        {"netmask": "255.255.255.0"},
        {"ipaddr": "1.2.3.256", "netmask": "255.255.255.0"},
        {"ipaddr": "1.2.3.4", "netmask": "256.255.0.0"},
        {"ipaddr": "1.2.3.4.5", "netmask": "255.255.255.0"},
        {"ipaddr": "1.2.3", "netmask": "255.255.255.0"},
        {"ipaddr": "1.2.3.4", "netmask": "255.255.255.0", "gateway": "1.2.3.999"},
        {"ipaddr": "1.2.3.4", "netmask": "255.255.255.0", "bootproto": "dhcp"},
        {"ipaddr": "fd00::1", "netmask": "64"},
        {"ipv6addr": "fd00::zz/64"},
        {"ipv6addr": "10.0.0.1/24"},
        {"ipv6addr": "fd00::1/64", "ipv6gateway": "10.0.0.1"},
        {"ipv6gateway": "nope"},
        {"defaultRoute": True, "nameservers": ["1.2.3"]},
        {"defaultRoute": True, "nameservers": ["host.example"]},
    ],
)
def test_address_rules_are_22(attrs: dict[str, Any]) -> None:
    assert code_of({"net": {"nic": "eth0", **attrs}}) == ERR_BAD_ADDR


def test_good_addresses_pass() -> None:
    setup({"net": {"nic": "eth0", "ipaddr": "1.2.3.4", "netmask": "255.255.255.0",
                   "gateway": "1.2.3.1", "ipv6addr": "fd00::1/64", "ipv6gateway": "::",
                   "defaultRoute": True, "nameservers": ["1.1.1.1", "2001:db8::53"]}})


def test_nameservers_on_non_default_route_network_is_21() -> None:
    attrs = {"nic": "eth0", "nameservers": ["1.2.3.4", "2.3.4.5", "6.7.8.9"]}
    assert code_of({"net": attrs}) == ERR_BAD_PARAMS


def test_mixing_switches_is_21() -> None:
    err = error_of({"a": {"nic": "eth0"}, "b": {"nic": "eth1", "switch": "ovs"}})
    assert err.code == ERR_BAD_PARAMS and "Mixing" in err.message


def test_switch_of_removed_entity_comes_from_running() -> None:
    running = RunningConfig(networks={"old": Network(name="old", nic="eth1", switch="ovs")})
    err = error_of({"new": {"nic": "eth0"}, "old": {"remove": True}}, running=running)
    assert err.code == ERR_BAD_PARAMS and "Mixing" in err.message


def test_ovs_networks_are_accepted() -> None:
    setup({"a": {"nic": "eth0", "custom": {"ovs": True}}, "b": {"nic": "eth0", "vlan": "5",
                                                              "switch": "ovs"}})


def test_a_device_under_legacy_and_ovs_networks_is_21() -> None:
    running = RunningConfig(networks={"old": Network(name="old", nic="eth0")})
    err = error_of({"new": {"nic": "eth0", "vlan": "7", "switch": "ovs"}}, running=running)
    assert err.code == ERR_BAD_PARAMS and "on eth0" in err.message


def test_an_ovs_network_on_a_legacy_bond_is_21() -> None:
    running = RunningConfig(bonds={"bond0": Bond(name="bond0", nics=("eth1", "eth2"))})
    err = error_of({"new": {"bonding": "bond0", "switch": "ovs"}}, running=running)
    assert err.code == ERR_BAD_PARAMS and "bond bond0" in err.message


def test_bridgeless_without_device_is_21() -> None:
    err = error_of({"net": {"bridged": "false"}})
    assert err.code == ERR_BAD_PARAMS
    assert "southbound device not specified for non-bridged network" in err.message


def test_nicless_bridge_is_fine() -> None:
    setup({"net": {"bridged": True}})


@pytest.mark.parametrize(
    "networks",
    [
        {"a": {"nic": "eth0"}, "b": {"nic": "eth0", "bridged": False}},
        {"a": {"nic": "eth0", "vlan": "5"}, "b": {"nic": "eth0", "vlan": 5}},
    ],
)
def test_two_networks_on_one_device_is_21(networks: dict[str, Any]) -> None:
    err = error_of(networks)
    assert err.code == ERR_BAD_PARAMS and "multiple networks/similar vlans" in err.message


def test_clash_with_running_network_is_21() -> None:
    running = RunningConfig(networks={"a": Network(name="a", nic="eth0", vlan=5)})
    assert code_of({"b": {"nic": "eth0", "vlan": "5"}}, running=running) == ERR_BAD_PARAMS


def test_vlaned_and_plain_on_same_nic_and_same_vlan_on_two_nics_pass() -> None:
    setup({"a": {"nic": "eth0"}, "b": {"nic": "eth0", "vlan": "5"}, "c": {"nic": "eth1",
                                                                        "vlan": "5"}})


def test_remove_with_other_keys_is_21() -> None:
    running = RunningConfig(networks={"a": Network(name="a", nic="eth0")})
    assert code_of({"a": {"remove": True, "nic": "eth0"}}, running=running) == ERR_BAD_PARAMS
    setup({"a": {"remove": True, "custom": {"k": "v"}}}, running=running)


def test_removing_unknown_network_is_27() -> None:
    err = error_of({"ghost": {"remove": "true"}})
    assert (err.code, err.message) == (
        ERR_BAD_BRIDGE, "Cannot delete network ghost: It doesn't exist in the system"
    )


@pytest.mark.parametrize("link", [Link("br9", "bridge"), Link("eth0", "nic")])
def test_removing_a_link_that_is_not_a_network_is_27(link: Link) -> None:
    """vdsm answers 27 for a name outside its running config even when a link has it."""
    observed = kernel(extra=(link,)) if link.kind != "nic" else kernel()
    assert code_of({link.name: {"remove": True}}, observed=observed) == ERR_BAD_BRIDGE


@pytest.mark.parametrize("vlan", ["4095", "-1", 5000])
def test_vlan_out_of_range_is_26(vlan: object) -> None:
    assert code_of({"net": {"nic": "eth0", "vlan": vlan}}) == ERR_BAD_VLAN


def test_vlan_edges_pass() -> None:
    setup({"a": {"nic": "eth0", "vlan": "0"}, "b": {"nic": "eth0", "vlan": "4094"}})


@pytest.mark.parametrize("nic", ["missing_nic", "wlan0", "usb0", "br0"])
def test_nic_not_visible_is_23(nic: str) -> None:
    observed = kernel(nics=("eth0", "wlan0", "usb0"), extra=(Link("br0", "bridge"),))
    err = error_of({"net": {"nic": nic}}, observed=observed)
    assert (err.code, err.message) == (ERR_BAD_NIC, f"Nic {nic} does not exist (network net)")


def test_bonding_not_desired_is_25() -> None:
    err = error_of({"net": {"bonding": "bond9"}})
    assert err.code == ERR_BAD_BONDING and err.message.startswith("Bond bond9 does not exist")


def test_bonding_in_running_passes() -> None:
    running = RunningConfig(bonds={"bond9": Bond(name="bond9", nics=("eth3",))})
    setup({"net": {"bonding": "bond9"}}, running=running)


@pytest.mark.parametrize("name", ["a" * 16, "a b", "a\tb", "a.b", "a:b", "-ab", ""])
def test_bad_bridge_name_is_27(name: str) -> None:
    err = error_of({name: {"nic": "eth0"}})
    assert err.code == ERR_BAD_BRIDGE and "Bridge name isn't valid" in err.message


def test_bridgeless_names_not_checked() -> None:
    setup({"a.b": {"nic": "eth0", "bridged": False}})


def test_removing_used_bond_is_31() -> None:
    running = RunningConfig(
        networks={"net": Network(name="net", bonding="bond1")},
        bonds={"bond1": Bond(name="bond1", nics=("eth0",))},
    )
    assert code_of({}, {"bond1": {"remove": True}}, running=running) == ERR_USED_BOND
    # moving the network off the bond in the same call makes the removal fine
    _, desired = setup({"net": {"nic": "eth0"}}, {"bond1": {"remove": True}}, running=running)
    assert desired.bonds == {}


def test_bond_slave_not_visible_is_23() -> None:
    assert code_of({}, {"bond1": {"nics": ["eth0", "nope"]}}) == ERR_BAD_NIC


def test_nic_both_slave_and_network_nic_is_24() -> None:
    assert code_of({"net": {"nic": "eth0"}}, BOND) == ERR_USED_NIC
    running = RunningConfig(networks={"net": Network(name="net", nic="eth0")})
    assert code_of({}, BOND, running=running) == ERR_USED_NIC
    running = RunningConfig(bonds={"bond1": Bond(name="bond1", nics=("eth0", "eth1"))})
    assert code_of({"net": {"nic": "eth1"}}, running=running) == ERR_USED_NIC


def test_slave_of_two_bonds_is_24() -> None:
    err = error_of({}, {"bond1": {"nics": ["eth0"]}, "bond2": {"nics": ["eth0", "eth1"]}})
    assert err.code == ERR_USED_NIC and "Nics with multiple usages" in err.message


def test_slave_under_unowned_vlan_is_24() -> None:
    observed = kernel(extra=(Link("eth0.7", "vlan", vlan_id=7, vlan_base="eth0"),))
    assert code_of({}, BOND, observed=observed) == ERR_USED_NIC
    owned = kernel(extra=(Link("eth0.7", "vlan", vlan_id=7, vlan_base="eth0", tag="vdsm-net:x"),))
    setup({}, BOND, observed=owned)


def test_network_moved_to_bond_of_its_nic_passes() -> None:
    running = RunningConfig(networks={"net": Network(name="net", nic="eth1")})
    setup({"net": {"bonding": "bond1"}}, BOND, running=running)


def test_long_vlan_device_name_is_26() -> None:
    observed = kernel(nics=("enp0s31f6abc",))
    assert code_of({"net": {"nic": "enp0s31f6abc", "vlan": "100"}}, observed=observed) == (
        ERR_BAD_VLAN
    )
    setup({"net": {"nic": "enp0s31f6abc", "vlan": "10"}}, observed=observed)  # 15 chars


@pytest.mark.parametrize("opts", ["foo=0", "priority=high", "hello_time=5", "vlan_protocol=1"])
def test_bad_bridge_opts_are_21(opts: str) -> None:
    err = error_of({"net": {"nic": "eth0", "custom": {"bridge_opts": opts}}})
    assert err.code == ERR_BAD_PARAMS and "bridge option" in err.message


def test_good_bridge_opts_pass() -> None:
    request, _ = setup({"net": {"nic": "eth0", "custom": {
        "bridge_opts": "multicast_snooping=0 multicast_router=0 priority=1"}}})
    net = request.networks["net"]
    assert net is not None
    assert net.bridge_opts == (
        ("multicast_router", "0"), ("multicast_snooping", "0"), ("priority", "1"),
    )


# --- order: a request that breaks two rules gets the earlier rule's code ---------------------

@pytest.mark.parametrize(
    ("networks", "bondings", "expected"),
    [
        # bad bond name (25) before bond without nics (21)
        ({}, {"bond": {"nics": []}}, ERR_BAD_BONDING),
        # bond without nics (21) before vlan without device (26)
        ({"n": {"vlan": "1"}}, {"bond1": {"nics": []}}, ERR_BAD_PARAMS),
        # vlan without device (26) before a bad address (22)
        ({"n": {"vlan": "1", "ipaddr": "1.2.3.999"}}, {}, ERR_BAD_VLAN),
        # bad address (22) before nameservers on a non-default network (21)
        ({"n": {"nic": "eth0", "gateway": "1.1.1.1", "nameservers": ["1.1.1.1"]}}, {},
         ERR_BAD_ADDR),
        # bad address (22) before the ovs switch (21)
        ({"n": {"nic": "eth0", "ipaddr": "1.2.3", "switch": "ovs"}}, {}, ERR_BAD_ADDR),
        # an ovs network gets the legacy checks: a missing nic (23)
        ({"n": {"nic": "nope", "switch": "ovs"}}, {}, ERR_BAD_NIC),
        # bridgeless without device (21) before the bad bridge name (27) of another network
        ({"a b": {"nic": "eth0"}, "x": {"bridged": False}}, {}, ERR_BAD_PARAMS),
        # vlan range (26) before missing nic (23) in one network
        ({"n": {"nic": "nope", "vlan": "5000"}}, {}, ERR_BAD_VLAN),
        # missing nic (23) before bad bridge name (27)
        ({"a b": {"nic": "nope"}}, {}, ERR_BAD_NIC),
        # per-network rules (27) before per-bond rules (23)
        ({"a b": {"nic": "eth2"}}, {"bond1": {"nics": ["nope"]}}, ERR_BAD_BRIDGE),
        # bond slave missing (23) before nic used twice (24)
        ({"n": {"nic": "eth0"}}, {"bond1": {"nics": ["eth0", "nope"]}}, ERR_BAD_NIC),
        # nic used twice (24) before our long vlan device name (26)
        ({"n": {"nic": "eth0"}, "m": {"nic": "eth2", "vlan": "1"}},
         {"bond1": {"nics": ["eth0"]}}, ERR_USED_NIC),
        # long vlan device (26) before bad bridge options (21)
        ({"n": {"nic": "eth0", "vlan": "1", "custom": {"bridge_opts": "foo=1"}},
          "m": {"bonding": "bond1234567890", "vlan": "100", "bridged": False}},
         {"bond1234567890": {"nics": ["eth1"]}}, ERR_BAD_VLAN),
    ],
)
def test_first_rule_wins(
    networks: dict[str, Any], bondings: dict[str, Any], expected: int
) -> None:
    assert code_of(networks, bondings) == expected


def test_rejected_request_leaves_inputs_alone() -> None:
    running = RunningConfig(networks={"a": Network(name="a", nic="eth0")})
    before = RunningConfig(networks=dict(running.networks), bonds=dict(running.bonds))
    observed = kernel()
    code_of({"a": {"remove": True}, "b": {"nic": "nope"}}, running=running, observed=observed)
    assert running == before and observed == kernel()
