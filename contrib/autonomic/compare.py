"""Compare what a host reports (``Host.getNetworkCapabilities``) with its rendered policy (pure).

The rendered request goes through the agent's own canonicalization, so defaults (MTU 1500,
bridged, STP off, bond mode 0) and spellings (``"100"`` or ``100``) compare the way the host
applies them. A network the policy does not list but the host still reports is a difference,
unless it is a bridge with foreign ports (VMs use it): then it is "in use", kept by the host in a
fullState push, and never a reason to push again.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator, Mapping
from typing import Any

from autonomic.render import Rendered
from vdsm_net.engine.canonicalize import canonical_bond, canonical_network
from vdsm_net.model.desired import Bond, Network
from vdsm_net.model.errors import NetworkError


def _same_v6(wanted: str, reported: list[Any]) -> bool:
    want = ipaddress.IPv6Interface(wanted)
    for text in reported:
        try:
            if ipaddress.IPv6Interface(str(text)) == want:
                return True
        except ValueError:
            continue
    return False


def _ipv4(name: str, net: Network, entry: Mapping[str, Any]) -> Iterator[str]:
    if net.bootproto == "dhcp":
        if not entry.get("dhcpv4"):
            yield f"{name}: DHCPv4 is off"
        return
    want = net.ipaddr or ""
    if entry.get("addr", "") != want:
        yield f"{name}: ipv4 {entry.get('addr')!r}, policy {want!r}"
    elif want and entry.get("netmask") != net.netmask:
        yield f"{name}: netmask {entry.get('netmask')!r}, policy {net.netmask!r}"
    if (entry.get("gateway") or "") != (net.gateway or ""):
        yield f"{name}: gateway {entry.get('gateway')!r}, policy {net.gateway!r}"


def _ipv6(name: str, net: Network, entry: Mapping[str, Any]) -> Iterator[str]:
    if bool(entry.get("dhcpv6")) != net.dhcpv6:
        yield f"{name}: dhcpv6 {entry.get('dhcpv6')}, policy {net.dhcpv6}"
    if bool(entry.get("ipv6autoconf")) != net.ipv6autoconf:
        yield f"{name}: ipv6autoconf {entry.get('ipv6autoconf')}, policy {net.ipv6autoconf}"
    if net.ipv6addr and not _same_v6(net.ipv6addr, list(entry.get("ipv6addrs") or [])):
        yield f"{name}: ipv6 {net.ipv6addr} missing"


def network_differences(name: str, net: Network, entry: Mapping[str, Any]) -> Iterator[str]:
    """How one reported network differs from its canonical policy form."""
    if bool(entry.get("bridged")) != net.bridged:
        yield f"{name}: bridged {entry.get('bridged')}, policy {net.bridged}"
        return
    if entry.get("southbound") != net.southbound:
        yield f"{name}: on {entry.get('southbound')!r}, policy {net.southbound!r}"
    if entry.get("vlanid") != net.vlan:
        yield f"{name}: vlan {entry.get('vlanid')!r}, policy {net.vlan!r}"
    if str(entry.get("mtu")) != str(net.mtu):
        yield f"{name}: mtu {entry.get('mtu')}, policy {net.mtu}"
    if net.bridged and entry.get("stp") != ("on" if net.stp else "off"):
        yield f"{name}: stp {entry.get('stp')}, policy {'on' if net.stp else 'off'}"
    yield from _ipv4(name, net, entry)
    yield from _ipv6(name, net, entry)


def bond_differences(name: str, bond: Bond, entry: Mapping[str, Any] | None) -> Iterator[str]:
    if entry is None:
        yield f"bond {name}: missing"
        return
    slaves = sorted(str(s) for s in entry.get("slaves") or [])
    if slaves != list(bond.nics):
        yield f"bond {name}: ports {slaves}, policy {list(bond.nics)}"
    opts = entry.get("opts") or {}
    for key, value in bond.options:
        if str(opts.get(key)) != value:
            yield f"bond {name}: {key}={opts.get(key)}, policy {key}={value}"


def foreign_ports(entry: Mapping[str, Any]) -> list[str]:
    """Ports of a reported bridged network other than its own southbound device."""
    if not entry.get("bridged"):
        return []
    south = entry.get("southbound")
    return sorted(str(p) for p in entry.get("ports") or [] if p != south)


def differences(rendered: Rendered, caps: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """``(differences, in_use)``: what a fullState push would change, and the networks the host
    keeps outside the policy because VMs use them."""
    out: list[str] = []
    reported: Mapping[str, Any] = caps.get("networks") or {}
    for name, attrs in sorted(rendered.networks.items()):
        entry = reported.get(name)
        if entry is None:
            out.append(f"{name}: missing")
            continue
        try:
            out.extend(network_differences(name, canonical_network(name, attrs), entry))
        except NetworkError as exc:  # the host refuses it too; pushing reports the error
            out.append(f"{name}: {exc.message}")
    bonds: Mapping[str, Any] = caps.get("bondings") or {}
    for name, attrs in sorted(rendered.bondings.items()):
        try:
            out.extend(bond_differences(name, canonical_bond(name, attrs), bonds.get(name)))
        except NetworkError as exc:
            out.append(f"bond {name}: {exc.message}")
    in_use: list[str] = []
    for name in sorted(set(reported) - set(rendered.networks)):
        if foreign_ports(reported[name]):
            in_use.append(name)
        else:
            out.append(f"{name}: not in the policy")
    drift = (caps.get("driftReport") or {}).get("drift") or []
    out.extend(f"drift: {d}" for d in drift)
    return out, in_use


def required_down(rendered: Rendered, caps: Mapping[str, Any],
                  stats: Mapping[str, Any]) -> list[str]:
    """Required networks the host has whose link (the NIC or the bond under it) is down."""
    reported: Mapping[str, Any] = caps.get("networks") or {}
    links: Mapping[str, Any] = stats.get("network") or {}
    down: list[str] = []
    for name in sorted(rendered.required):
        attrs = rendered.networks.get(name)
        if attrs is None or name not in reported:
            continue  # not built yet: nothing to judge
        base = attrs.get("nic") or attrs.get("bonding")
        state = (links.get(str(base)) or {}).get("state")
        if base is not None and state != "up":
            down.append(f"{name} ({base} {state or 'missing'})")
    return down
