"""linkopts: bond option numerization, per-mode defaults, consistency, bridge option defaults."""

from __future__ import annotations

import pytest

from vdsm_net.model.bridgeopts import BRIDGE_DEFAULTS, bridge_option_value, strip_bridge_defaults
from vdsm_net.model.linkopts import (
    BOND_MODES,
    BOND_OPTION_NAMES,
    bond_defaults,
    bond_option_value,
    canonical_bond_options,
    mode_number,
    parse_pairs,
    strip_bond_defaults,
)


@pytest.mark.parametrize(("name", "number"), sorted(BOND_MODES.items()))
def test_mode_names_and_numbers(name: str, number: str) -> None:
    assert mode_number(name) == number
    assert mode_number(number) == number
    assert canonical_bond_options(f"mode={name}")[0] == ("mode", number)


@pytest.mark.parametrize("mode", ["7", "-1", "fancy", "", "balance_rr"])
def test_unknown_mode(mode: str) -> None:
    with pytest.raises(ValueError):
        mode_number(mode)


@pytest.mark.parametrize(
    ("option", "value", "number"),
    [
        ("lacp_rate", "slow", "0"), ("lacp_rate", "fast", "1"), ("lacp_rate", "1", "1"),
        ("xmit_hash_policy", "layer2", "0"), ("xmit_hash_policy", "layer3+4", "1"),
        ("xmit_hash_policy", "layer2+3", "2"), ("xmit_hash_policy", "encap2+3", "3"),
        ("xmit_hash_policy", "encap3+4", "4"), ("xmit_hash_policy", "vlan+srcmac", "5"),
        ("ad_select", "bandwidth", "1"), ("ad_select", "count", "2"),
        ("arp_validate", "filter_backup", "6"), ("arp_all_targets", "all", "1"),
        ("fail_over_mac", "follow", "2"), ("primary_reselect", "failure", "2"),
        ("use_carrier", "off", "0"), ("miimon", "0100", "100"),
        ("arp_ip_target", "10.1.3.1,10.1.2.1", "10.1.3.1,10.1.2.1"),
        ("ns_ip6_target", "fd00:0::1", "fd00::1"),
        ("ad_actor_system", "02:AA:BB:CC:DD:EE", "02:aa:bb:cc:dd:ee"),
    ],
)
def test_option_values_numerized(option: str, value: str, number: str) -> None:
    assert bond_option_value(option, value) == number


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("lacp_rate", "medium"), ("lacp_rate", "2"), ("xmit_hash_policy", "layer9"),
        ("miimon", "-1"), ("miimon", "x"), ("ad_user_port_key", "1024"),
        ("ad_actor_sys_prio", "0"), ("arp_ip_target", "10.0.0.300"),
        ("arp_ip_target", "fd00::1"), ("arp_ip_target", "1.1.1.1,1.1.1.1"),
        ("ad_actor_system", "zz"), ("nosuch", "1"),
    ],
)
def test_bad_option_values(option: str, value: str) -> None:
    with pytest.raises(ValueError):
        bond_option_value(option, value)


def test_mode_first_rest_sorted_defaults_dropped() -> None:
    assert canonical_bond_options(
        "xmit_hash_policy=layer2+3 lacp_rate=fast miimon=100 mode=802.3ad ad_select=stable"
    ) == (("mode", "4"), ("lacp_rate", "1"), ("xmit_hash_policy", "2"))
    assert canonical_bond_options("miimon=100 mode=1 updelay=200") == (
        ("mode", "1"), ("miimon", "100"), ("updelay", "200"),
    )
    assert canonical_bond_options("") == (("mode", "0"),)


def test_num_unsol_na_is_num_grat_arp() -> None:
    assert canonical_bond_options("num_unsol_na=3") == (("mode", "0"), ("num_grat_arp", "3"))
    assert canonical_bond_options("num_unsol_na=3 num_grat_arp=3") == (
        ("mode", "0"), ("num_grat_arp", "3"),
    )
    with pytest.raises(ValueError):
        canonical_bond_options("num_unsol_na=3 num_grat_arp=4")


def test_same_key_twice_last_wins() -> None:
    assert canonical_bond_options("miimon=100 miimon=200") == (("mode", "0"), ("miimon", "200"))


@pytest.mark.parametrize(
    "text",
    [
        "lacp_rate=fast",  # 802.3ad only; mode 0
        "mode=1 packets_per_slave=5",  # balance-rr only
        "mode=4 arp_interval=100",  # not with 802.3ad
        "mode=0 tlb_dynamic_lb=0",  # tlb/alb only
        "mode=2 primary=eth0",  # active-backup/tlb/alb only
        "mode=1 miimon=100 arp_interval=100",
        "mode=1 updelay=100",  # updelay needs miimon
        "mode=1 miimon=100 updelay=150",  # not a multiple
        "mode=4 downdelay=150",  # default miimon 100 in mode 4
        "mode",
        "=1",
        "foo=bar",
    ],
)
def test_refused_combinations(text: str) -> None:
    with pytest.raises(ValueError):
        canonical_bond_options(text)


def test_option_at_default_in_unsupported_mode_is_dropped_not_refused() -> None:
    assert canonical_bond_options("mode=1 lacp_rate=slow") == (("mode", "1"),)


def test_mode_4_updelay_multiple_of_default_miimon() -> None:
    assert canonical_bond_options("mode=4 updelay=200") == (("mode", "4"), ("updelay", "200"))


@pytest.mark.parametrize("mode", ["0", "1", "2", "3"])
def test_arp_modes_default_miimon_off(mode: str) -> None:
    assert bond_defaults(mode)["miimon"] == "0"


@pytest.mark.parametrize("mode", ["4", "5", "6", "802.3ad", "balance-alb"])
def test_non_arp_modes_default_miimon_100(mode: str) -> None:
    defaults = bond_defaults(mode)
    assert defaults["miimon"] == "100"
    assert canonical_bond_options(f"mode={mode} miimon=100") == (("mode", mode_number(mode)),)
    assert canonical_bond_options(f"mode={mode} miimon=0") == (
        ("mode", mode_number(mode)), ("miimon", "0"),
    )


def test_defaults_cover_every_option_and_are_canonical() -> None:
    defaults = bond_defaults("4")
    assert set(defaults) | {"mode", "num_unsol_na"} == BOND_OPTION_NAMES
    for option, value in defaults.items():
        if value:
            assert bond_option_value(option, value) == value


def test_strip_bond_defaults() -> None:
    observed = [("mode", "4"), ("miimon", "100"), ("lacp_rate", "1"), ("use_carrier", "1")]
    assert strip_bond_defaults("4", observed) == (("lacp_rate", "1"),)


def test_parse_pairs() -> None:
    assert parse_pairs(" a=1  b= c=x=y ") == [("a", "1"), ("b", ""), ("c", "x=y")]
    for bad in ("a", "=1", "a=1 b"):
        with pytest.raises(ValueError):
            parse_pairs(bad)


def test_bridge_defaults_are_canonical() -> None:
    for option, value in BRIDGE_DEFAULTS.items():
        assert bridge_option_value(option, value) == value
    assert "stp_state" not in BRIDGE_DEFAULTS


@pytest.mark.parametrize(
    ("option", "value", "canonical"),
    [
        ("group_fwd_mask", "0x8", "8"), ("vlan_protocol", "0x88a8", "34984"),
        ("priority", "0001", "1"), ("group_addr", "01:80:C2:00:00:0E", "01:80:c2:00:00:0e"),
    ],
)
def test_bridge_values_normalized(option: str, value: str, canonical: str) -> None:
    assert bridge_option_value(option, value) == canonical


@pytest.mark.parametrize(
    ("option", "value"),
    [("foo", "0"), ("priority", "70000"), ("hello_time", "50"), ("group_fwd_mask", "1"),
     ("vlan_protocol", "0x9100"), ("multicast_snooping", "2"), ("ageing_time", "x")],
)
def test_bad_bridge_values(option: str, value: str) -> None:
    with pytest.raises(ValueError):
        bridge_option_value(option, value)


def test_strip_bridge_defaults_keeps_unknown_for_validate() -> None:
    assert strip_bridge_defaults(
        [("priority", "32768"), ("forward_delay", "0x5dc"), ("foo", "1"), ("hash_max", "512")]
    ) == (("foo", "1"), ("hash_max", "512"))


def test_time_options_one_centisecond_off_are_the_default() -> None:
    # A kernel with another HZ reads the default 3125 cs back as 3124: still the default.
    assert strip_bridge_defaults([("multicast_startup_query_interval", "3124")]) == ()
    assert strip_bridge_defaults([("multicast_startup_query_interval", "3000")]) == (
        ("multicast_startup_query_interval", "3000"),
    )
    assert strip_bridge_defaults([("priority", "32767")]) == (("priority", "32767"),)
