"""Network statistics: ``Host.getNetworkStatistics`` and the network part of ``Host.getStats``.

Shapes follow vdsm-wire §3.6, with one deliberate difference: the top-level ``rxDropped`` and
``txDropped`` totals are **correct** here. vdsm swaps them (its report returns the sum of the
per-interface ``txDropped`` as ``rxDropped`` and vice versa); an engine only displays these
totals, so reporting the true values breaks no contract.

Counters come from the same link dump as everything else (``Link.stats``, IFLA_STATS64 on the
netlink backend); a link without counters (the simulated kernel) reports zeros.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from vdsm_net.backends.base import NicFacts
from vdsm_net.model.errors import KernelError
from vdsm_net.model.kernel import KernelState, Link, LinkStats
from vdsm_net.verbs.shapes import HostStats, IfaceStats, NetworkStatistics

Facts = Callable[[str], NicFacts]
DEFAULT_SPEED = 1000
"""vdsm reports 1000 Mb/s when a link's real speed is 0 or unknown."""

SPEED_KINDS = ("nic", "bond", "vlan")


def link_facts(facts: Facts, name: str) -> NicFacts:
    """A link's facts, or the unknown values when the backend has none for it."""
    try:
        return facts(name)
    except (KernelError, OSError):
        return NicFacts()


def facts_once(facts: Facts) -> Facts:
    """``link_facts`` read at most once per name: within one report, a thousand VLANs on one
    bond read the bond's sysfs files (and ethtool) once, not a thousand times."""
    known: dict[str, NicFacts] = {}

    def lookup(name: str) -> NicFacts:
        info = known.get(name)
        if info is None:
            info = known[name] = link_facts(facts, name)
        return info

    return lookup


def _speed(state: KernelState, link: Link, facts: Facts) -> tuple[int, str]:
    """Speed and duplex of a nic, bond or vlan (a vlan reports its base's)."""
    if link.kind not in SPEED_KINDS:
        return 0, "unknown"
    name = link.vlan_base if link.kind == "vlan" and link.vlan_base else link.name
    info = link_facts(facts, name)
    return info.speed, info.duplex


def interface_stats(
    state: KernelState, link: Link, facts: Facts, sample_time: float
) -> IfaceStats:
    counters = link.stats or LinkStats()
    speed, duplex = _speed(state, link, facts)
    return {
        "name": link.name,
        "rx": str(counters.rx_bytes),
        "tx": str(counters.tx_bytes),
        "rxDropped": str(counters.rx_dropped),
        "txDropped": str(counters.tx_dropped),
        "rxErrors": str(counters.rx_errors),
        "txErrors": str(counters.tx_errors),
        "state": "up" if link.oper_up else "down",
        "speed": str(speed or DEFAULT_SPEED),
        "duplex": duplex,
        "sampleTime": sample_time,
    }


def network_statistics(
    state: KernelState, facts: Facts, now: Callable[[], float] = time.time
) -> NetworkStatistics:
    """``Host.getNetworkStatistics``: every link, plus the (correct, unswapped) drop totals."""
    sample_time = now()
    once = facts_once(facts)
    network = {
        name: interface_stats(state, state.links[name], once, sample_time)
        for name in sorted(state.links)
    }
    rx_dropped = sum(int(s["rxDropped"]) for s in network.values())
    tx_dropped = sum(int(s["txDropped"]) for s in network.values())
    return {"network": network, "rxDropped": rx_dropped, "txDropped": tx_dropped}


def host_stats(
    state: KernelState, facts: Facts, dirty: bool, now: Callable[[], float] = time.time
) -> HostStats:
    """The network part of ``Host.getStats``: top-level totals are strings (vdsm's '%d'), as its
    convertToStr makes every top-level number."""
    report = network_statistics(state, facts, now)
    return {
        "network": report["network"],
        "rxDropped": str(report["rxDropped"]),
        "txDropped": str(report["txDropped"]),
        "netConfigDirty": "True" if dirty else "False",
    }
