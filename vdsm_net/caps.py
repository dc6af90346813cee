"""The network part of getCapabilities, in vdsm's shapes and value types (vdsm-wire §3.4).

Devices are the kernel's truth; networks are ours (the running config), reported only when their
top device exists. Type conventions: every mtu is a str, speed and vlanid are ints, stp is
"on"/"off", empty IPv4 values are '', an empty IPv6 gateway is '::'.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

from vdsm_net import linkopts
from vdsm_net.backends.base import NicFacts
from vdsm_net.kernel import MAIN_TABLE, KernelState, Link
from vdsm_net.model import Network, RunningConfig
from vdsm_net.stats import Facts, link_facts

HIDDEN_NIC_PREFIXES = ("w", "usb")


def _netmask(prefix: int) -> str:
    return str(ipaddress.IPv4Network(f"0.0.0.0/{prefix}").netmask)


def _gateway(state: KernelState, ifname: str, family: int) -> tuple[str, bool]:
    """The default gateway via ``ifname`` in any table, and whether it is the main table's."""
    found = ""
    for route in sorted(state.routes, key=lambda r: (r.table != MAIN_TABLE, r.table)):
        if route.oif == ifname and route.is_default and route.family == family and route.gateway:
            if route.table == MAIN_TABLE:
                return route.gateway, True
            found = found or route.gateway
    return found, False


def devinfo(state: KernelState, link: Link, net: Network | None = None) -> dict[str, Any]:
    """The fields common to every nic, bond, vlan, bridge and network entry."""
    addrs = state.addresses_of(link.name)
    v4 = [a.address for a in addrs if a.family == 4]
    v6 = [a.address for a in addrs if a.family == 6]
    gateway, default4 = _gateway(state, link.name, 4)
    gateway6, _ = _gateway(state, link.name, 6)
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


def _nic(
    state: KernelState, link: Link, facts: NicFacts, top_net: Network | None
) -> dict[str, Any]:
    out = devinfo(state, link, top_net)
    out["hwaddr"] = link.mac or ""
    out["speed"] = facts.speed
    master = state.links.get(link.master) if link.master else None
    if master is not None and master.kind == "bond":
        out["permhwaddr"] = link.perm_mac or link.mac or ""
    return out


def _bond(
    state: KernelState, link: Link, facts: NicFacts, top_net: Network | None
) -> dict[str, Any]:
    out = devinfo(state, link, top_net)
    out.update(
        hwaddr=link.mac or "",
        slaves=state.ports_of(link.name),
        active_slave=link.active_slave or "",
        opts=dict(link.bond_options) or {"mode": "0"},
        switch="legacy",
        speed=facts.speed,
    )
    return out


def _bridge(state: KernelState, link: Link, top_net: Network | None) -> dict[str, Any]:
    out = devinfo(state, link, top_net)
    opts = dict(linkopts.BRIDGE_DEFAULTS)
    opts.update(dict(link.bridge_opts))
    opts["stp_state"] = "1" if link.stp else "0"
    out.update(ports=state.ports_of(link.name), stp="on" if link.stp else "off", opts=opts)
    return out


def _network(state: KernelState, net: Network) -> dict[str, Any] | None:
    top = net.top
    link = state.links.get(top) if top else None
    if top is None or link is None:
        return None
    out = devinfo(state, link, net)
    out.update(bridged=net.bridged, iface=top, switch=net.switch)
    south = net.southbound
    if net.bridged:
        ports = state.ports_of(top)
        out.update(ports=ports, stp="on" if link.stp else "off")
        out["southbound"] = south if south in ports else None
    else:
        out.update(interface=top, southbound=south)
    if net.vlan is not None:
        out["vlanid"] = net.vlan
    if net.host_qos is not None:
        out["hostQos"] = net.host_qos
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
) -> dict[str, Any]:
    """``Host.getNetworkCapabilities``: networks, bridges, nics, vlans, bondings and the rest."""
    tops = {net.top: net for net in running.networks.values() if net.top}
    nics: dict[str, Any] = {}
    bonds: dict[str, Any] = {}
    vlans: dict[str, Any] = {}
    bridges: dict[str, Any] = {}
    for name in sorted(state.links):
        link = state.links[name]
        top_net = tops.get(name)
        if link.kind == "nic" and not name.startswith(HIDDEN_NIC_PREFIXES):
            nics[name] = _nic(state, link, link_facts(facts, name), top_net)
        elif link.kind == "bond":
            bonds[name] = _bond(state, link, link_facts(facts, name), top_net)
        elif link.kind == "vlan":
            vlans[name] = devinfo(state, link, top_net)
            vlans[name].update(iface=link.vlan_base or "", vlanid=link.vlan_id or 0)
        elif link.kind == "bridge" and name != ";vdsmdummy;":
            bridges[name] = _bridge(state, link, top_net)
    networks = {}
    for name in sorted(running.networks):
        entry = _network(state, running.networks[name])
        if entry is not None:
            networks[name] = entry
    return {
        "networks": networks,
        "bridges": bridges,
        "nics": nics,
        "vlans": vlans,
        "bondings": bonds,
        "nameservers": list(nameservers),
        "supportsIPv6": supports_ipv6(),
        "netConfigDirty": str(bool(dirty)),
    }
