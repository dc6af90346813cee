"""The network part of getCapabilities, in vdsm's shapes and value types (vdsm-wire §3.4).

Devices are the kernel's truth; networks are ours (the running config), reported only when their
top device exists. Type conventions: every mtu is a str, speed and vlanid are ints, stp is
"on"/"off", empty IPv4 values are '', an empty IPv6 gateway is '::'.
"""

from __future__ import annotations

import ipaddress
import socket
from functools import cache
from typing import TypeVar

from vdsm_net.backends.base import NicFacts
from vdsm_net.engine.qos import device_report, report
from vdsm_net.model import bridgeopts
from vdsm_net.model.desired import Network, RunningConfig
from vdsm_net.model.kernel import MAIN_TABLE, Address, KernelState, Link, Route
from vdsm_net.verbs.caps_ovs import ovs_bridged, ovs_bridgeless, ovs_shadows
from vdsm_net.verbs.shapes import (
    BondCaps,
    BridgeCaps,
    BridgedNetCaps,
    BridgelessNetCaps,
    DevInfo,
    NetworkCaps,
    NicCaps,
    OnOff,
    VlanCaps,
)
from vdsm_net.verbs.stats import Facts, link_facts

HIDDEN_NIC_PREFIXES = ("w", "usb")


@cache
def _netmask(prefix: int) -> str:
    return str(ipaddress.IPv4Network(f"0.0.0.0/{prefix}").netmask)


def _route_rank(route: Route) -> tuple[bool, int, Route]:
    """The main table first, then by table number (the route itself only breaks a tie)."""
    return route.table != MAIN_TABLE, route.table, route


class CapsIndex:
    """One pass over a kernel state, so that each entry of the report is a few dict lookups
    instead of a scan of every address, link and route (3000 entries at 1000 networks).

    ``addresses(ifname)``, ``ports(master)`` and ``gateway(ifname, family)`` answer exactly
    what ``KernelState.addresses_of``, ``KernelState.ports_of`` and a scan of the default
    routes via ``ifname`` (main table first) would."""

    def __init__(self, state: KernelState) -> None:
        self.state = state
        by_ifname: dict[str, list[Address]] = {}
        for address in state.addresses:
            by_ifname.setdefault(address.ifname, []).append(address)
        self._addresses = {name: sorted(found) for name, found in by_ifname.items()}
        by_master: dict[str, list[str]] = {}
        for name, link in state.links.items():
            if link.master is not None:
                by_master.setdefault(link.master, []).append(name)
        self._ports = {master: sorted(names) for master, names in by_master.items()}
        self._defaults: dict[tuple[str, int], Route] = {}
        for route in state.routes:
            if route.is_default and route.gateway:
                key = (route.oif, route.family)
                best = self._defaults.get(key)
                if best is None or _route_rank(route) < _route_rank(best):
                    self._defaults[key] = route

    def addresses(self, ifname: str) -> list[Address]:
        return list(self._addresses.get(ifname, ()))

    def ports(self, master: str) -> list[str]:
        return list(self._ports.get(master, ()))

    def gateway(self, ifname: str, family: int) -> tuple[str, bool]:
        """The default gateway via ``ifname`` in any table, and whether it is the main
        table's."""
        route = self._defaults.get((ifname, family))
        if route is None or route.gateway is None:
            return "", False
        return route.gateway, route.table == MAIN_TABLE


def devinfo(index: CapsIndex, link: Link, net: Network | None = None) -> DevInfo:
    """The fields common to every nic, bond, vlan, bridge and network entry, unpacked into each
    (``{**devinfo(..), ..}``). Where the entry has optional keys, mypy's extra checks cannot
    know that none of them rides in the unpacked dict: hence the ``typeddict-item`` ignores."""
    addrs = index.addresses(link.name)
    v4 = [a.address for a in addrs if a.family == 4]
    v6 = [a.address for a in addrs if a.family == 6]
    gateway, default4 = index.gateway(link.name, 4)
    gateway6, _ = index.gateway(link.name, 6)
    primary = v4[0] if v4 else ""
    if gateway:
        for cidr in v4:
            if ipaddress.IPv4Address(gateway) in ipaddress.IPv4Interface(cidr).network:
                primary = cidr
                break
    addr, _, prefix = primary.partition("/")
    return {
        "addr": addr,
        "netmask": _netmask(int(prefix)) if prefix else "",
        "ipv4addrs": v4,
        "ipv6addrs": v6,
        "gateway": gateway,
        "ipv6gateway": gateway6 or "::",
        "ipv4defaultroute": default4,
        "mtu": str(link.mtu),
        "dhcpv4": bool(net and net.bootproto == "dhcp"),
        "dhcpv6": bool(net and net.dhcpv6),
        "ipv6autoconf": bool(net and net.ipv6autoconf),
    }


def _stp(link: Link) -> OnOff:
    return "on" if link.stp else "off"


def _nic(index: CapsIndex, link: Link, facts: NicFacts, top_net: Network | None) -> NicCaps:
    out: NicCaps = {**devinfo(index, link, top_net),  # type: ignore[typeddict-item]
                    "hwaddr": link.mac or "", "speed": facts.speed}
    master = index.state.links.get(link.master) if link.master else None
    if master is not None and master.kind == "bond":
        out["permhwaddr"] = link.perm_mac or link.mac or ""
    return out


def _bond(
    index: CapsIndex, link: Link, facts: NicFacts, top_net: Network | None, switch: str
) -> BondCaps:
    return {
        **devinfo(index, link, top_net),  # type: ignore[typeddict-item]
        "hwaddr": link.mac or "",
        "slaves": index.ports(link.name),
        "active_slave": link.active_slave or "",
        "opts": dict(link.bond_options) or {"mode": "0"},
        "switch": switch,
        "speed": facts.speed,
    }


def _vlan(index: CapsIndex, link: Link, top_net: Network | None) -> VlanCaps:
    return {**devinfo(index, link, top_net), "iface": link.vlan_base or "",
            "vlanid": link.vlan_id or 0}


def _bridge(index: CapsIndex, link: Link, top_net: Network | None) -> BridgeCaps:
    opts = dict(bridgeopts.BRIDGE_DEFAULTS)
    opts.update(dict(link.bridge_opts))
    opts["stp_state"] = "1" if link.stp else "0"
    return {**devinfo(index, link, top_net), "ports": index.ports(link.name),
            "stp": _stp(link), "opts": opts}


def _network(index: CapsIndex, net: Network) -> BridgedNetCaps | BridgelessNetCaps | None:
    top = net.top
    link = index.state.links.get(top) if top else None
    if top is None or link is None:
        return None
    if net.ovs:
        info = devinfo(index, link, net)
        if net.bridged:
            return _net_extras(ovs_bridged(info, net), index, net)
        return _net_extras(ovs_bridgeless(info, net), index, net)
    if net.bridged:
        south = net.southbound
        ports = index.ports(top)
        bridged: BridgedNetCaps = {
            **devinfo(index, link, net),  # type: ignore[typeddict-item]
            "bridged": True, "iface": top, "switch": net.switch, "ports": ports,
            "stp": _stp(link), "southbound": south if south in ports else None}
        return _net_extras(bridged, index, net)
    bridgeless: BridgelessNetCaps = {
        **devinfo(index, link, net),  # type: ignore[typeddict-item]
        "bridged": False, "iface": top, "switch": net.switch, "interface": top,
        "southbound": top}  # bridgeless, the top device is the southbound one
    return _net_extras(bridgeless, index, net)


NetT = TypeVar("NetT", BridgedNetCaps, BridgelessNetCaps)


def _net_extras(out: NetT, index: CapsIndex, net: Network) -> NetT:
    if net.vlan is not None:
        out["vlanid"] = net.vlan
    qos = report(net, index.state.tc)
    if qos is not None:
        out["hostQos"] = qos
    return out


def supports_ipv6() -> bool:
    try:
        socket.socket(socket.AF_INET6, socket.SOCK_DGRAM).close()
    except OSError:
        return False
    return True


def network_caps(
    state: KernelState,
    running: RunningConfig,
    facts: Facts,
    nameservers: list[str],
    dirty: bool,
) -> NetworkCaps:
    """``Host.getNetworkCapabilities``: networks, bridges, nics, vlans, bondings and the rest."""
    index = CapsIndex(state)
    tops = {net.top: net for net in running.networks.values() if net.top}
    nics: dict[str, NicCaps] = {}
    bonds: dict[str, BondCaps] = {}
    vlans: dict[str, VlanCaps] = {}
    bridges: dict[str, BridgeCaps] = {}
    for name in sorted(state.links):
        link = state.links[name]
        top_net = tops.get(name)
        if link.kind == "nic" and not name.startswith(HIDDEN_NIC_PREFIXES):
            nics[name] = _nic(index, link, link_facts(facts, name), top_net)
        elif link.kind == "bond":
            bond = running.bonds.get(name)
            switch = bond.switch if bond is not None else "legacy"
            bonds[name] = _bond(index, link, link_facts(facts, name), top_net, switch)
        elif link.kind == "vlan":
            vlans[name] = _vlan(index, link, top_net)
        elif link.kind == "bridge" and name != ";vdsmdummy;":
            bridges[name] = _bridge(index, link, top_net)
    for dev, qos in device_report(running.networks.values(), state.tc).items():
        if dev in nics:
            nics[dev]["qos"] = qos
        elif dev in bonds:
            bonds[dev]["qos"] = qos
    return {
        "networks": _networks(index, state, running, bridges, vlans),
        "bridges": bridges,
        "nics": nics,
        "vlans": vlans,
        "bondings": bonds,
        "nameservers": list(nameservers),
        "supportsIPv6": supports_ipv6(),
        "netConfigDirty": "True" if dirty else "False",
    }


def _networks(index: CapsIndex, state: KernelState, running: RunningConfig,
              bridges: dict[str, BridgeCaps], vlans: dict[str, VlanCaps]
              ) -> dict[str, BridgedNetCaps | BridgelessNetCaps]:
    """Each network's entry; an OVS network adds its legacy-shaped shadow bridge and VLAN."""
    networks: dict[str, BridgedNetCaps | BridgelessNetCaps] = {}
    for name in sorted(running.networks):
        net = running.networks[name]
        entry = _network(index, net)
        if entry is None:
            continue
        networks[name] = entry
        if net.ovs:
            port = state.links[name]
            blank = devinfo(index, Link("", "other", mtu=port.mtu))
            shadow_bridges, shadow_vlans = ovs_shadows(devinfo(index, port, net), blank, net, port)
            bridges.update(shadow_bridges)
            vlans.update(shadow_vlans)
    return networks
