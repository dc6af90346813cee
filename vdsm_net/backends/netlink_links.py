"""RTM_NEWLINK dump messages straight into ``kernel.Link`` values, without a dict per message.

This is the hot path of an observation (tens of attributes per link, thousands of links): each
message is walked once, remembering only where the attributes ``Link`` needs start (a 64 KiB
type -> slot table, so the loop does no hashing), and only those are decoded. Bridge options are
compared with the defaults on their raw values; the few that differ are normalized by
``linkopts``, and the result is memoized by raw values (bridges mostly share their options).

The meaning is ``netlink_observe.parse_links``' (which parses pyroute2's messages and serves as the
oracle in the kernel tests); this module only decodes differently.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from vdsm_net import linkopts
from vdsm_net.backends import netlink_codec as c
from vdsm_net.backends import netlink_observe as obs
from vdsm_net.kernel import Link, LinkStats
from vdsm_net.model import Pairs

Message = tuple[bytes, int, int]  # (buffer, payload start, payload end), as RtnlSocket returns
_Info = tuple[str | None, int, int, str | None, int, int]
"""IFLA_LINKINFO: (kind, data start, data end, port kind, port data start, port data end)."""
IFLA_EXT_MASK = 29
RTEXT_FILTER_SKIP_STATS = 1 << 3


@dataclass
class Cached:
    """What the batch writer remembers of a link between observations."""

    index: int
    up: bool
    group: int
    kind: str | None


@dataclass
class LinkDump:
    """One link dump, decoded: the links (loopback left out), every ifindex's name (loopback
    included, for addresses and routes) and the writer's cache."""

    links: dict[str, Link]
    names: dict[int, str]
    cache: dict[str, Cached]


def _slots(wanted: Iterable[int]) -> bytes:
    """A table from an attribute's raw type (flags included) to its slot, 0 when unwanted."""
    table = bytearray(0x10000)
    for slot, kind in enumerate(wanted, start=1):
        for flags in (0, c.NLA_F_NESTED, 0x4000, 0xC000):
            table[kind | flags] = slot
    return bytes(table)


# top-level attributes, in slot order (slot 0 means "not wanted")
_TOP = (c.IFLA_ADDRESS, c.IFLA_IFNAME, c.IFLA_MTU, c.IFLA_LINK, c.IFLA_MASTER, c.IFLA_OPERSTATE,
        c.IFLA_LINKINFO, c.IFLA_IFALIAS, c.IFLA_STATS64, c.IFLA_GROUP, c.IFLA_PERM_ADDRESS)
(_ADDRESS, _IFNAME, _MTU, _LINK, _MASTER, _OPERSTATE, _LINKINFO, _IFALIAS, _STATS, _GROUP,
 _PERM) = range(1, len(_TOP) + 1)
_TOP_SLOTS = _slots(_TOP)

# bridge options: (sysfs option, IFLA_BR_* type, struct or None for a MAC), STP state last
_BRIDGE: tuple[tuple[str, int, struct.Struct | None], ...] = tuple(
    (option, *c.BRIDGE_ATTR_IDS[key]) for option, key in obs.BRIDGE_ATTRS.items()
    if key in c.BRIDGE_ATTR_IDS
)
_BRIDGE_SLOTS = _slots([kind for _o, kind, _f in _BRIDGE]
                       + [c.IFLA_BR_STP_STATE, c.IFLA_BR_MULTI_BOOLOPT])
_BR_STP, _BR_BOOLOPT = len(_BRIDGE) + 1, len(_BRIDGE) + 2
_BRIDGE_RAW_DEFAULTS: tuple[object, ...] = tuple(
    bytes.fromhex(linkopts.BRIDGE_DEFAULTS[option].replace(":", "")) if fmt is None
    else int(linkopts.BRIDGE_DEFAULTS[option])
    for option, _k, fmt in _BRIDGE
)
_bridge_memo: dict[tuple[object, ...], tuple[bool, Pairs]] = {}
_MEMO_MAX = 1024
_BOOLOPT = struct.Struct("=II")


def _walk(buf: bytes, pos: int, end: int, slots: bytes, found: list[int]) -> None:
    """Store in ``found[slot]`` the offset of each wanted attribute of ``buf[pos:end]``."""
    unpack = c.NLA.unpack_from
    end -= 4
    while pos <= end:
        length, kind = unpack(buf, pos)
        if length < 4:
            return
        slot = slots[kind]
        if slot:
            found[slot] = pos
        pos += (length + 3) & ~3


def _payload(buf: bytes, pos: int) -> bytes:
    return buf[pos + 4 : pos + c.U16.unpack_from(buf, pos)[0]]


def _text(buf: bytes, pos: int) -> str:
    return _payload(buf, pos).split(b"\0", 1)[0].decode(errors="replace")


def _mac(raw: bytes) -> str | None:
    """A MAC as observe reports it: None when empty or all zero (six bytes)."""
    if not raw or raw == b"\0\0\0\0\0\0":
        return None
    return ":".join(f"{b:02x}" for b in raw)


def _u32(buf: bytes, pos: int) -> int:
    return int(c.U32.unpack_from(buf, pos + 4)[0]) if pos else 0


def bridge_options(buf: bytes, pos: int, end: int) -> tuple[bool, Pairs]:
    """(stp, non-default options sorted) of a bridge's IFLA_INFO_DATA in ``buf[pos:end]``."""
    found = [0] * (_BR_BOOLOPT + 1)
    _walk(buf, pos, end, _BRIDGE_SLOTS, found)
    raw: list[object] = []
    for slot, (_option, _kind, fmt) in enumerate(_BRIDGE, start=1):
        at = found[slot]
        if not at:
            raw.append(None)
        elif fmt is None:
            raw.append(_payload(buf, at))
        else:
            raw.append(fmt.unpack_from(buf, at + 4)[0])
    at = found[_BR_BOOLOPT]
    no_ll: int | None = None
    if at and c.U16.unpack_from(buf, at)[0] >= 12:
        value, mask = _BOOLOPT.unpack_from(buf, at + 4)
        if mask & c.BR_BOOLOPT_NO_LL_LEARN:
            no_ll = int(bool(value & c.BR_BOOLOPT_NO_LL_LEARN))
    key = (*raw, no_ll, bool(_u32(buf, found[_BR_STP])))
    known = _bridge_memo.get(key)
    if known is None:
        known = key[-1] is True, _strip(raw, no_ll)
        if len(_bridge_memo) >= _MEMO_MAX:
            _bridge_memo.clear()
        _bridge_memo[key] = known
    return known


def _strip(raw: list[object], no_ll: int | None) -> Pairs:
    """The options that differ from the defaults (compared raw first, then as linkopts does)."""
    differ: list[tuple[str, str]] = []
    for (option, _kind, _fmt), value, default in zip(_BRIDGE, raw, _BRIDGE_RAW_DEFAULTS,
                                                     strict=True):
        if value is None or value == default:
            continue
        text = ":".join(f"{b:02x}" for b in value) if isinstance(value, bytes) else str(value)
        differ.append((option, text))
    if no_ll:
        differ.append(("no_linklocal_learn", str(no_ll)))
    return linkopts.strip_bridge_defaults(differ) if differ else ()


def _linkinfo(buf: bytes, pos: int) -> _Info:
    kind = slave_kind = None
    ds = de = ss = se = 0
    for k, ps, pe in c.attrs(buf, pos + 4, pos + c.U16.unpack_from(buf, pos)[0]):
        if k == c.IFLA_INFO_KIND:
            kind = buf[ps:pe].split(b"\0", 1)[0].decode(errors="replace")
        elif k == c.IFLA_INFO_DATA:
            ds, de = ps, pe
        elif k == c.IFLA_INFO_SLAVE_KIND:
            slave_kind = buf[ps:pe].split(b"\0", 1)[0].decode(errors="replace")
        elif k == c.IFLA_INFO_SLAVE_DATA:
            ss, se = ps, pe
    return kind, ds, de, slave_kind, ss, se


def _first(buf: bytes, start: int, end: int, wanted: int) -> tuple[int, int] | None:
    for k, ps, pe in c.attrs(buf, start, end):
        if k == wanted:
            return ps, pe
    return None


def _bond_port_perm(buf: bytes, start: int, end: int) -> str | None:
    where = _first(buf, start, end, c.IFLA_BOND_SLAVE_PERM_HWADDR)
    return _mac(buf[where[0] : where[1]]) if where else None


def _perm_address(buf: bytes, pos: int) -> str | None:
    """IFLA_PERM_ADDRESS, when it is a MAC (six bytes)."""
    raw = _payload(buf, pos) if pos else b""
    return _mac(raw) if len(raw) == 6 else None


def dump_request(stats: bool) -> bytes:
    """RTM_GETLINK for every link; without ``stats`` the kernel leaves the counters out
    (RTEXT_FILTER_SKIP_STATS: a third of each message; older kernels ignore the flag)."""
    attrs = () if stats else (c.u32(IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS),)
    return c.message(c.RTM_GETLINK, c.NLM_F_DUMP, c.IFINFOMSG.pack(0, 0, 0, 0, 0), *attrs)


_Pending = tuple[bytes, int, int, list[int], str, _Info | None]


def _first_pass(
    msgs: Iterable[Message],
) -> tuple[dict[int, str], dict[str, Cached], list[_Pending]]:
    names: dict[int, str] = {}
    cache: dict[str, Cached] = {}
    pending: list[_Pending] = []
    unpack_header = c.IFINFOMSG.unpack_from
    header = c.IFINFOMSG.size
    for buf, s, e in msgs:
        _family, _type, index, flags, _change = unpack_header(buf, s)
        found = [0] * (len(_TOP) + 1)
        _walk(buf, s + header, e, _TOP_SLOTS, found)
        if not found[_IFNAME]:
            continue  # the kernel always names a link
        name = _text(buf, found[_IFNAME])
        info = _linkinfo(buf, found[_LINKINFO]) if found[_LINKINFO] else None
        names[index] = name
        cache[name] = Cached(index, bool(flags & obs.IFF_UP), _u32(buf, found[_GROUP]),
                             info[0] if info else None)
        if not flags & obs.IFF_LOOPBACK:
            pending.append((buf, index, flags, found, name, info))
    return names, cache, pending


def link_cache(msgs: Iterable[Message]) -> dict[str, Cached]:
    """The batch writer's cache from a link dump (no ``Link`` built)."""
    return _first_pass(msgs)[1]


def decode_links(
    msgs: Iterable[Message], bond_options: Callable[[str], Pairs], stats: bool = True
) -> LinkDump:
    """Decode one link dump (see ``LinkDump``); ``bond_options(name)`` reads a bond's options.
    Without ``stats``, ``Link.stats`` is None even where the kernel sent the counters."""
    names, cache, pending = _first_pass(msgs)
    if not stats:
        for p in pending:
            p[3][_STATS] = 0
    own = {p[1]: p[4] for p in pending}  # names of masters and VLAN bases: loopback left out
    links = {p[4]: _link(*p, own, bond_options) for p in pending}
    return LinkDump(links, names, cache)


def link_bridge_options(buf: bytes, s: int, e: int) -> tuple[bool, Pairs]:
    """(stp, non-default options) of the link in one RTM_NEWLINK message ((False, ()) when it
    has no IFLA_INFO_DATA)."""
    found = [0] * (len(_TOP) + 1)
    _walk(buf, s + c.IFINFOMSG.size, e, _TOP_SLOTS, found)
    info = _linkinfo(buf, found[_LINKINFO]) if found[_LINKINFO] else None
    if info is None or not info[1]:
        return False, ()
    return bridge_options(buf, info[1], info[2])


def _link(
    buf: bytes,
    index: int,
    flags: int,
    found: list[int],
    name: str,
    info: _Info | None,
    names: dict[int, str],
    bond_options: Callable[[str], Pairs],
) -> Link:
    kind = obs.link_kind(info[0] if info else None)
    perm = None
    if info is not None and info[3] == "bond" and info[4]:
        perm = _bond_port_perm(buf, info[4], info[5])
    perm = perm or _perm_address(buf, found[_PERM])
    extra: dict[str, Any] = {}
    if kind == "vlan":
        vid = _first(buf, info[1], info[2], c.IFLA_VLAN_ID) if info and info[1] else None
        extra["vlan_id"] = c.U16.unpack_from(buf, vid[0])[0] if vid else None
        extra["vlan_base"] = names.get(_u32(buf, found[_LINK])) if found[_LINK] else None
    elif kind == "bond":
        extra["bond_options"] = bond_options(name)
        active = None
        if info and info[1]:
            where = _first(buf, info[1], info[2], c.IFLA_BOND_ACTIVE_SLAVE)
            active = c.U32.unpack_from(buf, where[0])[0] if where else None
        extra["active_slave"] = names.get(active) if active else None
    elif kind == "bridge" and info and info[1]:
        extra["stp"], extra["bridge_opts"] = bridge_options(buf, info[1], info[2])
    stats = None
    if found[_STATS]:
        (_rxp, _txp, rxb, txb, rxe, txe, rxd, txd) = c.STATS64.unpack_from(buf, found[_STATS] + 4)
        stats = LinkStats(rx_bytes=rxb, tx_bytes=txb, rx_dropped=rxd, tx_dropped=txd,
                          rx_errors=rxe, tx_errors=txe)
    return Link(
        name=name,
        kind=kind,
        mtu=_u32(buf, found[_MTU]),
        up=bool(flags & obs.IFF_UP),
        master=names.get(_u32(buf, found[_MASTER])) if found[_MASTER] else None,
        tag=_text(buf, found[_IFALIAS]) or None if found[_IFALIAS] else None,
        mac=_mac(_payload(buf, found[_ADDRESS])) if found[_ADDRESS] else None,
        index=index,
        oper_up=bool(found[_OPERSTATE]) and buf[found[_OPERSTATE] + 4] == c.IF_OPER_UP,
        perm_mac=perm,
        stats=stats,
        **extra,
    )
