"""RTM_NEWLINK dump messages straight into ``kernel.Link`` values, without a dict per message.

This is the hot path of an observation (tens of attributes per link, thousands of links). Each
attribute region (the message, its IFLA_LINKINFO, the kind's data) is read by a
``shapes.Spec``: one ``struct`` unpack per region once its shape is known. Bridge options
are memoized by their raw values (bridges mostly share them), so ``linkopts`` normalizes each
distinct set once.

The meaning is that of the kernel tests' pyroute2 oracle (``parse_links`` there parses pyroute2's
messages); this module only decodes differently.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from vdsm_net.backends.netlink.rtnl import codec as c
from vdsm_net.backends.netlink.rtnl.shapes import Spec
from vdsm_net.model import bridgeopts
from vdsm_net.model.desired import Pairs
from vdsm_net.model.kernel import Link, LinkStats

Message = tuple[bytes, int, int]  # (buffer, payload start, payload end), as RtnlSocket returns
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


_TOP = Spec([(c.IFLA_IFNAME, "s"), (c.IFLA_MTU, "I"), (c.IFLA_LINK, "I"), (c.IFLA_MASTER, "I"),
             (c.IFLA_OPERSTATE, "B"), (c.IFLA_LINKINFO, "s"), (c.IFLA_IFALIAS, "s"),
             (c.IFLA_STATS64, "s"), (c.IFLA_GROUP, "I"), (c.IFLA_ADDRESS, "s"),
             (c.IFLA_PERM_ADDRESS, "s")])
_INFO = Spec([(c.IFLA_INFO_KIND, "s"), (c.IFLA_INFO_DATA, "s"), (c.IFLA_INFO_SLAVE_KIND, "s"),
              (c.IFLA_INFO_SLAVE_DATA, "s")])
_VLAN = Spec([(c.IFLA_VLAN_ID, "H")])
_BOND = Spec([(c.IFLA_BOND_ACTIVE_SLAVE, "I")])
_BOND_PORT = Spec([(c.IFLA_BOND_SLAVE_PERM_HWADDR, "s")])

# bridge options, as (sysfs option, how to print the raw value); then STP and the bool options
_CODES = {c.U8: "B", c.U16: "H", c.U32: "I", c.U64: "Q"}


def _hex(raw: bytes) -> str:
    return raw.hex(":")


def _be16(raw: bytes) -> str:
    return str(c.BE16.unpack_from(raw)[0])


_BRIDGE_OPTIONS: list[tuple[str, Callable[[Any], str]]] = []
_bridge_fields: list[tuple[int, str]] = []
for _option, (_, _kind, _fmt) in c.BRIDGE_OPTIONS.items():
    _code = _CODES.get(_fmt, "s") if _fmt is not None else "s"
    _bridge_fields.append((_kind, _code))
    if _fmt is None:
        _BRIDGE_OPTIONS.append((_option, _hex))
    elif _code == "s":  # big endian (vlan_protocol)
        _BRIDGE_OPTIONS.append((_option, _be16))
    else:
        _BRIDGE_OPTIONS.append((_option, str))
_BRIDGE = Spec([*_bridge_fields, (c.IFLA_BR_STP_STATE, "I"), (c.IFLA_BR_MULTI_BOOLOPT, "s")])
_bridge_memo: dict[tuple[Any, ...], tuple[bool, Pairs]] = {}
_MEMO_MAX = 1024


def _text(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode(errors="replace")


def _mac(raw: bytes | None) -> str | None:
    """A hardware address as observe reports it: None when absent, empty or six zero bytes."""
    if not raw or raw == b"\0\0\0\0\0\0":
        return None
    return raw.hex(":")


def bridge_options(data: bytes) -> tuple[bool, Pairs]:
    """(stp, non-default options sorted) of a bridge's IFLA_INFO_DATA payload."""
    raw = _BRIDGE.read(data, 0, len(data))
    known = _bridge_memo.get(raw)
    if known is None:
        known = _bridge_options(raw)
        if len(_bridge_memo) >= _MEMO_MAX:
            _bridge_memo.clear()
        _bridge_memo[raw] = known
    return known


def _bridge_options(raw: tuple[Any, ...]) -> tuple[bool, Pairs]:
    values = [(option, show(value))
              for (option, show), value in zip(_BRIDGE_OPTIONS, raw[:-2], strict=True)
              if value is not None]
    stp, boolopt = raw[-2:]
    if boolopt is not None and len(boolopt) >= 8:
        value, mask = c.U32.unpack_from(boolopt)[0], c.U32.unpack_from(boolopt, 4)[0]
        if mask & c.BR_BOOLOPT_NO_LL_LEARN:
            values.append(("no_linklocal_learn", str(int(bool(value & c.BR_BOOLOPT_NO_LL_LEARN)))))
    return bool(stp), bridgeopts.strip_bridge_defaults(values)


def dump_request(stats: bool) -> bytes:
    """RTM_GETLINK for every link; without ``stats`` the kernel leaves the counters out
    (RTEXT_FILTER_SKIP_STATS: a fifth of each message; older kernels ignore the flag)."""
    attrs = () if stats else (c.u32(IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS),)
    return c.message(c.RTM_GETLINK, c.NLM_F_DUMP, c.IFINFOMSG.pack(0, 0, 0, 0, 0), *attrs)


_Info = tuple[str | None, bytes | None, str | None, bytes | None]
_Pending = tuple[int, int, tuple[Any, ...], str, _Info | None]


def _info(raw: bytes) -> _Info:
    """IFLA_LINKINFO: (kind, kind data, port kind, port data)."""
    kind, data, port_kind, port_data = _INFO.read(raw, 0, len(raw))
    return (_text(kind) if kind is not None else None, data,
            _text(port_kind) if port_kind is not None else None, port_data)


def _first_pass(
    msgs: Iterable[Message],
) -> tuple[dict[int, str], dict[str, Cached], list[_Pending]]:
    names: dict[int, str] = {}
    cache: dict[str, Cached] = {}
    pending: list[_Pending] = []
    unpack_header, header, read = c.IFINFOMSG.unpack_from, c.IFINFOMSG.size, _TOP.read
    for buf, s, e in msgs:
        _family, _type, index, flags, _change = unpack_header(buf, s)
        top = read(buf, s + header, e)
        if top[0] is None:
            continue  # the kernel always names a link
        name = _text(top[0])
        info = _info(top[5]) if top[5] is not None else None
        names[index] = name
        cache[name] = Cached(index, bool(flags & c.IFF_UP), top[8] or 0,
                             info[0] if info else None)
        if not flags & c.IFF_LOOPBACK:
            pending.append((index, flags, top, name, info))
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
    own = {p[0]: p[3] for p in pending}  # names of masters and VLAN bases: loopback left out
    links = {p[3]: _link(*p, own, bond_options, stats) for p in pending}
    return LinkDump(links, names, cache)


def link_bridge_options(buf: bytes, s: int, e: int) -> tuple[bool, Pairs]:
    """(stp, non-default options) of the link in one RTM_NEWLINK message ((False, ()) when it
    has no IFLA_INFO_DATA)."""
    top = _TOP.read(buf, s + c.IFINFOMSG.size, e)
    data = _info(top[5])[1] if top[5] is not None else None
    return bridge_options(data) if data is not None else (False, ())


def _link(
    index: int,
    flags: int,
    top: tuple[Any, ...],
    name: str,
    info: _Info | None,
    names: dict[int, str],
    bond_options: Callable[[str], Pairs],
    stats: bool,
) -> Link:
    _name, mtu, base, master, oper, _info_raw, alias, counters, _group, mac, perm_raw = top
    kind_name, data, port_kind, port_data = info or (None, None, None, None)
    kind = c.link_kind(kind_name)
    perm = None
    if port_kind == "bond" and port_data is not None:
        perm = _mac(_BOND_PORT.read(port_data, 0, len(port_data))[0])
    if not perm and perm_raw is not None and len(perm_raw) == 6:
        perm = _mac(perm_raw)
    extra: dict[str, Any] = {}
    if kind == "vlan":
        extra["vlan_id"] = _VLAN.read(data, 0, len(data))[0] if data is not None else None
        extra["vlan_base"] = names.get(base)
    elif kind == "bond":
        extra["bond_options"] = bond_options(name)
        active = _BOND.read(data, 0, len(data))[0] if data is not None else None
        extra["active_slave"] = names.get(active) if active else None
    elif kind == "bridge" and data is not None:
        extra["stp"], extra["bridge_opts"] = bridge_options(data)
    counted = None
    if stats and counters is not None:
        (_rxp, _txp, rxb, txb, rxe, txe, rxd, txd) = c.STATS64.unpack_from(counters)
        counted = LinkStats(rx_bytes=rxb, tx_bytes=txb, rx_dropped=rxd, tx_dropped=txd,
                            rx_errors=rxe, tx_errors=txe)
    return Link(
        name=name,
        kind=kind,
        mtu=mtu or 0,
        up=bool(flags & c.IFF_UP),
        master=names.get(master),
        tag=_text(alias) or None if alias is not None else None,
        mac=_mac(mac),
        index=index,
        oper_up=oper == c.IF_OPER_UP,
        perm_mac=perm,
        stats=counted,
        **extra,
    )
