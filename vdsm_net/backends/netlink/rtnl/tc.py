"""Host QoS's traffic-control objects (``model.tc``) over rtnetlink, with our struct codec.

Requests: the root ``hfsc`` qdisc is created with NLM_F_REPLACE (it takes the place of whatever
root the device had, as vdsm's ``tc qdisc replace`` does), every other object with NLM_F_EXCL;
a class change is an RTM_NEWTCLASS without NLM_F_CREATE; a filter is deleted by its
preference. Rates go to the kernel in bytes/s (``model.tc`` holds bit/s, as tc prints them).

Dumps: every qdisc in one dump, then the classes and filters of each device whose root is ours
(the kernel dumps those per device). Only our objects are decoded: the root ``1389:``, leaves
whose handle is their class's minor, classes ``1389:x`` (not the root class), a ``u32`` that
matches everything and ``basic`` filters of one ``meta(vlan eq N)``; anything else under our
root is left out.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable

from vdsm_net.backends.netlink.rtnl import codec as c
from vdsm_net.model import ops as o
from vdsm_net.model.desired import Curve
from vdsm_net.model.tc import ROOT_MAJOR, TC_H_ROOT, Qdisc, TcClass, TcFilter, classid

RTM_NEWQDISC, RTM_DELQDISC, RTM_GETQDISC = 36, 37, 38
RTM_NEWTCLASS, RTM_DELTCLASS, RTM_GETTCLASS = 40, 41, 42
RTM_NEWTFILTER, RTM_DELTFILTER, RTM_GETTFILTER = 44, 45, 46
TCMSG = struct.Struct("=BxHiIII")  # family, pad, ifindex, handle, parent, info
TCA_KIND, TCA_OPTIONS = 1, 2
TCA_HFSC_RSC, TCA_HFSC_FSC, TCA_HFSC_USC = 1, 2, 3
CURVE = struct.Struct("=III")  # tc_service_curve: m1 (bytes/s), d (us), m2 (bytes/s)
TCA_U32_CLASSID, TCA_U32_SEL = 1, 5
U32_SEL = struct.Struct("=BBBxHHhhI")  # flags offshift nkeys, offmask off offoff hoff hmask
U32_KEY = struct.Struct("=IIii")  # mask val off offmask
TC_U32_TERMINAL = 1
TCA_BASIC_CLASSID, TCA_BASIC_EMATCHES = 1, 2
TCA_EMATCH_TREE_HDR, TCA_EMATCH_TREE_LIST = 1, 2
EMATCH_TREE_HDR = struct.Struct("=HH")  # nmatches, progid
EMATCH_HDR = struct.Struct("=HHHH")  # matchid, kind, flags, pad
TCF_EM_META = 4
TCA_EM_META_HDR, TCA_EM_META_RVALUE = 1, 3
META_HDR = struct.Struct("=HBBHBB")  # left (kind shift op), right (kind shift op)
TCF_META_TYPE_INT = 1
TCF_META_ID_VALUE, TCF_META_ID_VLAN_TAG = 0, 46
TCF_EM_OPND_EQ = 0
ETH_P_ALL_BE = 0x0300  # htons(ETH_P_ALL), as tcm_info's low half holds it
ROOT = ROOT_MAJOR << 16
CREATE = c.NLM_F_CREATE | c.NLM_F_EXCL
_CURVE_ATTRS = (("rt", TCA_HFSC_RSC), ("ls", TCA_HFSC_FSC), ("ul", TCA_HFSC_USC))
_META_VLAN = (TCF_META_TYPE_INT << 12) | TCF_META_ID_VLAN_TAG
_META_VALUE = (TCF_META_TYPE_INT << 12) | TCF_META_ID_VALUE


# ---- requests --------------------------------------------------------------------------------


def _tcmsg(index: int, handle: int, parent: int, info: int = 0) -> bytes:
    return TCMSG.pack(0, 0, index, handle, parent, info)


def _curve(curve: Curve) -> bytes:
    return CURVE.pack(curve.m1 // 8, curve.d, curve.m2 // 8)


def _qdisc(op: o.TcOp, q: Qdisc, index: int) -> bytes:
    header = _tcmsg(index, q.handle, q.parent)
    if isinstance(op, o.DelTc):
        return c.message(RTM_DELQDISC, 0, header)
    parts = [c.asciiz(TCA_KIND, q.kind)]
    if q.kind == "hfsc":
        parts.append(c.attr(TCA_OPTIONS, c.U16.pack(q.default)))
    flags = c.NLM_F_CREATE | c.NLM_F_REPLACE if q.parent == TC_H_ROOT else CREATE
    return c.message(RTM_NEWQDISC, flags, header, *parts)


def _class(op: o.TcOp, cls: TcClass, index: int) -> bytes:
    header = _tcmsg(index, classid(cls.minor), ROOT)
    if isinstance(op, o.DelTc):
        return c.message(RTM_DELTCLASS, 0, header)
    curves = cls.curves
    options = c.nested(TCA_OPTIONS, *(c.attr(kind, _curve(curves[name]))
                                      for name, kind in _CURVE_ATTRS if name in curves))
    flags = CREATE if isinstance(op, o.AddTc) else 0
    return c.message(RTM_NEWTCLASS, flags, header, c.asciiz(TCA_KIND, "hfsc"), options)


def _vlan_match(vlan: int) -> bytes:
    meta = c.attr(TCA_EM_META_HDR, META_HDR.pack(_META_VLAN, 0, TCF_EM_OPND_EQ,
                                                 _META_VALUE, 0, TCF_EM_OPND_EQ))
    meta += c.u32(TCA_EM_META_RVALUE, vlan)
    match = c.attr(1, EMATCH_HDR.pack(0, TCF_EM_META, 0, 0) + meta)
    return c.nested(TCA_BASIC_EMATCHES, c.attr(TCA_EMATCH_TREE_HDR, EMATCH_TREE_HDR.pack(1, 0)),
                    c.nested(TCA_EMATCH_TREE_LIST, match))


def _filter(op: o.TcOp, f: TcFilter, index: int) -> bytes:
    header = _tcmsg(index, 0, ROOT, (f.pref << 16) | ETH_P_ALL_BE)
    kind = c.asciiz(TCA_KIND, f.kind)
    if isinstance(op, o.DelTc):
        return c.message(RTM_DELTFILTER, 0, header, kind)
    flow = classid(f.minor)
    if f.vlan is None:
        sel = U32_SEL.pack(TC_U32_TERMINAL, 0, 1, 0, 0, 0, 0, 0) + U32_KEY.pack(0, 0, 0, 0)
        options = c.nested(TCA_OPTIONS, c.u32(TCA_U32_CLASSID, flow), c.attr(TCA_U32_SEL, sel))
    else:
        options = c.nested(TCA_OPTIONS, c.u32(TCA_BASIC_CLASSID, flow), _vlan_match(f.vlan))
    return c.message(RTM_NEWTFILTER, CREATE, header, kind, options)


def request(op: o.TcOp, index: int) -> bytes:
    """The one request of a tc op on the link with ifindex ``index``."""
    obj = op.obj
    if isinstance(obj, Qdisc):
        return _qdisc(op, obj, index)
    if isinstance(obj, TcClass):
        return _class(op, obj, index)
    return _filter(op, obj, index)


def dump_header(index: int = 0, parent: int = 0) -> bytes:
    return _tcmsg(index, 0, parent)


# ---- dumps -----------------------------------------------------------------------------------

Message = tuple[bytes, int, int]


def _attrs(buf: bytes, start: int, end: int) -> dict[int, bytes]:
    return {kind: buf[s:e] for kind, s, e in c.attrs(buf, start, end)}


def _head(msg: Message) -> tuple[tuple[int, int, int, int], dict[int, bytes]]:
    buf, start, end = msg
    _family, _pad, index, handle, parent, info = TCMSG.unpack_from(buf, start)
    return (index, handle, parent, info), _attrs(buf, start + TCMSG.size, end)


def _kind(attrs: dict[int, bytes]) -> str:
    return attrs.get(TCA_KIND, b"").split(b"\0", 1)[0].decode(errors="replace")


def decode_qdiscs(msgs: Iterable[Message], names: dict[int, str]) -> list[Qdisc]:
    """Our qdiscs out of a dump of every device's: only their headers are read for the others
    (one per link: noqueue, pfifo_fast, mq...), so the dump costs one unpack per link."""
    out = []
    unpack = TCMSG.unpack_from
    for msg in msgs:
        _f, _p, _i, handle, parent, _n = unpack(msg[0], msg[1])
        if handle != ROOT and parent >> 16 != ROOT_MAJOR:
            continue
        (index, handle, parent, _info), attrs = _head(msg)
        dev, kind = names.get(index), _kind(attrs)
        if dev is None:
            continue
        if parent == TC_H_ROOT and handle == ROOT and kind == "hfsc":
            raw = attrs.get(TCA_OPTIONS, b"")
            default = c.U16.unpack_from(raw)[0] if len(raw) >= 2 else 0
            out.append(Qdisc(dev, handle, parent, kind, default))
        elif parent >> 16 == ROOT_MAJOR and handle and handle >> 16 == parent & 0xFFFF:
            out.append(Qdisc(dev, handle, parent, kind))
    return out


def _curves(raw: bytes) -> dict[str, Curve]:
    found = _attrs(raw, 0, len(raw))
    out = {}
    for name, kind in _CURVE_ATTRS:
        if kind in found and len(found[kind]) >= CURVE.size:
            m1, d, m2 = CURVE.unpack_from(found[kind])
            out[name] = Curve(m1 * 8, d, m2 * 8)
    return out


def decode_classes(msgs: Iterable[Message], dev: str) -> list[TcClass]:
    out = []
    for msg in msgs:
        (_index, handle, _parent, _info), attrs = _head(msg)
        if handle >> 16 != ROOT_MAJOR or not handle & 0xFFFF or _kind(attrs) != "hfsc":
            continue
        curves = _curves(attrs.get(TCA_OPTIONS, b""))
        out.append(TcClass(dev, handle & 0xFFFF, curves.get("ls"), curves.get("ul"),
                           curves.get("rt")))
    return out


def _u32_catch_all(options: dict[int, bytes]) -> bool:
    sel = options.get(TCA_U32_SEL, b"")
    if len(sel) < U32_SEL.size + U32_KEY.size:
        return False
    nkeys = U32_SEL.unpack_from(sel)[2]
    mask, val, _off, _offmask = U32_KEY.unpack_from(sel, U32_SEL.size)
    return bool(nkeys == 1 and mask == 0 and val == 0)


def _meta_vlan(options: dict[int, bytes]) -> int | None:
    """N of a basic filter's one ematch ``meta(vlan eq N)``; None for any other match."""
    raw = options.get(TCA_BASIC_EMATCHES, b"")
    tree = _attrs(raw, 0, len(raw))
    head, matches = tree.get(TCA_EMATCH_TREE_HDR, b""), tree.get(TCA_EMATCH_TREE_LIST, b"")
    if len(head) < 4 or EMATCH_TREE_HDR.unpack_from(head)[0] != 1:
        return None
    match = _attrs(matches, 0, len(matches)).get(1, b"")
    if len(match) < EMATCH_HDR.size or EMATCH_HDR.unpack_from(match)[1] != TCF_EM_META:
        return None
    meta = _attrs(match, EMATCH_HDR.size, len(match))
    hdr, value = meta.get(TCA_EM_META_HDR, b""), meta.get(TCA_EM_META_RVALUE, b"")
    if len(hdr) < META_HDR.size or len(value) < 4:
        return None
    left, _ls, op, _right, _rs, _ro = META_HDR.unpack_from(hdr)
    if left != _META_VLAN or op != TCF_EM_OPND_EQ:
        return None
    return int(c.U32.unpack_from(value)[0])


def decode_filters(msgs: Iterable[Message], dev: str) -> list[TcFilter]:
    out = []
    for msg in msgs:
        if not TCMSG.unpack_from(msg[0], msg[1])[3]:
            continue  # a chain's own message (no handle): one per preference
        (_index, handle, _parent, info), attrs = _head(msg)
        raw = attrs.get(TCA_OPTIONS, b"")
        options = _attrs(raw, 0, len(raw))
        kind, pref = _kind(attrs), info >> 16
        flow = options.get(1)  # TCA_U32_CLASSID and TCA_BASIC_CLASSID
        if not handle or flow is None or len(flow) < 4:
            continue  # the chain's own message, a u32 hash table
        minor = c.U32.unpack_from(flow)[0] & 0xFFFF
        if kind == "u32" and _u32_catch_all(options):
            out.append(TcFilter(dev, pref, minor))
        elif kind == "basic":
            vlan = _meta_vlan(options)
            if vlan is not None:
                out.append(TcFilter(dev, pref, minor, vlan))
    return out
