"""Bond option tables: names, numerization, and the Linux 6.1 kernel's defaults (bridge options:
``bridgeopts``).

The planner compares bond and bridge options as exact equality of the NON-DEFAULT options, and the
netlink backend reports only non-default values, so both sides must use the tables here.

Canonical forms (what ``Bond.options``, ``Network.bridge_opts`` and ``Link.*`` hold):
- every option with a name table (``mode``, ``lacp_rate``, ``xmit_hash_policy``...) is the number
  as a decimal string, which is the last token of the bonding sysfs file (``"layer2+3 2"`` -> "2");
- integer options are decimal strings (``int()`` normalized, so ``"0100"`` -> ``"100"``);
- ``arp_ip_target`` / ``ns_ip6_target``: comma-separated addresses in the order given (the kernel
  keeps that order), IPv6 compressed; ``""`` when empty;
- MAC addresses (``ad_actor_system``, bridge ``group_addr``) lower case;
- bridge options are decimal integers as the netlink attribute carries them, even where sysfs
  prints hex (``group_fwd_mask`` ``0x0`` -> "0", ``vlan_protocol`` ``0x8100`` -> "33024"); times
  are in the kernel's clock_t (centiseconds), as in sysfs and netlink.

Sources: Documentation/networking/bonding.rst ("Bonding Driver Options"), the option tables of
drivers/net/bonding/bond_options.c (names, numbers, ranges, modes an option is refused in), the
module parameter defaults of bond_main.c (bond_check_params), Documentation/networking/bridge.rst
and the bridge sysfs attributes (net/bridge/br_sysfs_br.c, br_device.c / br_multicast.c init).
Written from those facts, not copied.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping

from vdsm_net.model.desired import Pairs

INT_MAX = 2**31 - 1

BOND_MODES: dict[str, str] = {
    "balance-rr": "0",
    "active-backup": "1",
    "balance-xor": "2",
    "broadcast": "3",
    "802.3ad": "4",
    "balance-tlb": "5",
    "balance-alb": "6",
}
BOND_MODE_NAMES: dict[str, str] = {num: name for name, num in BOND_MODES.items()}

# Options whose values have names; the kernel accepts the name or its number.
BOND_TABLES: dict[str, dict[str, int]] = {
    "lacp_rate": {"slow": 0, "fast": 1},
    "xmit_hash_policy": {
        "layer2": 0,
        "layer3+4": 1,
        "layer2+3": 2,
        "encap2+3": 3,
        "encap3+4": 4,
        "vlan+srcmac": 5,
    },
    "ad_select": {"stable": 0, "bandwidth": 1, "count": 2},
    "arp_validate": {
        "none": 0,
        "active": 1,
        "backup": 2,
        "all": 3,
        "filter": 4,
        "filter_active": 5,
        "filter_backup": 6,
    },
    "arp_all_targets": {"any": 0, "all": 1},
    "fail_over_mac": {"none": 0, "active": 1, "follow": 2},
    "primary_reselect": {"always": 0, "better": 1, "failure": 2},
    "lacp_active": {"off": 0, "on": 1},
    "use_carrier": {"off": 0, "on": 1},
    "all_slaves_active": {"off": 0, "on": 1},
    "tlb_dynamic_lb": {"off": 0, "on": 1},
}

# Integer options and their inclusive ranges (bond_options.c value tables).
BOND_RANGES: dict[str, tuple[int, int]] = {
    "miimon": (0, INT_MAX),
    "updelay": (0, INT_MAX),
    "downdelay": (0, INT_MAX),
    "peer_notif_delay": (0, INT_MAX),
    "arp_interval": (0, INT_MAX),
    "arp_missed_max": (1, 255),
    "num_grat_arp": (0, 255),
    "resend_igmp": (0, 255),
    "min_links": (0, INT_MAX),
    "lp_interval": (1, INT_MAX),
    "packets_per_slave": (0, 65535),
    "ad_actor_sys_prio": (1, 65535),
    "ad_user_port_key": (0, 1023),
}

BOND_TEXT_OPTIONS = frozenset({"arp_ip_target", "ns_ip6_target", "primary", "ad_actor_system"})

# num_unsol_na and num_grat_arp are one kernel parameter (num_peer_notif): setting one sets both.
# We keep only num_grat_arp, so the observed pair never looks like a difference.
BOND_ALIASES: dict[str, str] = {"num_unsol_na": "num_grat_arp"}

ALL_MODES = frozenset(BOND_MODES.values())
_ARP_MODES = ALL_MODES - {"4", "5", "6"}
# Modes an option is accepted in (the complement of bond_options.c "unsuppmodes").
BOND_OPTION_MODES: dict[str, frozenset[str]] = {
    "packets_per_slave": frozenset({"0"}),
    "arp_interval": _ARP_MODES,
    "arp_validate": _ARP_MODES,
    "arp_missed_max": _ARP_MODES,
    "lacp_active": frozenset({"4"}),
    "lacp_rate": frozenset({"4"}),
    "ad_actor_sys_prio": frozenset({"4"}),
    "ad_actor_system": frozenset({"4"}),
    "ad_user_port_key": frozenset({"4"}),
    "primary": frozenset({"1", "5", "6"}),
    "tlb_dynamic_lb": frozenset({"5", "6"}),
}

# Defaults of a bond created over netlink on Linux 6.1 with the bonding module loaded without
# parameters (bond_check_params), before any option is set: numeric strings, sysfs's last token.
_BOND_BASE_DEFAULTS: dict[str, str] = {
    "miimon": "0",
    "updelay": "0",
    "downdelay": "0",
    "peer_notif_delay": "0",
    "use_carrier": "1",
    "arp_interval": "0",
    "arp_missed_max": "2",
    "arp_ip_target": "",
    "ns_ip6_target": "",
    "arp_validate": "0",
    "arp_all_targets": "0",
    "primary": "",
    "primary_reselect": "0",
    "fail_over_mac": "0",
    "xmit_hash_policy": "0",
    "resend_igmp": "1",
    "num_grat_arp": "1",
    "all_slaves_active": "0",
    "min_links": "0",
    "lp_interval": "1",
    "packets_per_slave": "1",
    "lacp_active": "1",
    "lacp_rate": "0",
    "ad_select": "0",
    "ad_actor_sys_prio": "65535",
    "ad_user_port_key": "0",
    "ad_actor_system": "00:00:00:00:00:00",
    "tlb_dynamic_lb": "1",
}

BOND_OPTION_NAMES = frozenset(_BOND_BASE_DEFAULTS) | frozenset(BOND_ALIASES) | {"mode"}


def bond_defaults(mode: str) -> dict[str, str]:
    """The kernel's defaults for a bond in ``mode`` (a number "0".."6" or a mode name).

    Setting the mode to 802.3ad, balance-tlb or balance-alb (the modes that cannot use the ARP
    monitor) turns miimon on at 100 ms when it is 0 (bond_option_mode_set, BOND_DEFAULT_MIIMON).
    """
    number = mode_number(mode)
    out = dict(_BOND_BASE_DEFAULTS)
    if number not in _ARP_MODES:
        out["miimon"] = "100"
    return out


def mode_number(value: str) -> str:
    """A bond mode name or number -> the number as a string; ValueError when unknown."""
    text = value.strip().lower()
    if text in BOND_MODES:
        return BOND_MODES[text]
    if text in ALL_MODES:
        return text
    raise ValueError(f"unknown bond mode {value!r}")


def parse_pairs(text: str) -> list[tuple[str, str]]:
    """``"k=v k=v"`` -> ``[(k, v), ...]`` in order; ValueError on a token without ``k=``."""
    out: list[tuple[str, str]] = []
    for token in text.split():
        key, sep, value = token.partition("=")
        if not sep or not key:
            raise ValueError(f"cannot parse {token!r} (expected key=value)")
        out.append((key, value))
    return out


def _address_list(option: str, value: str, version: int) -> str:
    if not value:
        return ""
    addresses = [a for a in value.split(",") if a]
    if len(addresses) > 16:
        raise ValueError(f"{option}: at most 16 targets")
    out: list[str] = []
    for text in addresses:
        try:
            address = ipaddress.ip_address(text)
        except ValueError:
            raise ValueError(f"{option}: {text!r} is not an address") from None
        if address.version != version:
            raise ValueError(f"{option}: {text!r} is not an IPv{version} address")
        if str(address) in out:
            raise ValueError(f"{option}: {text!r} given twice")
        out.append(str(address))
    return ",".join(out)


_MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")


def normalize_mac(value: str) -> str:
    """A colon-separated MAC in lower case; ValueError when malformed."""
    mac = value.strip().lower()
    if not _MAC.match(mac):
        raise ValueError(f"{value!r} is not a MAC address")
    return mac


def _ranged(option: str, value: str, low: int, high: int) -> str:
    try:
        number = int(value)
    except ValueError:
        raise ValueError(f"{option}: {value!r} is not an integer") from None
    if not low <= number <= high:
        raise ValueError(f"{option}: {number} is out of range {low}..{high}")
    return str(number)


def bond_option_value(option: str, value: str) -> str:
    """One bond option's value in canonical numeric form; ValueError when not acceptable."""
    if option == "mode":
        return mode_number(value)
    if option in BOND_TABLES:
        table = BOND_TABLES[option]
        text = value.strip().lower()
        if text in table:
            return str(table[text])
        if text.isdigit() and int(text) in table.values():
            return str(int(text))
        raise ValueError(f"{option}: bad value {value!r}; one of {', '.join(table)}")
    if option in BOND_RANGES:
        return _ranged(option, value, *BOND_RANGES[option])
    if option == "arp_ip_target":
        return _address_list(option, value, 4)
    if option == "ns_ip6_target":
        return _address_list(option, value, 6)
    if option == "ad_actor_system":
        return normalize_mac(value)
    if option == "primary":
        if len(value) > 15 or any(c in value for c in "/: \t"):
            raise ValueError(f"primary: {value!r} is not an interface name")
        return value
    raise ValueError(f"unknown bond option {option!r}")


def canonical_bond_options(text: str) -> Pairs:
    """A bond ``options`` string -> canonical pairs: ("mode", n) first, then the NON-default
    options sorted by key. ValueError (the caller's ERR_BAD_BONDING) when unacceptable."""
    given: dict[str, str] = {}
    spelled: dict[str, str] = {}  # canonical name -> the key the user wrote last
    for key, value in parse_pairs(text):
        name = BOND_ALIASES.get(key, key)
        if name not in BOND_OPTION_NAMES:
            raise ValueError(f"unknown bond option {key!r}")
        number = bond_option_value(name, value)
        if spelled.get(name, key) != key and given[name] != number:
            raise ValueError(f"{spelled[name]} and {key} are one option and disagree")
        given[name] = number  # a key given twice: the last one wins, as with sysfs writes
        spelled[name] = key
    mode = given.pop("mode", "0")
    options = strip_bond_defaults(mode, given.items())
    _check_bond_consistency(mode, dict(options))
    return (("mode", mode), *options)


def strip_bond_defaults(mode: str, options: Iterable[tuple[str, str]]) -> Pairs:
    """The options (without ``mode``) whose value differs from the mode's default, sorted."""
    defaults = bond_defaults(mode)
    return tuple(
        sorted((k, v) for k, v in options if k != "mode" and defaults.get(k) != v)
    )


def _check_bond_consistency(mode: str, options: Mapping[str, str]) -> None:
    """Refuse what the kernel would refuse or silently change (so the result never verifies)."""
    for option in options:
        modes = BOND_OPTION_MODES.get(option, ALL_MODES)
        if mode not in modes:
            raise ValueError(f"option {option} is not supported in mode {BOND_MODE_NAMES[mode]}")
    miimon = int(options.get("miimon", bond_defaults(mode)["miimon"]))
    if miimon and int(options.get("arp_interval", "0")):
        raise ValueError("miimon and arp_interval cannot both be enabled")
    for option in ("updelay", "downdelay", "peer_notif_delay"):
        delay = int(options.get(option, "0"))
        if delay and not miimon:
            raise ValueError(f"{option} needs miimon")
        if delay and delay % miimon:
            raise ValueError(f"{option} ({delay}) must be a multiple of miimon ({miimon})")
