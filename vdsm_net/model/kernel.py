"""Kernel objects as plain, immutable data: what a backend observes and what render() targets.

The planner works on these values only, so it can be tested on hand-written states.

Comparison rules (used by the planner and by verify):
- fields marked ``compare=False`` are facts that are observed but never planned
  (ifindex, operational state, permanent MAC, active slave, the MAC unless forced);
- ``Link.mac`` is compared only when the target sets it (a forced ``hwaddr``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

from vdsm_net.model.desired import Pairs
from vdsm_net.model.tc import TcObject

LinkKind = Literal["nic", "bond", "vlan", "bridge", "other", "ovs-bridge", "ovs-port"]
"""``ovs-bridge``: an Open vSwitch bridge (its local port is the kernel link of that name);
``ovs-port``: an OVS internal interface on the bridge ``master``, ``vlan_id`` its access tag.
A NIC or bond that is an OVS bridge's port has that bridge as ``master``. Their ownership tag
lives in the OVSDB row's ``external_ids`` instead of the ifalias."""

TAG_PREFIX = "vdsm-net:"
"""Ownership tags live in the link's ifalias: ``vdsm-net:net=<network>``, ``vdsm-net:bond=<bond>``
or ``vdsm-net:nic`` (a NIC the agent configured). The tag is the only memory that outlives the
process."""

SOURCE_RULE_PRIORITY = 3200
MAIN_TABLE = 254


@dataclass(frozen=True)
class LinkStats:
    """Kernel counters of one link (IFLA_STATS64), observed, never planned."""

    rx_bytes: int = 0
    tx_bytes: int = 0
    rx_dropped: int = 0
    tx_dropped: int = 0
    rx_errors: int = 0
    tx_errors: int = 0


@dataclass(frozen=True)
class Link:
    name: str
    kind: LinkKind
    mtu: int = 1500
    up: bool = False  # administrative state
    master: str | None = None
    tag: str | None = None  # ifalias ownership tag, None when unowned
    mac: str | None = None  # compared only when the target sets it
    vlan_id: int | None = None  # vlan only, or an ovs-port's access tag
    vlan_base: str | None = None  # vlan only
    bond_options: Pairs = ()  # bond only; numerized, "mode" first and always present
    stp: bool = False  # bridge only
    bridge_opts: Pairs = ()  # bridge only; the options that were set explicitly, sorted
    # observed facts, never planned:
    index: int = field(default=0, compare=False)
    oper_up: bool = field(default=False, compare=False)
    perm_mac: str | None = field(default=None, compare=False)
    active_slave: str | None = field(default=None, compare=False)
    stats: LinkStats | None = field(default=None, compare=False)

    def with_(self, **changes: object) -> Link:
        return replace(self, **changes)  # type: ignore[arg-type]


@dataclass(frozen=True, order=True)
class Address:
    ifname: str
    address: str  # "addr/prefixlen", compressed; link-local IPv6 is never observed
    dynamic: bool = field(default=False, compare=False)
    """Observed: the kernel holds it with a lifetime (SLAAC, DHCPv6), i.e. not IFA_F_PERMANENT."""

    @property
    def family(self) -> int:
        return 6 if ":" in self.address else 4


@dataclass(frozen=True, order=True)
class Route:
    dst: str  # CIDR, "0.0.0.0/0" or "::/0" for a default route
    oif: str
    gateway: str | None = None
    table: int = MAIN_TABLE
    scope_link: bool = False  # "dev X" route without a gateway (source-routing subnet route)

    @property
    def family(self) -> int:
        return 6 if ":" in self.dst else 4

    @property
    def is_default(self) -> bool:
        return self.dst in ("0.0.0.0/0", "::/0")


@dataclass(frozen=True, order=True)
class Rule:
    priority: int
    table: int
    src: str | None = None  # CIDR
    dst: str | None = None  # CIDR


@dataclass(frozen=True)
class KernelState:
    """A snapshot of the kernel: links by name, and sets of addresses, routes and rules.

    Only static routes are observed: kernel-made routes (proto kernel, the local table,
    IPv6 link-local and multicast) are left out by every backend, as are link-local addresses.
    """

    links: dict[str, Link] = field(default_factory=dict)
    addresses: frozenset[Address] = frozenset()
    routes: frozenset[Route] = frozenset()
    rules: frozenset[Rule] = frozenset()
    tc: frozenset[TcObject] = frozenset()
    """Our traffic-control objects (``model.tc``): host QoS qdiscs, classes and filters."""
    dynamic: frozenset[tuple[str, int]] = field(default=frozenset(), compare=False)
    """``(ifname, family)`` pairs a DHCP client or SLAAC configures (set by render on a target):
    the planner neither adds nor deletes their addresses, their routes, nor the source rules
    that point at those routes' tables."""
    hidden: frozenset[str] = field(default=frozenset(), compare=False)
    """Observed: names of links that exist but are left out of ``links`` (the loopback). They
    are never managed, and no network may take their name."""

    def addresses_of(self, ifname: str) -> list[Address]:
        return sorted(a for a in self.addresses if a.ifname == ifname)

    def ports_of(self, master: str) -> list[str]:
        return sorted(n for n, link in self.links.items() if link.master == master)
