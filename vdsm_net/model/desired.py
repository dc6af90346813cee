"""The typed desired state: what the engine asked for, after canonicalization.

Canonicalization (engine strings -> these types) lives in ``canonicalize.py``; validation in
``validate.py``. Everything here is immutable plain data. ``to_wire()`` gives back vdsm's canonical
attribute dict (the form the running config, the hooks and rollback diffs use).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Pairs = tuple[tuple[str, str], ...]
"""Ordered ``(key, value)`` pairs: a hashable, deterministic stand-in for a string map."""

DEFAULT_MTU = 1500


@dataclass(frozen=True, order=True)
class Curve:
    """An HFSC service curve: ``m1`` for ``d`` microseconds, then ``m2`` (rates in bit/s; a
    link share ``ls`` counts as a share of 1..100 in ``HostQos``, as the engine sends it)."""

    m1: int = 0
    d: int = 0
    m2: int = 0

    def describe(self) -> str:
        head = f"m1 {self.m1}bit d {self.d}us " if self.m1 or self.d else ""
        return f"{head}m2 {self.m2}bit"

    def to_wire(self) -> dict[str, int]:
        out = {"m2": self.m2}
        if self.m1 or self.d:
            out.update(m1=self.m1, d=self.d)
        return out


@dataclass(frozen=True)
class HostQos:
    """``hostQos.out`` of a network (vdsm-wire §3.1): link share, upper limit, real time."""

    ls: Curve | None = None
    ul: Curve | None = None
    rt: Curve | None = None

    def to_wire(self) -> dict[str, Any]:
        out = {k: c.to_wire() for k, c in (("ls", self.ls), ("ul", self.ul), ("rt", self.rt))
               if c is not None}
        return {"out": out}


@dataclass(frozen=True)
class Network:
    """One network of ``setupNetworks`` after canonicalization (vdsm-wire §3.1, §4.2)."""

    name: str
    nic: str | None = None
    bonding: str | None = None
    vlan: int | None = None
    bridged: bool = True
    stp: bool = False
    mtu: int = DEFAULT_MTU
    ipaddr: str | None = None
    netmask: str | None = None
    gateway: str | None = None
    bootproto: str = "none"
    dhcpv6: bool = False
    ipv6autoconf: bool = False
    ipv6addr: str | None = None  # compressed "addr/prefixlen"
    ipv6gateway: str | None = None
    default_route: bool = False
    nameservers: tuple[str, ...] = ()
    switch: str = "legacy"
    bridge_opts: Pairs = ()  # from custom.bridge_opts, sorted by key
    custom: Pairs = ()  # the whole custom map, sorted by key
    host_qos: HostQos | None = None  # tc HFSC on the base device (engine/qos.py)

    @property
    def ovs(self) -> bool:
        """An Open vSwitch network: an internal port named after it on its base's OVS bridge."""
        return self.switch == "ovs"

    @property
    def base(self) -> str | None:
        """The southbound base device: the NIC or the bond."""
        return self.nic or self.bonding

    @property
    def vlan_device(self) -> str | None:
        base = self.base
        if base is None or self.vlan is None:
            return None
        return f"{base}.{self.vlan}"

    @property
    def southbound(self) -> str | None:
        """The device under the bridge (or the top device when bridgeless). On OVS it is only the
        name caps report (vdsm's legacy-shaped topology): the kernel has no VLAN device."""
        return self.vlan_device or self.base

    @property
    def top(self) -> str | None:
        """The device that carries the IP configuration (on OVS always the internal port)."""
        return self.name if self.bridged or self.ovs else self.southbound

    def to_wire(self) -> dict[str, Any]:
        """vdsm's canonical attribute dict for this network (None values left out)."""
        out: dict[str, Any] = {
            "mtu": self.mtu,
            "bridged": self.bridged,
            "bootproto": self.bootproto,
            "dhcpv6": self.dhcpv6,
            "ipv6autoconf": self.ipv6autoconf,
            "defaultRoute": self.default_route,
            "nameservers": list(self.nameservers),
            "switch": self.switch,
        }
        if self.bridged:
            out["stp"] = self.stp
        for key, value in (
            ("nic", self.nic),
            ("bonding", self.bonding),
            ("vlan", self.vlan),
            ("ipaddr", self.ipaddr),
            ("netmask", self.netmask),
            ("gateway", self.gateway),
            ("ipv6addr", self.ipv6addr),
            ("ipv6gateway", self.ipv6gateway),
            ("hostQos", self.host_qos.to_wire() if self.host_qos else None),
        ):
            if value is not None:
                out[key] = value
        custom = dict(self.custom)
        if self.bridge_opts:
            custom["bridge_opts"] = " ".join(f"{k}={v}" for k, v in self.bridge_opts)
        if custom:
            out["custom"] = custom
        return out


@dataclass(frozen=True)
class Bond:
    """One bond of ``setupNetworks`` after canonicalization."""

    name: str
    nics: tuple[str, ...]  # sorted
    options: Pairs = (("mode", "0"),)  # numerized; "mode" always first and present
    hwaddr: str | None = None
    switch: str = "legacy"

    @property
    def mode(self) -> str:
        return dict(self.options).get("mode", "0")

    def to_wire(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "nics": list(self.nics),
            "options": " ".join(f"{k}={v}" for k, v in self.options),
            "switch": self.switch,
        }
        if self.hwaddr is not None:
            out["hwaddr"] = self.hwaddr
        return out


@dataclass(frozen=True)
class Options:
    """``setupNetworks`` options (vdsm-wire §3.1) plus the ``fullState`` extension."""

    connectivity_check: bool = True
    connectivity_timeout: int = 4
    commit_on_success: bool = False
    full_state: bool = False
    in_rollback: bool = False


@dataclass(frozen=True)
class Request:
    """A canonical request. A ``None`` value means ``remove: true``."""

    networks: dict[str, Network | None] = field(default_factory=dict)
    bondings: dict[str, Bond | None] = field(default_factory=dict)
    options: Options = field(default_factory=Options)
    remove_conflicts: frozenset[str] = frozenset()
    """Networks whose ``remove: true`` came with other keys besides ``custom`` (validate: 21)."""


@dataclass(frozen=True)
class RunningConfig:
    """The desired state that lives in memory only: every network and bond the agent owns."""

    networks: dict[str, Network] = field(default_factory=dict)
    bonds: dict[str, Bond] = field(default_factory=dict)

    def default_route_network(self) -> str | None:
        for name, net in self.networks.items():
            if net.default_route:
                return name
        return None
