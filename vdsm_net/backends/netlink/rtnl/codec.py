"""A minimal rtnetlink codec on a raw socket: struct-packed requests, batched sends, dumps, and
the attribute walk. Dump messages are decoded straight into ``kernel`` values by ``links``
(links) and ``addrs`` (addresses, routes, rules), reading only the
attributes ``KernelState`` needs (pyroute2 decodes every attribute into Python objects).
"""

from __future__ import annotations

import errno
import os
import socket
import struct
from collections.abc import Iterator, Sequence

from vdsm_net.model.kernel import LinkKind

NETLINK_ROUTE = 0
SOL_NETLINK = 270
NETLINK_CAP_ACK = 10
NLMSG_ERROR, NLMSG_DONE = 2, 3
NLM_F_REQUEST, NLM_F_MULTI, NLM_F_ACK, NLM_F_DUMP_INTR = 0x1, 0x2, 0x4, 0x10
NLM_F_DUMP = 0x300
NLM_F_REPLACE, NLM_F_EXCL, NLM_F_CREATE = 0x100, 0x200, 0x400
NLA_F_NESTED = 0x8000

RTM_NEWLINK, RTM_DELLINK, RTM_GETLINK, RTM_SETLINK = 16, 17, 18, 19
RTM_NEWADDR, RTM_DELADDR, RTM_GETADDR = 20, 21, 22
RTM_NEWROUTE, RTM_DELROUTE, RTM_GETROUTE = 24, 25, 26
RTM_NEWRULE, RTM_DELRULE, RTM_GETRULE = 32, 33, 34

NLMSGHDR = struct.Struct("=IHHII")
NLA = struct.Struct("=HH")
IFINFOMSG = struct.Struct("=BxHiII")
IFADDRMSG = struct.Struct("=BBBBI")
RTMSG = struct.Struct("=BBBBBBBBI")  # also fib_rule_hdr
U8, U16, U32, U64, BE16 = (struct.Struct(f) for f in ("=B", "=H", "=I", "=Q", ">H"))
STATS64 = struct.Struct("=8Q")  # the first 8 counters of rtnl_link_stats64

IFLA_ADDRESS, IFLA_IFNAME, IFLA_MTU, IFLA_LINK, IFLA_MASTER = 1, 3, 4, 5, 10
IFLA_OPERSTATE, IFLA_LINKINFO, IFLA_IFALIAS, IFLA_STATS64, IFLA_GROUP = 16, 18, 20, 23, 27
IFLA_PERM_ADDRESS = 54
IFLA_INFO_KIND, IFLA_INFO_DATA, IFLA_INFO_SLAVE_KIND, IFLA_INFO_SLAVE_DATA = 1, 2, 4, 5
IFLA_VLAN_ID = 1
IFLA_BOND_MODE, IFLA_BOND_ACTIVE_SLAVE = 1, 2
IFLA_BOND_SLAVE_PERM_HWADDR = 4
IFLA_BR_STP_STATE = 5
IFLA_BR_MULTI_BOOLOPT = 46
BR_BOOLOPT_NO_LL_LEARN = 1 << 0
IF_OPER_UP = 6

IFF_UP = 0x1
IFF_LOOPBACK = 0x8
RT_TABLE_LOCAL = 255
RTPROT_KERNEL = 2
RT_SCOPE_LINK = 253
SCOPE_GLOBAL = 0
SCOPE_SITE = 200
IFA_F_PERMANENT = 0x80
DEFAULT_RULE_PRIORITIES = frozenset({0, 32766, 32767})
NIC_KINDS = frozenset({None, "veth", "dummy", "macvlan", "macvtap"})


def link_kind(kind: str | None) -> LinkKind:
    """The kernel's IFLA_INFO_KIND as ``Link.kind``: veth, dummy and macvlan count as NICs."""
    if kind in NIC_KINDS:
        return "nic"
    if kind in ("bond", "vlan", "bridge"):
        return kind  # type: ignore[return-value]
    return "other"


def _align(n: int) -> int:
    return (n + 3) & ~3


# ---- encoding --------------------------------------------------------------------------------


def attr(kind: int, payload: bytes) -> bytes:
    """One attribute, padded to 4 bytes."""
    length = 4 + len(payload)
    return NLA.pack(length, kind) + payload + b"\0" * (_align(length) - length)


def nested(kind: int, *parts: bytes) -> bytes:
    return attr(kind | NLA_F_NESTED, b"".join(parts))


def asciiz(kind: int, text: str) -> bytes:
    return attr(kind, text.encode() + b"\0")


def u32(kind: int, value: int) -> bytes:
    return attr(kind, U32.pack(value))


def mac_bytes(mac: str) -> bytes:
    return bytes(int(x, 16) for x in mac.split(":"))


def message(kind: int, flags: int, header: bytes, *attrs: bytes) -> bytes:
    """A request without its sequence number (``RtnlSocket`` stamps it) and without NLM_F_ACK: the
    kernel answers only a refusal, and ``RtnlSocket.batch`` asks the last of a send for an ack."""
    body = header + b"".join(attrs)
    return NLMSGHDR.pack(NLMSGHDR.size + len(body), kind, flags | NLM_F_REQUEST, 0, 0) + body


# ---- decoding --------------------------------------------------------------------------------


def attrs(buf: bytes, start: int, end: int) -> Iterator[tuple[int, int, int]]:
    """(type, payload start, payload end) of each attribute in ``buf[start:end]``."""
    unpack = NLA.unpack_from
    while start + 4 <= end:
        length, kind = unpack(buf, start)
        if length < 4:
            return
        yield kind & 0x3FFF, start + 4, start + length
        start += (length + 3) & ~3


# The bridge options' one table: sysfs option (the keys of bridgeopts.BRIDGE_DEFAULTS) -> (the
# IFLA_BR_* attribute's name, its number, its struct; None: a MAC). Decoding, encoding and the
# tests' pyroute2 oracle all read it. no_linklocal_learn is not here: it is a bit of
# IFLA_BR_MULTI_BOOLOPT (BR_BOOLOPT_NO_LL_LEARN), encoded and decoded on its own.
BRIDGE_OPTIONS: dict[str, tuple[str, int, struct.Struct | None]] = {
    "forward_delay": ("IFLA_BR_FORWARD_DELAY", 1, U32),
    "hello_time": ("IFLA_BR_HELLO_TIME", 2, U32),
    "max_age": ("IFLA_BR_MAX_AGE", 3, U32),
    "ageing_time": ("IFLA_BR_AGEING_TIME", 4, U32),
    "priority": ("IFLA_BR_PRIORITY", 6, U16),
    "group_fwd_mask": ("IFLA_BR_GROUP_FWD_MASK", 9, U16),
    "group_addr": ("IFLA_BR_GROUP_ADDR", 20, None),
    "vlan_filtering": ("IFLA_BR_VLAN_FILTERING", 7, U8),
    "vlan_protocol": ("IFLA_BR_VLAN_PROTOCOL", 8, BE16),
    "default_pvid": ("IFLA_BR_VLAN_DEFAULT_PVID", 39, U16),
    "vlan_stats_enabled": ("IFLA_BR_VLAN_STATS_ENABLED", 41, U8),
    "vlan_stats_per_port": ("IFLA_BR_VLAN_STATS_PER_PORT", 45, U8),
    "multicast_snooping": ("IFLA_BR_MCAST_SNOOPING", 23, U8),
    "multicast_router": ("IFLA_BR_MCAST_ROUTER", 22, U8),
    "multicast_querier": ("IFLA_BR_MCAST_QUERIER", 25, U8),
    "multicast_query_use_ifaddr": ("IFLA_BR_MCAST_QUERY_USE_IFADDR", 24, U8),
    "multicast_stats_enabled": ("IFLA_BR_MCAST_STATS_ENABLED", 42, U8),
    "multicast_igmp_version": ("IFLA_BR_MCAST_IGMP_VERSION", 43, U8),
    "multicast_mld_version": ("IFLA_BR_MCAST_MLD_VERSION", 44, U8),
    "hash_max": ("IFLA_BR_MCAST_HASH_MAX", 27, U32),
    "multicast_last_member_count": ("IFLA_BR_MCAST_LAST_MEMBER_CNT", 28, U32),
    "multicast_startup_query_count": ("IFLA_BR_MCAST_STARTUP_QUERY_CNT", 29, U32),
    "multicast_last_member_interval": ("IFLA_BR_MCAST_LAST_MEMBER_INTVL", 30, U64),
    "multicast_membership_interval": ("IFLA_BR_MCAST_MEMBERSHIP_INTVL", 31, U64),
    "multicast_querier_interval": ("IFLA_BR_MCAST_QUERIER_INTVL", 32, U64),
    "multicast_query_interval": ("IFLA_BR_MCAST_QUERY_INTVL", 33, U64),
    "multicast_query_response_interval": ("IFLA_BR_MCAST_QUERY_RESPONSE_INTVL", 34, U64),
    "multicast_startup_query_interval": ("IFLA_BR_MCAST_STARTUP_QUERY_INTVL", 35, U64),
}


# ---- the socket ------------------------------------------------------------------------------

MAX_SEND = 64 * 1024  # bytes per sendmsg (well under the socket's send buffer)


class RtnlSocket:
    """A NETLINK_ROUTE socket bound to the namespace of the thread that opened it.

    Not thread-safe: callers serialize (``NetlinkBackend`` holds a lock)."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_ROUTE)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
        self.sock.setsockopt(SOL_NETLINK, NETLINK_CAP_ACK, 1)
        self.sock.bind((0, 0))
        self.seq = int.from_bytes(os.urandom(2), "little") << 8

    def close(self) -> None:
        self.sock.close()

    def _stamp(self, msg: bytes) -> tuple[int, bytes]:
        self.seq = (self.seq + 1) & 0xFFFFFFFF or 1
        return self.seq, msg[:8] + U32.pack(self.seq) + msg[12:]

    def _recv(self) -> Iterator[tuple[int, int, int, bytes, int, int]]:
        """(type, flags, seq, buffer, payload start, payload end) of every message received."""
        buf = self.sock.recv(1 << 20)
        off = 0
        while off + NLMSGHDR.size <= len(buf):
            length, kind, flags, seq, _pid = NLMSGHDR.unpack_from(buf, off)
            if length < NLMSGHDR.size:
                break
            yield kind, flags, seq, buf, off + NLMSGHDR.size, off + length
            off += _align(length)

    def dump(self, kind: int, header: bytes) -> list[tuple[bytes, int, int]]:
        """All messages of one dump request, as (buffer, start, end) of each payload."""
        return self.get(message(kind, NLM_F_DUMP, header))

    def get(self, msg: bytes) -> list[tuple[bytes, int, int]]:
        """Send one request and collect its answers until NLMSG_DONE or its ack; a refusal
        raises OSError with the kernel's errno."""
        seq, stamped = self._stamp(msg)
        self.sock.send(_with_ack(stamped))
        out: list[tuple[bytes, int, int]] = []
        interrupted = 0
        while True:
            for mtype, flags, mseq, buf, s, e in self._recv():
                if mseq != seq:
                    continue
                interrupted |= flags & NLM_F_DUMP_INTR
                if mtype == NLMSG_ERROR:
                    code = -struct.unpack_from("=i", buf, s)[0]
                    if code:
                        raise OSError(code, os.strerror(code))
                if mtype in (NLMSG_DONE, NLMSG_ERROR):
                    if interrupted:  # the kernel changed under the dump: the caller retries
                        raise InterruptedError(errno.EINTR, "netlink dump interrupted")
                    return out
                out.append((buf, s, e))

    def batch(self, msgs: Sequence[bytes]) -> dict[int, int]:
        """Send requests (as few sendmsg calls as fit), each acked; return {position: errno} of
        the ones the kernel refused. The kernel runs every message even after a refusal."""
        stamped = [self._stamp(m) for m in msgs]
        position = {seq: i for i, (seq, _m) in enumerate(stamped)}
        failed: dict[int, int] = {}
        start = 0
        while start < len(stamped):
            size, stop = 0, start
            while stop < len(stamped) and (stop == start
                                           or size + len(stamped[stop][1]) < MAX_SEND):
                size += len(stamped[stop][1])
                stop += 1
            chunk = stamped[start:stop]
            # only the last of a chunk asks for an ack; the others answer only when refused
            body = b"".join(m for _s, m in chunk[:-1]) + _with_ack(chunk[-1][1])
            self.sock.send(body)
            last = chunk[-1][0]
            done = False
            while not done:
                for mtype, _flags, mseq, buf, s, _e in self._recv():
                    if mtype != NLMSG_ERROR or mseq not in position:
                        continue
                    code = -struct.unpack_from("=i", buf, s)[0]
                    if code:
                        failed[position[mseq]] = code
                    done = done or mseq == last
            start = stop
        return failed


def _with_ack(msg: bytes) -> bytes:
    flags = U16.unpack_from(msg, 6)[0] | NLM_F_ACK
    return msg[:6] + U16.pack(flags) + msg[8:]
