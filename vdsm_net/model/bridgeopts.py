"""Bridge options accepted in ``custom.bridge_opts``: their Linux 6.1 defaults, ranges and
canonical form (decimal integers as the netlink attribute carries them; see ``linkopts`` for the
canonical forms and the sources).
"""

from __future__ import annotations

from collections.abc import Iterable

from vdsm_net.model.desired import Pairs
from vdsm_net.model.linkopts import normalize_mac

# Bridge options accepted in custom.bridge_opts: sysfs names under /sys/class/net/<br>/bridge/,
# with the defaults of a bridge created over netlink on Linux 6.1 (br_dev_setup, br_stp_timer
# defaults, br_multicast_init). STP has its own field (Network.stp) and is not here.
BRIDGE_DEFAULTS: dict[str, str] = {
    "forward_delay": "1500",  # 15 s in clock_t
    "hello_time": "200",  # 2 s
    "max_age": "2000",  # 20 s
    "ageing_time": "30000",  # 300 s
    "priority": "32768",
    "group_fwd_mask": "0",
    "group_addr": "01:80:c2:00:00:00",
    "no_linklocal_learn": "0",
    "vlan_filtering": "0",
    "vlan_protocol": "33024",  # 0x8100
    "default_pvid": "1",
    "vlan_stats_enabled": "0",
    "vlan_stats_per_port": "0",
    "multicast_snooping": "1",
    "multicast_router": "1",
    "multicast_querier": "0",
    "multicast_query_use_ifaddr": "0",
    "multicast_stats_enabled": "0",
    "multicast_igmp_version": "2",
    "multicast_mld_version": "1",
    "hash_max": "4096",
    "multicast_last_member_count": "2",
    "multicast_startup_query_count": "2",
    "multicast_last_member_interval": "100",  # 1 s
    "multicast_membership_interval": "26000",  # 260 s
    "multicast_querier_interval": "25500",  # 255 s
    "multicast_query_interval": "12500",  # 125 s
    "multicast_query_response_interval": "1000",  # 10 s
    "multicast_startup_query_interval": "3125",  # 31.25 s
}

_BRIDGE_RANGES: dict[str, tuple[int, int]] = {
    "hello_time": (100, 1000),
    "max_age": (600, 4000),
    "priority": (0, 65535),
    "group_fwd_mask": (0, 0xFFFF),
    "no_linklocal_learn": (0, 1),
    "vlan_filtering": (0, 1),
    "default_pvid": (0, 4094),
    "vlan_stats_enabled": (0, 1),
    "vlan_stats_per_port": (0, 1),
    "multicast_snooping": (0, 1),
    "multicast_router": (0, 2),
    "multicast_querier": (0, 1),
    "multicast_query_use_ifaddr": (0, 1),
    "multicast_stats_enabled": (0, 1),
    "multicast_igmp_version": (2, 3),
    "multicast_mld_version": (1, 2),
}


def bridge_option_value(option: str, value: str) -> str:
    """One bridge option's value in canonical form; ValueError when unknown or unacceptable."""
    if option not in BRIDGE_DEFAULTS:
        raise ValueError(f"invalid bridge option {option!r}")
    if option == "group_addr":
        return normalize_mac(value)
    text = value.strip().lower()
    try:
        number = int(text, 16) if text.startswith("0x") else int(text)
    except ValueError:
        raise ValueError(f"invalid bridge option value {option}={value!r}") from None
    low, high = _BRIDGE_RANGES.get(option, (0, 2**32 - 1))
    if not low <= number <= high:
        raise ValueError(f"invalid bridge option value {option}={value!r}: not in {low}..{high}")
    if option == "vlan_protocol" and number not in (0x8100, 0x88A8):
        raise ValueError(f"invalid bridge option value {option}={value!r}")
    if option == "group_fwd_mask" and number & 0x7:
        raise ValueError("invalid bridge option value group_fwd_mask: bits 0-2 are restricted")
    return str(number)


def strip_bridge_defaults(options: Iterable[tuple[str, str]]) -> Pairs:
    """Bridge option pairs without those equal to the default, sorted by key.

    Values are normalized first when they can be; an unknown key or a bad value is kept as given
    (validate rejects it with ERR_BAD_PARAMS)."""
    out: dict[str, str] = {}
    for key, value in options:
        try:
            out[key] = bridge_option_value(key, value)
        except ValueError:
            out[key] = value
    return tuple(sorted((k, v) for k, v in out.items() if not _bridge_default(k, v)))


def _bridge_default(key: str, value: str) -> bool:
    """Equal to the kernel default. Time options are kept in jiffies and shown in centiseconds,
    so the same default reads back 1 cs off on kernels with another HZ (3124 for 3125)."""
    default = BRIDGE_DEFAULTS.get(key)
    if default == value:
        return True
    if default is None or not _is_time_option(key):
        return False
    try:
        return abs(int(value) - int(default)) <= 1
    except ValueError:
        return False


def _is_time_option(key: str) -> bool:
    return key.endswith(("_interval", "_time", "_delay", "max_age"))
