"""A kernel command line -> the boot spec of its management network (see ``cmdline``).

The ``ip=`` interface is followed down: a ``bridge=`` of that name makes the network bridged
over its port, a ``vlan=`` gives the VLAN id and base, a ``bond=`` base becomes the network's
``bonding`` (and a bondings entry), anything else is the NIC. The network takes the name from
``vdsm_net.mgmt`` (vdsm names the bridge after the network, so dracut's bridge name is not kept).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from vdsm_net.cluster.cmdline import (
    DEFAULT_MGMT,
    BootCmdline,
    CmdlineError,
    IpConf,
    parse_bond,
    parse_bridge,
    parse_ip,
    parse_vlan,
    split_cmdline,
)


@dataclass
class Parsed:
    ips: list[IpConf] = field(default_factory=list)
    bonds: dict[str, tuple[dict[str, Any], int | None]] = field(default_factory=dict)
    vlans: dict[str, tuple[int, str]] = field(default_factory=dict)
    bridges: dict[str, str] = field(default_factory=dict)
    nameservers: list[str] = field(default_factory=list)
    bootdev: str | None = None
    mgmt: str = DEFAULT_MGMT
    cluster: list[str] = field(default_factory=list)


def _once(table: dict[str, Any], name: str, value: Any, param: str) -> None:
    if name in table:
        raise CmdlineError(f"{param}: {name!r} is defined twice")
    table[name] = value


def _nameserver(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value.strip("[]")))
    except ValueError:
        raise CmdlineError(f"nameserver={value}: not an IP address") from None


def _one(parsed: Parsed, key: str, value: str | None) -> None:
    param = key if value is None else f"{key}={value}"
    text = value or ""
    if key == "ip":
        if not text:
            raise CmdlineError("ip: needs a value")
        parsed.ips.append(parse_ip(text))
    elif key == "bond":
        name, attrs, mtu = parse_bond(text)
        _once(parsed.bonds, name, (attrs, mtu), param)
    elif key == "vlan":
        name, vid, phys = parse_vlan(text)
        _once(parsed.vlans, name, (vid, phys), param)
    elif key == "bridge":
        name, port = parse_bridge(text)
        _once(parsed.bridges, name, port, param)
    elif key == "nameserver":
        parsed.nameservers.append(_nameserver(text))
    elif key == "bootdev":
        parsed.bootdev = text or None
    elif key == "vdsm_net.mgmt":
        if not text or "/" in text or len(text) > 15:
            raise CmdlineError(f"{param}: a network name of 1-15 characters, no '/'")
        parsed.mgmt = text
    elif key == "vdsm_net.cluster":
        parsed.cluster = [u for u in text.split(",") if u]
        if not parsed.cluster:
            raise CmdlineError(f"{param}: needs URL[,URL...]")


def parse_tokens(tokens: Iterable[str]) -> Parsed:
    parsed = Parsed()
    for token in tokens:
        key, sep, value = token.partition("=")
        _one(parsed, key, value if sep else None)
    return parsed


def _mgmt_ips(parsed: Parsed) -> list[IpConf]:
    interfaces = sorted({c.interface for c in parsed.ips})
    if len(interfaces) > 1:
        if parsed.bootdev not in interfaces:
            raise CmdlineError(
                f"ip= configures {', '.join(interfaces)}: bootdev=<interface> names the "
                "management one")
        interfaces = [parsed.bootdev]
    return [c for c in parsed.ips if c.interface == interfaces[0]]


def _family(conf: IpConf) -> int:
    if conf.address is not None:
        return ipaddress.ip_address(conf.address).version
    return 6 if conf.method in ("dhcp6", "auto6") else 4


def _addressing(confs: list[IpConf]) -> dict[str, Any]:
    attrs: dict[str, Any] = {"bootproto": "none", "defaultRoute": True}
    seen: set[int] = set()
    for conf in confs:
        family = _family(conf)
        if family in seen:
            raise CmdlineError(f"ip= configures IPv{family} of {conf.interface} twice")
        seen.add(family)
        if conf.method == "dhcp":
            attrs["bootproto"] = "dhcp"
        elif conf.method == "dhcp6":
            attrs["dhcpv6"] = True
        elif conf.method == "auto6":
            attrs["ipv6autoconf"] = True
        if conf.address is not None and family == 4:
            net = ipaddress.IPv4Network(f"0.0.0.0/{conf.prefix}")
            attrs.update(ipaddr=conf.address, netmask=str(net.netmask))
            if conf.gateway:
                attrs["gateway"] = conf.gateway
        elif conf.address is not None:
            attrs["ipv6addr"] = f"{conf.address}/{conf.prefix}"
            if conf.gateway:
                attrs["ipv6gateway"] = conf.gateway
        if conf.mtu is not None:
            attrs["mtu"] = conf.mtu
    return attrs


def _lower(parsed: Parsed, top: str, attrs: dict[str, Any]) -> str:
    """Bridge and VLAN layers under ``top``; returns the base device (a NIC or a bond)."""
    attrs["bridged"] = top in parsed.bridges
    lower = parsed.bridges.get(top, top)
    if lower in parsed.bridges:
        raise CmdlineError(f"bridge={top}: its port {lower} is a bridge")
    if lower in parsed.vlans:
        vid, base = parsed.vlans[lower]
        attrs["vlan"] = vid
        if base in parsed.vlans or base in parsed.bridges:
            raise CmdlineError(f"vlan={lower}:{base}: the base must be a NIC or a bond")
        return base
    return lower


def build_spec(parsed: Parsed) -> dict[str, Any] | None:
    if not parsed.ips:
        return None
    confs = _mgmt_ips(parsed)
    attrs = _addressing(confs)
    base = _lower(parsed, confs[0].interface, attrs)
    bondings: dict[str, Any] = {}
    if base in parsed.bonds:
        bond_attrs, bond_mtu = parsed.bonds[base]
        attrs["bonding"] = base
        bondings[base] = dict(bond_attrs)
        if bond_mtu is not None:
            attrs.setdefault("mtu", bond_mtu)
    else:
        attrs["nic"] = base
    dns = parsed.nameservers + [d for c in confs for d in c.dns]
    if dns:
        attrs["nameservers"] = list(dict.fromkeys(dns))
    return {"networks": {parsed.mgmt: attrs}, "bondings": bondings}


def parse_cmdline(text: str) -> BootCmdline:
    """The whole command line; raises ``CmdlineError`` on a bad parameter of ours."""
    parsed = parse_tokens(split_cmdline(text))
    return BootCmdline(build_spec(parsed), parsed.mgmt, parsed.cluster)


def read_cmdline(path: str) -> BootCmdline:
    with open(path, encoding="utf-8", errors="replace") as f:
        return parse_cmdline(f.read())
