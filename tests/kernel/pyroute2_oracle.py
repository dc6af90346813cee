"""The kernel tests' oracle: pyroute2's dump messages -> ``kernel`` values, one dump each.

A message is a mapping with pyroute2's keys and value forms. The backend decodes raw messages
straight into the same values (``backends.netlink.links`` and ``.addrs``, whose constants and
filters this shares); these parsers are the independent path the kernel tests compare with."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable
from typing import Any

from vdsm_net.backends.netlink.rtnl.codec import (
    BRIDGE_OPTIONS,
    DEFAULT_RULE_PRIORITIES,
    IFA_F_PERMANENT,
    IFF_LOOPBACK,
    IFF_UP,
    RT_SCOPE_LINK,
    RT_TABLE_LOCAL,
    RTPROT_KERNEL,
    SCOPE_GLOBAL,
    SCOPE_SITE,
    link_kind,
)
from vdsm_net.model import bridgeopts
from vdsm_net.model.kernel import Address, Link, LinkStats, Route, Rule

_IPV6_SKIP = (ipaddress.ip_network("ff00::/8"), ipaddress.ip_network("fe80::/10"))

# sysfs bridge option -> pyroute2's key (the attribute's name); no_linklocal_learn is a bit of
# IFLA_BR_MULTI_BOOLOPT, under a key of the backend's own that pyroute2 never fills.
BRIDGE_ATTRS: dict[str, str] = {
    **{option: name for option, (name, _, _) in BRIDGE_OPTIONS.items()},
    "no_linklocal_learn": "IFLA_BR_NO_LINKLOCAL_LEARN",
}


def _linkinfo(msg: Any) -> tuple[str | None, Any, Any]:
    info = msg.get("IFLA_LINKINFO")
    if info is None:
        return None, None, None
    return info.get("IFLA_INFO_KIND"), info.get("IFLA_INFO_DATA"), info.get("IFLA_INFO_SLAVE_DATA")


def _mac(value: Any) -> str | None:
    if not value or value == "00:00:00:00:00:00":
        return None
    return str(value).lower()


def bridge_options(data: Any) -> tuple[bool, Any]:
    """(stp, non-default options sorted) of a bridge from its IFLA_INFO_DATA."""
    values: list[tuple[str, str]] = []
    for option, attr in BRIDGE_ATTRS.items():
        value = data.get(attr) if data is not None else None
        if value is not None:
            values.append((option, str(value).lower()))
    stp = bool(data.get("IFLA_BR_STP_STATE")) if data is not None else False
    return stp, bridgeopts.strip_bridge_defaults(values)


_STAT_FIELDS = tuple(f for f in LinkStats.__dataclass_fields__)


def link_stats(msg: Any) -> LinkStats | None:
    """The link's IFLA_STATS64 counters (None when the kernel sent none)."""
    stats = msg.get("IFLA_STATS64")
    if stats is None:
        return None
    return LinkStats(**{f: int(stats.get(f) or 0) for f in _STAT_FIELDS})


def parse_links(
    msgs: Iterable[Any],
    bond_options: Callable[[str], tuple[tuple[str, str], ...]],
) -> dict[str, Link]:
    msgs = [m for m in msgs if not m["flags"] & IFF_LOOPBACK]
    names = {m["index"]: m.get("IFLA_IFNAME") for m in msgs}
    links: dict[str, Link] = {}
    for m in msgs:
        name = m.get("IFLA_IFNAME")
        kind_name, data, slave = _linkinfo(m)
        kind = link_kind(kind_name)
        perm = None
        if slave is not None and slave.get("IFLA_BOND_SLAVE_PERM_HWADDR"):
            perm = _mac(slave.get("IFLA_BOND_SLAVE_PERM_HWADDR"))
        perm = perm or _mac(_perm_address(m.get("IFLA_PERM_ADDRESS")))
        extra: dict[str, Any] = {}
        if kind == "vlan":
            extra["vlan_id"] = data.get("IFLA_VLAN_ID") if data is not None else None
            extra["vlan_base"] = names.get(m.get("IFLA_LINK"))
        elif kind == "bond":
            extra["bond_options"] = bond_options(name)
            active = data.get("IFLA_BOND_ACTIVE_SLAVE") if data is not None else None
            extra["active_slave"] = names.get(active) if active else None
        elif kind == "bridge":
            extra["stp"], extra["bridge_opts"] = bridge_options(data)
        links[name] = Link(
            name=name,
            kind=kind,
            mtu=m.get("IFLA_MTU") or 0,
            up=bool(m["flags"] & IFF_UP),
            master=names.get(m.get("IFLA_MASTER")),
            tag=m.get("IFLA_IFALIAS") or None,
            mac=_mac(m.get("IFLA_ADDRESS")),
            index=m["index"],
            oper_up=m.get("IFLA_OPERSTATE") == "UP",
            perm_mac=perm,
            stats=link_stats(m),
            **extra,
        )
    return links


def _perm_address(value: Any) -> str | None:
    """IFLA_PERM_ADDRESS is decoded as hex ("aa:bb:..." or "aabb..."); normalize to a MAC."""
    if not value:
        return None
    text = str(value).replace(":", "").lower()
    if len(text) != 12:
        return None
    return ":".join(text[i : i + 2] for i in range(0, 12, 2))


def parse_addresses(msgs: Iterable[Any], names: dict[int, str]) -> frozenset[Address]:
    out: set[Address] = set()
    for m in msgs:
        if m["scope"] not in (SCOPE_GLOBAL, SCOPE_SITE) or m["index"] not in names:
            continue
        addr = m.get("IFA_LOCAL") or m.get("IFA_ADDRESS")
        iface = ipaddress.ip_interface(f"{addr}/{m['prefixlen']}")
        if iface.version == 6 and iface.ip.is_link_local:
            continue
        flags = m.get("IFA_FLAGS") or m["flags"] or 0
        out.add(Address(names[m["index"]], iface.with_prefixlen,
                        dynamic=not flags & IFA_F_PERMANENT))
    return frozenset(out)


def _table(m: Any, attr: str) -> int:
    return int(m.get(attr) or m["table"])


def parse_routes(msgs: Iterable[Any], names: dict[int, str]) -> frozenset[Route]:
    out: set[Route] = set()
    for m in msgs:
        table = _table(m, "RTA_TABLE")
        oif = names.get(m.get("RTA_OIF"))
        if table == RT_TABLE_LOCAL or m["proto"] == RTPROT_KERNEL or oif is None:
            continue
        v6 = m["family"] == 10
        dst = m.get("RTA_DST") or ("::" if v6 else "0.0.0.0")
        net = ipaddress.ip_network(f"{dst}/{m['dst_len']}", strict=False)
        if v6 and any(net.subnet_of(skip) for skip in _IPV6_SKIP):  # type: ignore[arg-type]
            continue
        gateway = m.get("RTA_GATEWAY")
        # IPv6 routes carry no scope: an IPv6 route without a gateway is on-link
        scope_link = gateway is None and (v6 or m["scope"] == RT_SCOPE_LINK)
        out.add(Route(net.with_prefixlen, oif, gateway, table, scope_link))
    return frozenset(out)


def parse_rules(msgs: Iterable[Any]) -> frozenset[Rule]:
    out: set[Rule] = set()
    for m in msgs:
        priority = m.get("FRA_PRIORITY") or 0
        if priority in DEFAULT_RULE_PRIORITIES:
            continue
        src = m.get("FRA_SRC")
        dst = m.get("FRA_DST")
        out.add(
            Rule(
                priority=priority,
                table=_table(m, "FRA_TABLE"),
                src=_cidr(src, m["src_len"]),
                dst=_cidr(dst, m["dst_len"]),
            )
        )
    return frozenset(out)


def _cidr(addr: str | None, length: int) -> str | None:
    if addr is None:
        return None
    return ipaddress.ip_network(f"{addr}/{length}", strict=False).with_prefixlen
