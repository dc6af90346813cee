"""Address, route and rule dump messages straight into ``kernel`` values (no dict per message).

The meaning is that of ``parse_addresses/routes/rules`` in the kernel tests' pyroute2 oracle.
Messages that observe leaves out (kernel and local-table routes, host-scope addresses) are
dropped on their fixed header, before any attribute is read. IPv4 text is formatted directly;
IPv6 goes through ``ipaddress`` for its canonical compressed form.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from functools import lru_cache

from vdsm_net.backends.netlink.rtnl import codec as c
from vdsm_net.backends.netlink.rtnl.shapes import Spec
from vdsm_net.model.kernel import Address, Route, Rule

Message = tuple[bytes, int, int]
AF_INET, AF_INET6 = socket.AF_INET, socket.AF_INET6
IFA_ADDRESS, IFA_LOCAL, IFA_FLAGS = 1, 2, 8
RTA_DST, RTA_OIF, RTA_GATEWAY, RTA_TABLE = 1, 4, 5, 15
FRA_DST, FRA_SRC, FRA_PRIORITY, FRA_TABLE = 1, 2, 6, 15
_KEPT_SCOPES = (c.SCOPE_GLOBAL, c.SCOPE_SITE)


_ADDR = Spec([(IFA_ADDRESS, "s"), (IFA_LOCAL, "s"), (IFA_FLAGS, "I")])
_ROUTE = Spec([(RTA_DST, "s"), (RTA_OIF, "I"), (RTA_GATEWAY, "s"), (RTA_TABLE, "I")])
_RULE = Spec([(FRA_DST, "s"), (FRA_SRC, "s"), (FRA_PRIORITY, "I"), (FRA_TABLE, "I")])


def _network(family: int, raw: bytes, length: int) -> str:
    """The CIDR of ``raw`` masked to ``length`` bits (``ip_network(strict=False)``)."""
    if family == AF_INET and len(raw) == 4:
        host = int.from_bytes(raw, "big") & ((0xFFFFFFFF << (32 - length)) & 0xFFFFFFFF)
        return f"{socket.inet_ntop(AF_INET, host.to_bytes(4, 'big'))}/{length}"
    return _network6(socket.inet_ntop(family, raw), length)


@lru_cache(maxsize=4096)
def _network6(text: str, length: int) -> str:
    return ipaddress.ip_network(f"{text}/{length}", strict=False).with_prefixlen


_IPV6_SKIP = tuple(ipaddress.IPv6Network(n) for n in ("ff00::/8", "fe80::/10"))


@lru_cache(maxsize=4096)
def _skipped6(cidr: str) -> bool:
    """IPv6 multicast and link-local routes are the kernel's."""
    net = ipaddress.IPv6Network(cidr)
    return any(net.subnet_of(skip) for skip in _IPV6_SKIP)


def decode_addresses(msgs: Iterable[Message], names: dict[int, str]) -> frozenset[Address]:
    out: set[Address] = set()
    unpack, read, header = c.IFADDRMSG.unpack_from, _ADDR.read, c.IFADDRMSG.size
    for buf, s, e in msgs:
        family, prefixlen, flags, scope, index = unpack(buf, s)
        if scope not in _KEPT_SCOPES or index not in names:
            continue
        address, local, ifa_flags = read(buf, s + header, e)
        raw = local or address
        if raw is None:
            continue
        if family == AF_INET and len(raw) == 4:
            text = f"{socket.inet_ntop(AF_INET, raw)}/{prefixlen}"
        else:
            iface = ipaddress.ip_interface(f"{socket.inet_ntop(family, raw)}/{prefixlen}")
            if iface.version == 6 and iface.ip.is_link_local:
                continue
            text = iface.with_prefixlen
        flags = ifa_flags or flags
        out.add(Address(names[index], text, dynamic=not flags & c.IFA_F_PERMANENT))
    return frozenset(out)


def decode_routes(msgs: Iterable[Message], names: dict[int, str]) -> frozenset[Route]:
    out: set[Route] = set()
    unpack = c.RTMSG.unpack_from
    for buf, s, e in msgs:
        family, dst_len, _src_len, _tos, table, proto, scope, _type, _flags = unpack(buf, s)
        # the header's table is the route's own one below 256 (RT_TABLE_COMPAT above)
        if family not in (AF_INET, AF_INET6) or proto == c.RTPROT_KERNEL \
                or table == c.RT_TABLE_LOCAL:
            continue
        dst, oif_index, raw_gw, rta_table = _ROUTE.read(buf, s + c.RTMSG.size, e)
        oif = names.get(oif_index)
        table = rta_table or table
        if table == c.RT_TABLE_LOCAL or oif is None:
            continue
        v6 = family == AF_INET6
        net = _network(family, dst or bytes(16 if v6 else 4), dst_len)
        if v6 and _skipped6(net):
            continue
        gateway = socket.inet_ntop(family, raw_gw) if raw_gw else None
        # IPv6 routes carry no scope: an IPv6 route without a gateway is on-link
        scope_link = gateway is None and (v6 or scope == c.RT_SCOPE_LINK)
        out.add(Route(net, oif, gateway, table, scope_link))
    return frozenset(out)


def decode_rules(msgs: Iterable[Message]) -> frozenset[Rule]:
    out: set[Rule] = set()
    unpack = c.RTMSG.unpack_from
    for buf, s, e in msgs:
        family, dst_len, src_len, _tos, table, _r1, _r2, _action, _flags = unpack(buf, s)
        dst, src, priority, fra_table = _RULE.read(buf, s + c.RTMSG.size, e)
        priority = priority or 0
        if priority in c.DEFAULT_RULE_PRIORITIES:
            continue
        out.add(Rule(
            priority=priority,
            table=fra_table or table,
            src=_network(family, src, src_len) if src is not None else None,
            dst=_network(family, dst, dst_len) if dst is not None else None,
        ))
    return frozenset(out)
