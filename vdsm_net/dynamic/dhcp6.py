"""DHCPv6 (RFC 8415) messages for one IA_NA, and the exchanges a stateful client needs.

Pure encoding and decoding plus ``Session``, which runs Solicit/Advertise/Request/Reply, Renew,
Rebind and Release over a socket it is given (the process in ``dhcp6_client`` gives it a
socket bound to the interface; the unit tests give it one on loopback). Nothing is stored: the
DUID is a DUID-LL built from the interface's MAC and the IAID is derived from its name, so a
restarted client asks for, and gets, the same address without any state on disk.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import socket
import struct
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

CLIENT_PORT, SERVER_PORT = 546, 547
ALL_SERVERS = "ff02::1:2"

SOLICIT, ADVERTISE, REQUEST, RENEW, REBIND, REPLY, RELEASE = 1, 2, 3, 5, 6, 7, 8
OPT_CLIENTID, OPT_SERVERID, OPT_IA_NA, OPT_IAADDR, OPT_ORO = 1, 2, 3, 5, 6
OPT_ELAPSED, OPT_STATUS, OPT_DNS = 8, 13, 23
STATUS_SUCCESS = 0
INFINITY = 0xFFFFFFFF


def duid_ll(mac: str) -> bytes:
    """DUID-LL (type 3), hardware type Ethernet (1)."""
    return struct.pack("!HH", 3, 1) + bytes.fromhex(mac.replace(":", ""))


def iaid_for(ifname: str) -> int:
    return zlib.crc32(ifname.encode()) & 0xFFFFFFFF


def option(code: int, data: bytes) -> bytes:
    return struct.pack("!HH", code, len(data)) + data


def options(data: bytes) -> Iterator[tuple[int, bytes]]:
    """The (code, data) pairs of an option area; a truncated tail ends the walk."""
    at = 0
    while at + 4 <= len(data):
        code, length = struct.unpack_from("!HH", data, at)
        at += 4
        if at + length > len(data):
            return
        yield code, data[at : at + length]
        at += length


@dataclass(frozen=True)
class Lease:
    address: str
    preferred: int
    valid: int
    t1: int
    t2: int
    server_id: bytes = field(repr=False)
    dns: tuple[str, ...] = ()

    def renew_after(self) -> int:
        """T1, or half the preferred lifetime when the server left it to the client."""
        return self.t1 if 0 < self.t1 < INFINITY else max(self.preferred // 2, 1)

    def rebind_after(self) -> int:
        return self.t2 if 0 < self.t2 < INFINITY else max(self.preferred * 4 // 5, 1)

    def to_json(self, ifname: str) -> dict[str, object]:
        return {"interface": ifname, "address": f"{self.address}/128", "dns": list(self.dns),
                "preferred": self.preferred, "valid": self.valid}


def ia_na(iaid: int, lease: Lease | None = None) -> bytes:
    body = struct.pack("!III", iaid, 0, 0)
    if lease is not None:
        addr = ipaddress.IPv6Address(lease.address).packed
        body += option(OPT_IAADDR, addr + struct.pack("!II", 0, 0))
    return option(OPT_IA_NA, body)


def message(kind: int, xid: int, client_id: bytes, iaid: int, lease: Lease | None = None,
            server_id: bytes | None = None, elapsed: int = 0) -> bytes:
    out = struct.pack("!I", (kind << 24) | (xid & 0xFFFFFF))
    out += option(OPT_CLIENTID, client_id)
    if server_id is not None:
        out += option(OPT_SERVERID, server_id)
    out += option(OPT_ELAPSED, struct.pack("!H", min(elapsed, 0xFFFF)))
    out += option(OPT_ORO, struct.pack("!H", OPT_DNS))
    out += ia_na(iaid, lease)
    return out


def parse(data: bytes, xid: int, client_id: bytes, iaid: int) -> tuple[int, Lease | None]:
    """``(message type, lease)`` of a server's answer to transaction ``xid``; type 0 when the
    message is not ours. The lease is None when the IA_NA carries no usable address."""
    if len(data) < 4:
        return 0, None
    head = struct.unpack_from("!I", data)[0]
    kind, got_xid = head >> 24, head & 0xFFFFFF
    if got_xid != xid & 0xFFFFFF or kind not in (ADVERTISE, REPLY):
        return 0, None
    opts = list(options(data[4:]))
    if dict(opts).get(OPT_CLIENTID) != client_id:
        return 0, None
    server_id = dict(opts).get(OPT_SERVERID)
    status = dict(opts).get(OPT_STATUS)
    if server_id is None or (status is not None and _status(status) != STATUS_SUCCESS):
        return kind, None
    dns = tuple(str(ipaddress.IPv6Address(d[i : i + 16]))
                for code, d in opts if code == OPT_DNS for i in range(0, len(d) - 15, 16))
    for code, body in opts:
        if code != OPT_IA_NA or len(body) < 12:
            continue
        got_iaid, t1, t2 = struct.unpack_from("!III", body)
        if got_iaid != iaid:
            continue
        sub = list(options(body[12:]))
        if any(c == OPT_STATUS and _status(d) != STATUS_SUCCESS for c, d in sub):
            return kind, None
        for c, d in sub:
            if c == OPT_IAADDR and len(d) >= 24:
                preferred, valid = struct.unpack_from("!II", d, 16)
                if valid == 0:
                    continue
                addr = str(ipaddress.IPv6Address(d[:16]))
                return kind, Lease(addr, preferred, valid, t1, t2, server_id, dns)
    return kind, None


def _status(data: bytes) -> int:
    return int(struct.unpack_from("!H", data)[0]) if len(data) >= 2 else STATUS_SUCCESS


Clock = Callable[[], float]


class Session:
    """The exchanges of one client on one socket. ``dest`` is where requests go."""

    def __init__(self, sock: socket.socket, dest: tuple[str, int, int, int], client_id: bytes,
                 iaid: int, clock: Clock = time.monotonic) -> None:
        self.sock = sock
        self.dest = dest
        self.client_id = client_id
        self.iaid = iaid
        self.clock = clock

    def exchange(self, kind: int, until: float, lease: Lease | None = None,
                 server_id: bytes | None = None, first_timeout: float = 1.0) -> Lease | None:
        """Send ``kind`` with retransmissions (doubling, at most 30 s apart) until an answer
        with a lease arrives or ``until`` (a clock value) passes."""
        xid = int.from_bytes(os.urandom(3), "big")
        start = self.clock()
        timeout = first_timeout
        while self.clock() < until:
            elapsed = int((self.clock() - start) * 100)
            msg = message(kind, xid, self.client_id, self.iaid, lease, server_id, elapsed)
            with contextlib.suppress(OSError):  # e.g. the link-local is still tentative
                self.sock.sendto(msg, self.dest)
            deadline = min(self.clock() + timeout, until)
            while (left := deadline - self.clock()) > 0:
                self.sock.settimeout(left)
                try:
                    data = self.sock.recv(4096)
                except (TimeoutError, BlockingIOError):
                    break
                got, answer = parse(data, xid, self.client_id, self.iaid)
                if got and answer is not None:
                    return answer
                if got == REPLY and kind in (RENEW, REBIND, REQUEST):
                    return None  # the server refused: the caller starts over
            timeout = min(timeout * 2, 30.0)
        return None

    def acquire(self, until: float) -> Lease | None:
        """Solicit, then Request the first advertised address."""
        while self.clock() < until:
            offer = self.exchange(SOLICIT, until)
            if offer is None:
                return None
            lease = self.exchange(REQUEST, min(until, self.clock() + 30), offer, offer.server_id)
            if lease is not None:
                return lease
        return None

    def renew(self, lease: Lease, until: float) -> Lease | None:
        return self.exchange(RENEW, until, lease, lease.server_id)

    def rebind(self, lease: Lease, until: float) -> Lease | None:
        return self.exchange(REBIND, until, lease)

    def release(self, lease: Lease) -> None:
        """One Release, answered or not (RFC 8415 retransmits; a removal must not wait)."""
        msg = message(RELEASE, int.from_bytes(os.urandom(3), "big"), self.client_id,
                      self.iaid, lease, lease.server_id)
        with contextlib.suppress(OSError):
            self.sock.sendto(msg, self.dest)
