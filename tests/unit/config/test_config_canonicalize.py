"""canonicalize: engine string forms, defaults, removals, the default-route move, external bonds."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.unit.config.config_fixtures import kernel
from vdsm_net.engine.canonicalize import blocking_dhcp, canonicalize, stp_bool, tobool
from vdsm_net.model.desired import Bond, Curve, HostQos, Network, Options, Request, RunningConfig
from vdsm_net.model.errors import (
    ERR_BAD_ADDR,
    ERR_BAD_BONDING,
    ERR_BAD_PARAMS,
    ERR_BAD_VLAN,
    NetworkError,
)


def canon(
    networks: dict[str, Any],
    bondings: dict[str, Any] | None = None,
    options: dict[str, Any] | None = None,
    running: RunningConfig | None = None,
    **kwargs: Any,
) -> Request:
    return canonicalize(
        networks, bondings or {}, options or {}, running or RunningConfig(), kernel(), **kwargs
    )


def net_of(attrs: dict[str, Any], **kwargs: Any) -> Network:
    net = canon({"net": attrs}, **kwargs).networks["net"]
    assert net is not None
    return net


def code(networks: dict[str, Any], bondings: dict[str, Any] | None = None) -> int:
    with pytest.raises(NetworkError) as info:
        canon(networks, bondings)
    return info.value.code


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, True), (False, False), ("true", True), ("TRUE", True), ("True", True),
        ("false", False), ("yes", False), ("on", False), ("1", True), ("0", False),
        ("42", True), ("", False), (None, False), (1, True), (0, False), ("x", False),
    ],
)
def test_tobool_follows_vdsm(value: object, expected: bool) -> None:
    assert tobool(value) is expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, True), (False, False), ("yes", True), ("YES", True), ("on", True), ("true", True),
        ("no", False), ("Off", False), ("false", False), (None, False),
    ],
)
def test_stp_accepts_its_words(value: object, expected: bool) -> None:
    assert stp_bool(value, "n") is expected


@pytest.mark.parametrize("value", ["maybe", "1", "", 1])
def test_stp_rejects_other_values_with_21(value: object) -> None:
    assert code({"net": {"nic": "eth0", "stp": value}}) == ERR_BAD_PARAMS


def test_defaults() -> None:
    net = net_of({"nic": "eth0"})
    assert net == Network(name="net", nic="eth0")
    assert (net.mtu, net.bridged, net.stp, net.bootproto) == (1500, True, False, "none")
    assert (net.dhcpv6, net.ipv6autoconf, net.default_route, net.switch) == (
        False, False, False, "legacy",
    )


def test_engine_string_forms() -> None:
    net = net_of({
        "nic": "eth0", "vlan": "100", "mtu": "9000", "bridged": "true", "stp": "yes",
        "ipaddr": "192.0.2.1", "prefix": "24", "gateway": "192.0.2.254",
        "defaultRoute": "true", "dhcpv6": "false", "ipv6autoconf": "TRUE",
        "nameservers": ["1.2.3.4"],
    })
    assert net.vlan == 100 and net.mtu == 9000 and net.bridged and net.stp
    assert net.netmask == "255.255.255.0" and net.default_route
    assert not net.dhcpv6 and net.ipv6autoconf
    assert net.nameservers == ("1.2.3.4",)


def test_bridged_yes_string_is_false_like_vdsm() -> None:
    assert not net_of({"nic": "eth0", "bridged": "yes"}).bridged
    assert not net_of({"nic": "eth0", "bridged": "false"}).bridged


def test_legacy_stp_key() -> None:
    assert net_of({"nic": "eth0", "STP": "on"}).stp


def test_stp_ignored_when_bridgeless() -> None:
    net = net_of({"nic": "eth0", "bridged": False, "stp": "garbage"})
    assert not net.stp


@pytest.mark.parametrize("vlan", ["", None])
def test_empty_vlan_means_none(vlan: object) -> None:
    assert net_of({"nic": "eth0", "vlan": vlan}).vlan is None


@pytest.mark.parametrize("vlan", ["abc", "1.5", True])
def test_bad_vlan_string_is_26(vlan: object) -> None:
    assert code({"net": {"nic": "eth0", "vlan": vlan}}) == ERR_BAD_VLAN


def test_vlan_int_kept() -> None:
    assert net_of({"nic": "eth0", "vlan": 7}).vlan == 7


@pytest.mark.parametrize("mtu", ["big", "", "1.5", 10, 70000])
def test_bad_mtu_is_21(mtu: object) -> None:
    assert code({"net": {"nic": "eth0", "mtu": mtu}}) == ERR_BAD_PARAMS


@pytest.mark.parametrize(("prefix", "mask"), [("24", "255.255.255.0"), (16, "255.255.0.0"),
                                              ("32", "255.255.255.255"), ("0", "0.0.0.0")])
def test_prefix_becomes_netmask(prefix: object, mask: str) -> None:
    assert net_of({"nic": "eth0", "ipaddr": "10.0.0.1", "prefix": prefix}).netmask == mask


@pytest.mark.parametrize("prefix", ["33", "-1", "abc", "24.0"])
def test_bad_prefix_is_22(prefix: str) -> None:
    assert code({"net": {"nic": "eth0", "ipaddr": "10.0.0.1", "prefix": prefix}}) == ERR_BAD_ADDR


def test_prefix_with_netmask_is_21() -> None:
    attrs = {"nic": "eth0", "ipaddr": "10.0.0.1", "prefix": "24", "netmask": "255.255.255.0"}
    assert code({"net": attrs}) == ERR_BAD_PARAMS


def test_ipv6addr_compressed() -> None:
    net = net_of({"nic": "eth0", "ipv6addr": "2001:0db8:85a3:0000:0000:8a2e:0370:7331/64"})
    assert net.ipv6addr == "2001:db8:85a3::8a2e:370:7331/64"


def test_bridge_opts_sorted_and_defaults_dropped() -> None:
    custom = {"bridge_opts": "priority=1 multicast_snooping=0 hello_time=200", "foo": "bar"}
    net = net_of({"nic": "eth0", "custom": custom})
    assert net.bridge_opts == (("multicast_snooping", "0"), ("priority", "1"))
    assert net.custom == (("foo", "bar"),)


def test_unknown_bridge_opt_kept_for_validate() -> None:
    net = net_of({"nic": "eth0", "custom": {"bridge_opts": "foo=0"}})
    assert net.bridge_opts == (("foo", "0"),)


def test_unparsable_bridge_opts_is_21() -> None:
    assert code({"net": {"nic": "eth0", "custom": {"bridge_opts": "priority"}}}) == ERR_BAD_PARAMS


def test_custom_ovs_forces_switch() -> None:
    assert net_of({"nic": "eth0", "custom": {"ovs": "true"}}).switch == "ovs"
    assert net_of({"nic": "eth0", "switch": "legacy", "custom": {"ovs": "false"}}).switch == (
        "legacy"
    )


def test_custom_default_route_overrides() -> None:
    assert net_of({"nic": "eth0", "defaultRoute": False, "custom": {"default_route": "true"}}
                  ).default_route
    assert not net_of({"nic": "eth0", "defaultRoute": True,
                       "custom": {"default_route": "false"}}).default_route


def test_host_nameservers_filled_for_static_default_route() -> None:
    hosts = ("9.9.9.9", "8.8.8.8")
    assert net_of({"nic": "eth0", "defaultRoute": True}, host_nameservers=hosts
                  ).nameservers == hosts
    assert net_of({"nic": "eth0", "defaultRoute": True, "bootproto": "dhcp"},
                  host_nameservers=hosts).nameservers == ()
    assert net_of({"nic": "eth0"}, host_nameservers=hosts).nameservers == ()
    assert net_of({"nic": "eth0", "defaultRoute": True, "nameservers": []},
                  host_nameservers=hosts).nameservers == ()


def test_unknown_and_volatile_attributes_ignored() -> None:
    net = net_of({"nic": "eth0", "_caller": "engine", "blockingdhcp": True})
    assert net == Network(name="net", nic="eth0")


def test_remove_not_canonicalized_further() -> None:
    request = canon({"a": {"remove": "true", "mtu": "junk"}, "b": {"remove": True},
                     "c": {"remove": "true", "custom": {"x": "y"}}, "d": {"remove": "yes",
                                                                        "nic": "eth0"}})
    assert request.networks["a"] is None and request.networks["b"] is None
    assert request.networks["c"] is None
    assert request.remove_conflicts == frozenset({"a"})
    assert request.networks["d"] == Network(name="d", nic="eth0")  # 'yes' is not true


def test_two_default_routes_is_21() -> None:
    with pytest.raises(NetworkError) as info:
        canon({"a": {"nic": "eth0", "defaultRoute": True},
               "b": {"nic": "eth1", "custom": {"default_route": "true"}}})
    assert info.value.code == ERR_BAD_PARAMS
    assert info.value.message == "Only a single default route network is allowed."


def test_removed_network_does_not_count_as_default_route() -> None:
    request = canon({"a": {"nic": "eth0", "defaultRoute": True},
                     "b": {"remove": True, "defaultRoute": True}})
    assert request.networks["b"] is None


def test_default_route_moves_from_running_network() -> None:
    old = Network(name="old", nic="eth1", ipaddr="10.0.0.2", netmask="255.0.0.0",
                  default_route=True, nameservers=("1.1.1.1",))
    running = RunningConfig(networks={"old": old})
    request = canon({"new": {"nic": "eth0", "defaultRoute": "true"}}, running=running)
    moved = request.networks["old"]
    assert moved == Network(name="old", nic="eth1", ipaddr="10.0.0.2", netmask="255.0.0.0")
    assert running.networks["old"] is old and old.default_route  # running untouched


def test_default_route_not_moved_when_holder_is_in_request_or_unclaimed() -> None:
    old = Network(name="old", nic="eth1", default_route=True)
    running = RunningConfig(networks={"old": old})
    assert "old" not in canon({"new": {"nic": "eth0"}}, running=running).networks
    req = canon({"new": {"nic": "eth0", "defaultRoute": True}, "old": {"remove": True}},
                running=running)
    assert req.networks["old"] is None
    req = canon({"old": {"nic": "eth1", "defaultRoute": True}}, running=running)
    assert list(req.networks) == ["old"]


def test_bond_canonical_form() -> None:
    request = canon({}, {"bond1": {"nics": ["eth1", "eth0"], "hwaddr": "CE:0C:46:59:C9:D1",
                                   "options": "lacp_rate=fast mode=802.3ad miimon=100"}})
    assert request.bondings["bond1"] == Bond(
        name="bond1", nics=("eth0", "eth1"), options=(("mode", "4"), ("lacp_rate", "1")),
        hwaddr="ce:0c:46:59:c9:d1",
    )


def test_bond_defaults() -> None:
    bond = canon({}, {"bond1": {"nics": ["eth0"]}}).bondings["bond1"]
    assert bond == Bond(name="bond1", nics=("eth0",), options=(("mode", "0"),), switch="legacy")


@pytest.mark.parametrize("options", ["mode=fancy", "foo=1", "mode", "miimon=abc", "=3",
                                     "mode=7", "lacp_rate=fast mode=1"])
def test_bad_bond_options_are_25(options: str) -> None:
    assert code({}, {"bond1": {"nics": ["eth0"], "options": options}}) == ERR_BAD_BONDING


def test_bond_remove() -> None:
    assert canon({}, {"bond1": {"remove": "true"}}).bondings == {"bond1": None}


def test_external_kernel_bond_added() -> None:
    observed = kernel(bonds={"bond7": (("eth2", "eth3"), (("mode", "1"), ("miimon", "100")))})
    request = canonicalize({"net": {"bonding": "bond7"}}, {}, {}, RunningConfig(), observed)
    assert request.bondings["bond7"] == Bond(
        name="bond7", nics=("eth2", "eth3"), options=(("mode", "1"), ("miimon", "100"))
    )


def test_owned_or_requested_bond_not_added() -> None:
    observed = kernel(bonds={"bond7": (("eth2",), (("mode", "0"),))})
    running = RunningConfig(bonds={"bond7": Bond(name="bond7", nics=("eth2",))})
    request = canonicalize({"net": {"bonding": "bond7"}}, {}, {}, running, observed)
    assert request.bondings == {}
    request = canonicalize({"net": {"bonding": "bond9"}}, {}, {}, RunningConfig(), observed)
    assert request.bondings == {}  # neither requested nor in the kernel: validate says 25


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({}, Options()),
        ({"connectivityCheck": "false", "connectivityTimeout": "0.1", "commitOnSuccess": True,
          "fullState": "true", "_inRollback": True},
         Options(connectivity_check=False, connectivity_timeout=0, commit_on_success=True,
                 full_state=True, in_rollback=True)),
        ({"connectivityCheck": "true", "connectivityTimeout": 120},
         Options(connectivity_check=True, connectivity_timeout=120)),
        ({"connectivityCheck": "yes"}, Options(connectivity_check=False)),
    ],
)
def test_options(options: dict[str, Any], expected: Options) -> None:
    assert canon({}, options=options).options == expected


@pytest.mark.parametrize("timeout", ["soon", None, True, "-1"])
def test_bad_timeout_is_21(timeout: object) -> None:
    with pytest.raises(NetworkError) as info:
        canon({}, options={"connectivityTimeout": timeout})
    assert info.value.code == ERR_BAD_PARAMS


def test_inputs_not_mutated() -> None:
    networks: dict[str, dict[str, Any]] = {
        "net": {"nic": "eth0", "vlan": "10", "prefix": "24", "ipaddr": "10.0.0.1",
                "custom": {"bridge_opts": "priority=1"}, "hostQos": {"out": {"ls": {"m2": 5}}}},
        "gone": {"remove": "true"},
    }
    bondings = {"bond1": {"nics": ["eth2", "eth1"], "options": "mode=4"}}
    options = {"connectivityCheck": "false"}
    before = copy.deepcopy((networks, bondings, options))
    request = canonicalize(networks, bondings, options, RunningConfig(), kernel())
    assert (networks, bondings, options) == before
    net = request.networks["net"]
    assert net is not None and net.host_qos == HostQos(ls=Curve(m2=5))


def test_blockingdhcp_is_read_with_vdsm_s_tobool() -> None:
    networks = {"a": {"blockingdhcp": "2"}, "b": {"blockingdhcp": "yes"},
                "c": {"blockingdhcp": True}, "d": {"blockingdhcp": "TRUE"}, "e": {},
                "f": "not an object", "g": {"blockingdhcp": 0}}
    assert blocking_dhcp(networks) == ["a", "c", "d"]
