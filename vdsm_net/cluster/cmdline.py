"""The management network from a kernel command line in dracut's syntax (``man dracut.cmdline``).

What PXE setups already pass is turned into a boot spec ``{"networks": {NAME: attrs},
"bondings": {..}}`` in setupNetworks vocabulary, for the network named by ``vdsm_net.mgmt=NAME``
(default ``ovirtmgmt``). Understood:

- ``ip=<interface>:{dhcp|on|any|dhcp6|auto6}[:[<mtu>][:<macaddr>]]``
- ``ip=<client-IP>:[<peer>]:<gateway-IP>:<netmask>:<hostname>:<interface>:{none|off|dhcp|on|any|
  dhcp6|auto6}[:[<mtu>][:<macaddr>]]`` or ``...:{..}[:[<dns1>][:<dns2>]]``; IPv6 addresses in
  brackets, the netmask dotted or a prefix length. Several ``ip=`` for one interface combine (an
  IPv4 and an IPv6 address); ``bootdev=`` picks the interface when several are configured.
- ``bond=<bondname>[:<bondslaves>[:<options>[:<mtu>]]]`` (slaves and options comma-separated;
  a bare ``bond`` is dracut's ``bond0:eth0,eth1:mode=balance-rr``);
- ``vlan=<vlanname>:<phydevice>`` (the VLAN id is the name's trailing number: ``vlan0005``,
  ``vlan5``, ``eth0.0005``, ``eth0.5``);
- ``bridge=<bridgename>:<ethnames>`` (one port: a vdsm network has one lower device; a bare
  ``bridge`` is ``br0:eth0``);
- ``nameserver=<IP>``, repeatable.
- ``vdsm_net.mgmt=NAME`` and ``vdsm_net.cluster=URL[,URL]``.

Anything else on the line is not ours and is ignored. A form that is ours but wrong raises
``CmdlineError`` with the offending parameter, so the agent stops before any write.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import Any

DEFAULT_MGMT = "ovirtmgmt"
DYNAMIC_METHODS = {"dhcp": "dhcp", "on": "dhcp", "any": "dhcp", "dhcp6": "dhcp6", "auto6": "auto6"}
STATIC_METHODS = frozenset({"none", "off"})
_VLAN_ID = re.compile(r"(\d+)$")


class CmdlineError(ValueError):
    """A parameter of ours that does not parse; the message names it."""


@dataclass
class IpConf:
    """One ``ip=`` parameter, parsed."""

    interface: str
    method: str  # static, dhcp, dhcp6 or auto6
    address: str | None = None
    prefix: int | None = None
    gateway: str | None = None
    mtu: int | None = None
    dns: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class BootCmdline:
    """What the command line tells the agent: the boot spec (None without ``ip=``), the
    management network's name and the cluster's etcd URLs."""

    spec: dict[str, Any] | None
    mgmt: str
    cluster: list[str]


def split_cmdline(text: str) -> list[str]:
    """The kernel's splitting: whitespace outside double quotes; the quotes are dropped."""
    out: list[str] = []
    cur: list[str] = []
    quoted = False
    started = False
    for ch in text:
        if ch == '"':
            quoted = not quoted
            started = True
        elif ch.isspace() and not quoted:
            if started:
                out.append("".join(cur))
            cur, started = [], False
        else:
            cur.append(ch)
            started = True
    if quoted:
        raise CmdlineError("the command line has an unclosed double quote")
    if started:
        out.append("".join(cur))
    return out


def split_fields(value: str, param: str) -> list[str]:
    """``:``-separated fields where ``[...]`` (an IPv6 address) is one field, brackets dropped."""
    fields: list[str] = []
    cur: list[str] = []
    depth = 0
    for ch in value:
        if ch in "[]":
            if (ch == "[") == bool(depth):
                raise CmdlineError(f"{param}: unbalanced '[' ']'")
            depth = 1 - depth
        elif ch == ":" and depth == 0:
            fields.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    if depth:
        raise CmdlineError(f"{param}: unbalanced '[' ']'")
    fields.append("".join(cur))
    return fields


def _ip_address(text: str, param: str, what: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        raise CmdlineError(f"{param}: {what} {text!r} is not an IP address") from None


def _prefix(text: str, version: int, param: str) -> int:
    if text.isdigit():
        prefix = int(text)
        if prefix > (32 if version == 4 else 128):
            raise CmdlineError(f"{param}: prefix length {prefix} is too long")
        return prefix
    if version == 4:
        try:
            return ipaddress.IPv4Network(f"0.0.0.0/{text}").prefixlen
        except ValueError:
            pass
    raise CmdlineError(f"{param}: netmask {text!r} is neither a netmask nor a prefix length")


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _tail(conf: IpConf, rest: list[str], param: str) -> None:
    """The fields after the method: ``[<mtu>][:<macaddr>]`` or ``[<dns1>][:<dns2>]``."""
    while rest and not rest[-1]:
        rest = rest[:-1]
    if not rest:
        return
    if len(rest) <= 2 and all(_is_ip(f) for f in rest if f) and any(rest):
        conf.dns = [str(ipaddress.ip_address(f)) for f in rest if f]
        return
    if rest[0] and not rest[0].isdigit():
        raise CmdlineError(f"{param}: {rest[0]!r} is neither an MTU nor a nameserver")
    if len(rest) > 1:
        raise CmdlineError(f"{param}: a MAC address override is not supported")
    conf.mtu = int(rest[0])
    if not 68 <= conf.mtu <= 65535:
        raise CmdlineError(f"{param}: MTU {conf.mtu} is not within 68-65535")


def _method(text: str, param: str, static_ok: bool) -> str:
    if static_ok and text in STATIC_METHODS:
        return "static"
    if text in DYNAMIC_METHODS:
        return DYNAMIC_METHODS[text]
    raise CmdlineError(f"{param}: unknown method {text!r}")


def parse_ip(value: str) -> IpConf:
    param = f"ip={value}"
    fields = split_fields(value, param)
    if len(fields) == 1:
        raise CmdlineError(f"{param}: name the interface (ip=<interface>:{value})")
    if fields[1] in DYNAMIC_METHODS or len(fields) < 7:  # ip=<interface>:<method>[:<mtu>..]
        conf = IpConf(fields[0], _method(fields[1], param, static_ok=False))
        _tail(conf, fields[2:], param)
        if not conf.interface:
            raise CmdlineError(f"{param}: empty interface name")
        return conf
    address, peer, gateway, netmask, _hostname, interface, method = fields[:7]
    if peer:
        raise CmdlineError(f"{param}: a point-to-point peer is not supported")
    if not interface:
        raise CmdlineError(f"{param}: name the interface (the sixth field)")
    try:
        conf = IpConf(interface, _method(method, param, static_ok=True))
    except CmdlineError as exc:
        hint = " (an IPv6 address goes in [brackets])" if "[" not in value else ""
        raise CmdlineError(f"{exc}{hint}") from None
    _tail(conf, fields[7:], param)
    if address:
        ip = _ip_address(address, param, "address")
        conf.address = str(ip)
        conf.prefix = _prefix(netmask, ip.version, param) if netmask else ip.max_prefixlen
        if gateway:
            gw = _ip_address(gateway, param, "gateway")
            if gw.version != ip.version:
                raise CmdlineError(f"{param}: the gateway is not of the address's family")
            conf.gateway = str(gw)
    elif conf.method == "static":
        raise CmdlineError(f"{param}: a static configuration needs an address")
    elif gateway or netmask:
        raise CmdlineError(f"{param}: a gateway or netmask without an address")
    return conf


def _named_list(value: str, param: str, default: str) -> tuple[str, list[str], list[str]]:
    """``<name>[:<a,b>[:rest...]]`` as (name, [a, b], rest)."""
    fields = (value or default).split(":")
    name = fields[0]
    if not name:
        raise CmdlineError(f"{param}: empty name")
    members = [m for m in (fields[1] if len(fields) > 1 else "").split(",") if m]
    return name, members, fields[2:]


def parse_bond(value: str) -> tuple[str, dict[str, Any], int | None]:
    param = f"bond={value}"
    name, slaves, rest = _named_list(value, param, "bond0:eth0,eth1:mode=balance-rr")
    if not slaves:
        slaves = ["eth0", "eth1"]
    options = (rest[0] if rest else "") or "mode=balance-rr"
    for opt in options.split(","):
        if "=" not in opt:
            raise CmdlineError(f"{param}: bond option {opt!r} is not key=value")
    mtu = None
    if len(rest) > 1 and rest[1]:
        if not rest[1].isdigit():
            raise CmdlineError(f"{param}: MTU {rest[1]!r} is not a number")
        mtu = int(rest[1])
    if len(rest) > 2:
        raise CmdlineError(f"{param}: too many fields")
    return name, {"nics": sorted(slaves), "options": " ".join(options.split(","))}, mtu


def parse_vlan(value: str) -> tuple[str, int, str]:
    param = f"vlan={value}"
    name, _, phys = value.partition(":")
    match = _VLAN_ID.search(name)
    if not name or not phys or ":" in phys:
        raise CmdlineError(f"{param}: the form is vlan=<vlanname>:<phydevice>")
    if match is None or not 1 <= int(match.group(1)) <= 4094:
        raise CmdlineError(f"{param}: no VLAN id 1-4094 at the end of {name!r}")
    return name, int(match.group(1)), phys


def parse_bridge(value: str) -> tuple[str, str]:
    param = f"bridge={value}"
    name, ports, rest = _named_list(value, param, "br0:eth0")
    if rest or len(ports) > 1:
        raise CmdlineError(f"{param}: a network's bridge has one port, not {ports or rest}")
    return name, ports[0] if ports else "eth0"
