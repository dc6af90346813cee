"""rtnetlink requests for the plan's ops, built with struct (see ``codec``).

Links are named by IFLA_IFNAME (the kernel looks them up itself), so a request needs an ifindex
only where the protocol has no name: a master, a VLAN's base, an address's or a route's link.
"""

from __future__ import annotations

import ipaddress
import socket
import struct

from vdsm_net.backends.netlink.rtnl import codec as c
from vdsm_net.model import linkopts
from vdsm_net.model.desired import Pairs
from vdsm_net.model.kernel import Link, Route, Rule

IFF_UP = 0x1
RTPROT_STATIC = 4
RTN_UNICAST = 1
FR_ACT_TO_TBL = 1
CREATE = c.NLM_F_CREATE | c.NLM_F_EXCL

_EMPTY_IFINFO = c.IFINFOMSG.pack(0, 0, 0, 0, 0)


def set_link(name: str, *attrs: bytes, up: bool | None = None) -> bytes:
    """RTM_SETLINK on the link called ``name``; ``up`` sets or clears IFF_UP."""
    flags = change = 0
    if up is not None:
        flags, change = (IFF_UP if up else 0), IFF_UP
    header = c.IFINFOMSG.pack(0, 0, 0, flags, change)
    return c.message(c.RTM_SETLINK, 0, header, c.asciiz(c.IFLA_IFNAME, name), *attrs)


def alias(tag: str | None) -> bytes:
    """IFLA_IFALIAS; an empty one removes the alias."""
    return c.attr(c.IFLA_IFALIAS, (tag or "").encode())


def master(index: int) -> bytes:
    return c.u32(c.IFLA_MASTER, index)


def mtu(value: int) -> bytes:
    return c.u32(c.IFLA_MTU, value)


def mac(value: str) -> bytes:
    return c.attr(c.IFLA_ADDRESS, c.mac_bytes(value))


def group(value: int) -> bytes:
    return c.u32(c.IFLA_GROUP, value)


def delete_link(name: str) -> bytes:
    return c.message(c.RTM_DELLINK, 0, _EMPTY_IFINFO, c.asciiz(c.IFLA_IFNAME, name))


def delete_group(value: int) -> bytes:
    return c.message(c.RTM_DELLINK, 0, _EMPTY_IFINFO, group(value))


def get_link(name: str) -> bytes:
    return c.message(c.RTM_GETLINK, 0, _EMPTY_IFINFO, c.asciiz(c.IFLA_IFNAME, name))


def bridge_data(stp: bool, opts: Pairs) -> bytes:
    """IFLA_INFO_DATA of a bridge: its STP state and the given options."""
    parts = [c.u32(c.IFLA_BR_STP_STATE, 1 if stp else 0)]
    for option, value in opts:
        if option == "no_linklocal_learn":
            on = c.BR_BOOLOPT_NO_LL_LEARN if int(value) else 0
            payload = struct.pack("=II", on, c.BR_BOOLOPT_NO_LL_LEARN)
            parts.append(c.attr(c.IFLA_BR_MULTI_BOOLOPT, payload))
            continue
        if option not in c.BRIDGE_OPTIONS:
            continue
        _, kind, fmt = c.BRIDGE_OPTIONS[option]
        payload = c.mac_bytes(value) if fmt is None else fmt.pack(int(value))
        parts.append(c.attr(kind, payload))
    return c.nested(c.IFLA_INFO_DATA, *parts)


def linkinfo(kind: str, data: bytes) -> bytes:
    return c.nested(c.IFLA_LINKINFO, c.asciiz(c.IFLA_INFO_KIND, kind), data)


def new_link(link: Link, base_index: int | None) -> bytes:
    """RTM_NEWLINK creating ``link`` (down, no master) with its kind data, MTU, MAC and tag."""
    attrs = [c.asciiz(c.IFLA_IFNAME, link.name), mtu(link.mtu)]
    if link.mac:
        attrs.append(mac(link.mac))
    if link.kind == "bond":
        number = int(linkopts.mode_number(dict(link.bond_options).get("mode", "0")))
        attrs.append(linkinfo("bond", c.nested(c.IFLA_INFO_DATA, c.attr(c.IFLA_BOND_MODE,
                                                                         c.U8.pack(number)))))
    elif link.kind == "vlan":
        assert base_index is not None and link.vlan_id is not None
        attrs.append(c.u32(c.IFLA_LINK, base_index))
        vlan_id = c.attr(c.IFLA_VLAN_ID, c.U16.pack(link.vlan_id))
        attrs.append(linkinfo("vlan", c.nested(c.IFLA_INFO_DATA, vlan_id)))
    elif link.kind == "bridge":
        attrs.append(linkinfo("bridge", bridge_data(link.stp, link.bridge_opts)))
    return c.message(c.RTM_NEWLINK, CREATE, _EMPTY_IFINFO, *attrs)


def change_bridge(name: str, stp: bool, opts: Pairs) -> bytes:
    """RTM_NEWLINK on an existing bridge (the kernel's changelink)."""
    return c.message(c.RTM_NEWLINK, 0, _EMPTY_IFINFO, c.asciiz(c.IFLA_IFNAME, name),
                     linkinfo("bridge", bridge_data(stp, opts)))


def _family(cidr: str) -> int:
    return int(socket.AF_INET6 if ":" in cidr else socket.AF_INET)


def _packed(family: int, address: str) -> bytes:
    return socket.inet_pton(family, address)


def address(add: bool, index: int, cidr: str) -> bytes:
    iface = ipaddress.ip_interface(cidr)
    family = _family(cidr)
    raw = iface.ip.packed
    header = c.IFADDRMSG.pack(family, iface.network.prefixlen, 0, 0, index)
    kind, flags = (c.RTM_NEWADDR, CREATE) if add else (c.RTM_DELADDR, 0)
    return c.message(kind, flags, header, c.attr(2, raw), c.attr(1, raw))


def _table(table: int) -> tuple[int, bytes]:
    """(header byte, RTA_TABLE/FRA_TABLE attribute): tables over 255 fit only the attribute."""
    return (table if table < 256 else 0), c.u32(15, table)


def route(add: bool, route: Route, oif: int) -> bytes:
    family = _family(route.dst)
    net = ipaddress.ip_network(route.dst, strict=False)
    head_table, table = _table(route.table)
    scope = c.RT_SCOPE_LINK if route.scope_link and family == socket.AF_INET else 0
    # a delete matches any proto: a SLAAC default route is proto ra
    proto = RTPROT_STATIC if add else 0
    header = c.RTMSG.pack(family, net.prefixlen, 0, 0, head_table, proto, scope, RTN_UNICAST, 0)
    attrs = [table, c.u32(4, oif)]
    if net.prefixlen:
        attrs.append(c.attr(1, net.network_address.packed))
    if route.gateway:
        attrs.append(c.attr(5, _packed(family, route.gateway)))
    kind, flags = (c.RTM_NEWROUTE, CREATE) if add else (c.RTM_DELROUTE, 0)
    return c.message(kind, flags, header, *attrs)


def rule(add: bool, rule: Rule) -> bytes:
    family = int(socket.AF_INET)
    lengths = {"src": 0, "dst": 0}
    attrs = [c.u32(6, rule.priority)]
    for key, kind, cidr in (("src", 2, rule.src), ("dst", 1, rule.dst)):
        if cidr is not None:
            net = ipaddress.ip_network(cidr, strict=False)
            family = _family(cidr)
            lengths[key] = net.prefixlen
            attrs.append(c.attr(kind, net.network_address.packed))
    head_table, table = _table(rule.table)
    attrs.append(table)
    header = c.RTMSG.pack(family, lengths["dst"], lengths["src"], 0, head_table, 0, 0,
                          FR_ACT_TO_TBL, 0)
    kind, flags = (c.RTM_NEWRULE, CREATE) if add else (c.RTM_DELRULE, 0)
    return c.message(kind, flags, header, *attrs)
