"""The tc codec without a kernel: every request decodes back (the dump decoders read the same
layout the kernel answers with) into the object it was made from, and the numbers on the wire
are the kernel's (bytes/s, ETH_P_ALL in network order, the meta ids of linux/tc_em_meta.h)."""

from __future__ import annotations

import struct

import pytest

from vdsm_net.backends.netlink.rtnl import codec as c
from vdsm_net.backends.netlink.rtnl import tc
from vdsm_net.model.desired import Curve
from vdsm_net.model.ops import AddTc, ChangeTc, DelTc
from vdsm_net.model.tc import Qdisc, TcClass, TcFilter, TcObject

OBJECTS: list[TcObject] = [
    Qdisc("eth0", 0x13890000, default=0x1388),
    Qdisc("eth0", 0x000A0000, 0x1389000A, "fq_codel"),
    TcClass("eth0", 10, ls=Curve(m2=160), ul=Curve(m2=100_000_000), rt=Curve(8, 1000, 800)),
    TcClass("eth0", 0x1388, ls=Curve(m2=400)),
    TcFilter("eth0", 10, 10, 10),
    TcFilter("eth0", 5000, 0x1388),
]


def _payload(msg: bytes) -> tc.Message:
    length, _kind, _flags, _seq, _pid = c.NLMSGHDR.unpack_from(msg)
    return (msg, c.NLMSGHDR.size, length)


def _decode(obj: TcObject, msg: bytes) -> list[TcObject]:
    if isinstance(obj, Qdisc):
        return list(tc.decode_qdiscs([_payload(msg)], {7: "eth0"}))
    if isinstance(obj, TcClass):
        return list(tc.decode_classes([_payload(msg)], "eth0"))
    return list(tc.decode_filters([_payload(msg)], "eth0"))


@pytest.mark.parametrize("obj", OBJECTS, ids=[o.describe() for o in OBJECTS])
def test_a_request_decodes_back_into_its_object(obj: TcObject) -> None:
    msg = tc.request(AddTc(obj), 7)
    assert c.NLMSGHDR.unpack_from(msg)[1] in (tc.RTM_NEWQDISC, tc.RTM_NEWTCLASS,
                                               tc.RTM_NEWTFILTER)
    if isinstance(obj, TcFilter):  # the kernel gives a filter its handle: 0 in the request
        msg = msg[:c.NLMSGHDR.size + 8] + struct.pack("=I", 1) + msg[c.NLMSGHDR.size + 12:]
    assert _decode(obj, msg) == [obj]


def test_wire_numbers() -> None:
    cls = TcClass("eth0", 10, ls=Curve(m2=160), ul=Curve(m2=8_000_000))
    msg = tc.request(AddTc(cls), 7)
    assert struct.pack("=III", 0, 0, 20) in msg and struct.pack("=III", 0, 0, 1_000_000) in msg
    _f, _p, index, handle, parent, _info = tc.TCMSG.unpack_from(msg, c.NLMSGHDR.size)
    assert (index, handle, parent) == (7, 0x1389000A, 0x13890000)
    flags = c.NLMSGHDR.unpack_from(msg)[2]
    assert flags & c.NLM_F_EXCL and flags & c.NLM_F_CREATE
    change = tc.request(ChangeTc(cls), 7)
    assert not c.NLMSGHDR.unpack_from(change)[2] & c.NLM_F_CREATE
    filt = tc.request(AddTc(TcFilter("eth0", 20, 20, 20)), 7)
    info = tc.TCMSG.unpack_from(filt, c.NLMSGHDR.size)[5]
    assert info == (20 << 16) | 0x0300
    assert struct.pack("=H", (1 << 12) | 46) in filt  # TCF_META_TYPE_INT, TCF_META_ID_VLAN_TAG
    root = tc.request(AddTc(Qdisc("eth0", 0x13890000, default=0x1388)), 7)
    assert c.NLMSGHDR.unpack_from(root)[2] & c.NLM_F_REPLACE
    delete = tc.request(DelTc(TcFilter("eth0", 20, 20, 20)), 7)
    assert c.NLMSGHDR.unpack_from(delete)[1] == tc.RTM_DELTFILTER


def test_foreign_objects_under_our_root_are_left_out() -> None:
    other = tc.request(AddTc(Qdisc("eth0", 0x80010000, 0x1389000A, "pfifo")), 7)
    assert tc.decode_qdiscs([_payload(other)], {7: "eth0"}) == []
    not_ours = tc.request(AddTc(Qdisc("eth0", 0x00010000, default=1)), 7)
    assert tc.decode_qdiscs([_payload(not_ours)], {7: "eth0"}) == []
