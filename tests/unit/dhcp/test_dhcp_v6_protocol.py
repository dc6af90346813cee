"""The DHCPv6 client's exchanges against a small scripted server on the IPv6 loopback."""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Iterator

import pytest

from vdsm_net.dynamic import dhcp6
from vdsm_net.dynamic.dhcp6 import Lease, Session, duid_ll, iaid_for, option, options, parse

SERVER_ID = b"\x00\x03\x00\x01\x02\x00\x00\x00\x00\x01"
CLIENT_ID = duid_ll("52:54:00:12:34:56")
IAID = iaid_for("eth0")
ADDR = "2001:db8:1::1c8"
DNS = "2001:db8:1::53"


def _v6(text: str) -> bytes:
    return socket.inet_pton(socket.AF_INET6, text)


class Server:
    """Answers Solicit with Advertise, Request/Renew/Rebind with Reply; records every type."""

    def __init__(self, drop_first: int = 0, refuse: bool = False) -> None:
        self.sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        self.sock.bind(("::1", 0))
        self.sock.settimeout(0.2)
        self.seen: list[tuple[int, dict[int, bytes]]] = []
        self.drop_first = drop_first
        self.refuse = refuse
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])

    def loop(self) -> None:
        while not self.stop.is_set():
            try:
                data, peer = self.sock.recvfrom(4096)
            except TimeoutError:
                continue
            kind, xid = data[0], data[1:4]
            opts = dict(options(data[4:]))
            self.seen.append((kind, opts))
            if len(self.seen) <= self.drop_first or kind == dhcp6.RELEASE:
                continue
            answer = dhcp6.ADVERTISE if kind == dhcp6.SOLICIT else dhcp6.REPLY
            body = option(dhcp6.OPT_CLIENTID, opts[dhcp6.OPT_CLIENTID])
            body += option(dhcp6.OPT_SERVERID, SERVER_ID)
            iaid = opts[dhcp6.OPT_IA_NA][:4]
            if self.refuse and kind == dhcp6.RENEW:
                ia = option(dhcp6.OPT_STATUS, struct.pack("!H", 2) + b"NoBinding")
            else:
                ia = option(dhcp6.OPT_IAADDR, _v6(ADDR) + struct.pack("!II", 60, 120))
            body += option(dhcp6.OPT_IA_NA, iaid + struct.pack("!II", 30, 48) + ia)
            body += option(dhcp6.OPT_DNS, _v6(DNS))
            self.sock.sendto(bytes([answer]) + xid + body, peer)

    def types(self) -> list[int]:
        return [kind for kind, _ in self.seen]


@pytest.fixture
def server() -> Iterator[Server]:
    srv = Server()
    yield srv
    srv.stop.set()
    srv.thread.join()
    srv.sock.close()


def session(port: int) -> Session:
    sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    sock.bind(("::1", 0))
    return Session(sock, ("::1", port, 0, 0), CLIENT_ID, IAID)


def test_solicit_request_renew_release(server: Server) -> None:
    client = session(server.port)
    lease = client.acquire(time.monotonic() + 10)
    assert lease is not None
    assert (lease.address, lease.preferred, lease.valid, lease.t1, lease.t2) == (
        ADDR, 60, 120, 30, 48)
    assert lease.dns == (DNS,) and lease.server_id == SERVER_ID
    assert lease.to_json("eth0")["address"] == f"{ADDR}/128"
    assert server.types() == [dhcp6.SOLICIT, dhcp6.REQUEST]
    request = server.seen[1][1]
    assert request[dhcp6.OPT_SERVERID] == SERVER_ID and request[dhcp6.OPT_CLIENTID] == CLIENT_ID
    assert struct.unpack("!I", request[dhcp6.OPT_IA_NA][:4])[0] == IAID
    assert _v6(ADDR) in request[dhcp6.OPT_IA_NA]  # the advertised address is asked for

    renewed = client.renew(lease, time.monotonic() + 5)
    assert renewed is not None and renewed.address == ADDR
    client.release(lease)
    deadline = time.monotonic() + 5
    while len(server.seen) < 4 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.types() == [dhcp6.SOLICIT, dhcp6.REQUEST, dhcp6.RENEW, dhcp6.RELEASE]
    assert server.seen[3][1][dhcp6.OPT_SERVERID] == SERVER_ID
    assert dhcp6.OPT_SERVERID not in dict(  # a Rebind goes to any server
        options(dhcp6.message(dhcp6.REBIND, 1, CLIENT_ID, IAID, lease)[4:]))


def test_lost_solicit_is_retransmitted() -> None:
    srv = Server(drop_first=1)
    try:
        lease = session(srv.port).exchange(dhcp6.SOLICIT, time.monotonic() + 10,
                                           first_timeout=0.1)
        assert lease is not None and srv.types()[:2] == [dhcp6.SOLICIT, dhcp6.SOLICIT]
    finally:
        srv.stop.set()
        srv.thread.join()
        srv.sock.close()


def test_a_refused_renew_gives_no_lease() -> None:
    srv = Server(refuse=True)
    try:
        client = session(srv.port)
        lease = client.acquire(time.monotonic() + 10)
        assert lease is not None
        assert client.renew(lease, time.monotonic() + 10) is None
    finally:
        srv.stop.set()
        srv.thread.join()
        srv.sock.close()


def test_answers_to_other_transactions_or_clients_are_ignored() -> None:
    msg = dhcp6.message(dhcp6.SOLICIT, 7, CLIENT_ID, IAID)
    assert parse(msg, 7, CLIENT_ID, IAID) == (0, None)  # not a server message
    reply = bytes([dhcp6.REPLY]) + (7).to_bytes(3, "big") + option(dhcp6.OPT_CLIENTID, b"other")
    assert parse(reply, 7, CLIENT_ID, IAID) == (0, None)
    assert parse(reply, 8, b"other", IAID) == (0, None)


def test_lifetimes_left_to_the_client() -> None:
    lease = Lease(ADDR, 100, 200, 0, 0, SERVER_ID)
    assert (lease.renew_after(), lease.rebind_after()) == (50, 80)
