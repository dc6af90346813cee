"""Many hostile connections at once (issue 12, row 11 and the memory budget): the server stays
within its connection cap, per-peer limit and memory budget, closes the offenders, and a
legitimate client is always served. Attackers connect from other loopback addresses
(127.0.0.2 and up), the legitimate client from 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from rpc.background import BackgroundServer
from rpc.jsonrpc import Dispatcher
from rpc.server import StompServer, server_ssl_context
from rpc.stomp.codec import encode_frame
from rpc.tls.context import client_ssl_context
from tests.unit.rpc.rpc_helpers import WAIT, FrameReader, ping_ok, request

MIB = 1024 * 1024
OPEN = encode_frame("CONNECT", {"accept-version": "1.2"}) + encode_frame(
    "SUBSCRIBE", {"destination": "r", "id": "1"}
)


GATE = threading.Event()


def _server(pki: Path, **limits: Any) -> BackgroundServer:
    d = Dispatcher({"Host.ping2": lambda: None, "Test.big": lambda n: "x" * int(n),
                    "Test.hold": lambda blob: GATE.wait(WAIT)})
    d.mark_inline("Host.ping2")
    return BackgroundServer(StompServer(d, server_ssl_context(pki), "127.0.0.1", 0, **limits))


def _tls_from(source: str, port: int, pki: Path, rcvbuf: int = 0) -> ssl.SSLSocket | None:
    """A TLS connection from ``source``; None when the server refused it."""
    raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    raw.settimeout(WAIT)
    raw.bind((source, 0))
    raw.connect(("127.0.0.1", port))
    try:
        return client_ssl_context(pki).wrap_socket(raw, server_hostname="localhost")
    except (ssl.SSLError, OSError):
        raw.close()
        return None


def _no_tracebacks(caplog: pytest.LogCaptureFixture) -> None:
    bad = [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert bad == [] and "Traceback" not in caplog.text


def _eventually(check: Callable[[], bool]) -> bool:
    deadline = time.monotonic() + WAIT
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.fixture
def held() -> Iterator[list[socket.socket]]:
    socks: list[socket.socket] = []
    yield socks
    for s in socks:
        s.close()


def test_stalled_frames_from_many_peers_never_lock_out_a_client(
    pki: Path, held: list[socket.socket], caplog: pytest.LogCaptureFixture
) -> None:
    # The 4200 connections against a cap of 4096, scaled: 3 peers x 16 against 32.
    caplog.set_level(logging.INFO)
    with _server(pki, max_connections=32, max_per_peer=12) as bg:
        srv = bg.server
        for peer in ("127.0.0.2", "127.0.0.3", "127.0.0.4"):
            for _ in range(16):
                sock = _tls_from(peer, bg.port, pki)
                if sock is None:
                    continue
                with contextlib.suppress(OSError):
                    sock.sendall(OPEN + b"SEND\n")
                held.append(sock)
                assert len(srv.connections) + len(srv._handshakes) <= 32
                assert max(dict(srv.guard.peers).values(), default=0) <= 12
        assert ping_ok(bg.port, pki)  # at the cap, and served
        assert "holds 12 connections, its limit" in caplog.text
    _no_tracebacks(caplog)


def test_pending_handshakes_count_against_the_caps(
    pki: Path, held: list[socket.socket], caplog: pytest.LogCaptureFixture
) -> None:
    with _server(pki, max_connections=16, max_per_peer=8, handshake_timeout=60) as bg:
        srv = bg.server
        for n in range(40):  # TCP connections that never start their TLS handshake
            raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            raw.bind((f"127.0.0.{2 + n % 4}", 0))
            raw.connect(("127.0.0.1", bg.port))
            held.append(raw)
        assert _eventually(lambda: len(srv._handshakes) >= 16)
        time.sleep(0.2)  # let the server see every one of them
        assert len(srv._handshakes) + len(srv.connections) <= 16
        assert max(dict(srv.guard.peers).values()) <= 8
        assert ping_ok(bg.port, pki)  # an old pending handshake made room
    _no_tracebacks(caplog)


def test_incomplete_frames_time_out(
    pki: Path, held: list[socket.socket], caplog: pytest.LogCaptureFixture
) -> None:
    with _server(pki, frame_timeout=1.0) as bg:
        readers = []
        for n in range(8):
            sock = _tls_from(f"127.0.0.{2 + n % 2}", bg.port, pki)
            assert sock is not None
            sock.sendall(OPEN + b"SEND\n")
            held.append(sock)
            readers.append(FrameReader(sock))
        for r in readers:
            got = r.until_closed(WAIT)
            assert [f.headers.get("message") for f in got] == [None, "frame not complete in time"]
        assert ping_ok(bg.port, pki)
    _no_tracebacks(caplog)


def _park(sock: ssl.SSLSocket, size: int) -> None:
    head = b"SEND\ndestination:jms.topic.vdsm_requests\ncontent-length:%d\n\n" % (size + MIB // 2)
    with contextlib.suppress(OSError):
        sock.sendall(OPEN + head + b"x" * size)


def test_parked_partial_frames_stay_within_the_memory_budget(
    pki: Path, held: list[socket.socket], caplog: pytest.LogCaptureFixture
) -> None:
    # The 8 connections parking 15 MiB partial frames (126 MB held), against 64 MiB.
    with _server(pki, memory_budget=64 * MIB) as bg:
        srv = bg.server
        socks = [_tls_from(f"127.0.0.{2 + n}", bg.port, pki) for n in range(8)]
        held.extend(s for s in socks if s is not None)
        threads = [threading.Thread(target=_park, args=(s, 15 * MIB)) for s in held]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert _eventually(lambda: sum(c.usage() for c in list(srv.connections)) > 45 * MIB)
        assert sum(c.usage() for c in list(srv.connections)) <= 64 * MIB
        closed = []
        for sock in held:
            with contextlib.suppress(TimeoutError):
                closed.append(FrameReader(sock).until_closed(0.5))
        messages = [[f.headers.get("message") for f in got] for got in closed]
        assert messages.count([None, "memory budget exceeded"]) >= 4
        assert ping_ok(bg.port, pki)
    _no_tracebacks(caplog)


def _ask_big(sock: ssl.SSLSocket, size: int, count: int) -> None:
    body = json.dumps(request("Test.big", {"n": size}))
    head = {"destination": "jms.topic.vdsm_requests", "reply-to": "r"}
    sock.sendall(OPEN + encode_frame("SEND", head, body) * count)


def test_clients_that_never_read_big_replies_stay_within_the_budget(
    pki: Path, held: list[socket.socket], caplog: pytest.LogCaptureFixture
) -> None:
    # The 12 clients that ask for big replies and never read (748 MB held).
    with _server(pki, memory_budget=24 * MIB) as bg:
        srv = bg.server
        for n in range(12):
            sock = _tls_from(f"127.0.0.{2 + n}", bg.port, pki, rcvbuf=4096)
            assert sock is not None
            _ask_big(sock, 4 * MIB, 3)
            held.append(sock)
        # the budget is exceeded once enough replies are held (fewer than 12 connections at the
        # start only means they are not all accepted yet)
        exceeded = "memory budget (25165824 bytes) exceeded"
        assert _eventually(lambda: exceeded in caplog.text)
        assert _eventually(lambda: len(srv.connections) < 12)
        assert ping_ok(bg.port, pki)
        # counted on the server's own loop, between two of its callbacks (a count from this
        # thread could land inside a write, before that write is charged)
        async def holding() -> int:
            return sum(c.usage() for c in list(srv.connections))

        assert asyncio.run_coroutine_threadsafe(holding(), bg.loop).result(10) <= 24 * MIB
    _no_tracebacks(caplog)


def test_output_nobody_reads_times_out(
    pki: Path, held: list[socket.socket], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    with _server(pki, write_timeout=1.0) as bg:
        srv = bg.server
        sock = _tls_from("127.0.0.2", bg.port, pki, rcvbuf=4096)
        assert sock is not None
        _ask_big(sock, 8 * MIB, 1)
        held.append(sock)
        assert _eventually(lambda: any(c.usage() for c in list(srv.connections)))
        assert _eventually(lambda: not srv.connections)
        assert "output not read in time" in caplog.text
        assert ping_ok(bg.port, pki)
    _no_tracebacks(caplog)


def test_request_bodies_waiting_for_the_pool_count_against_the_budget(
    pki: Path, held: list[socket.socket], caplog: pytest.LogCaptureFixture
) -> None:
    GATE.clear()
    with _server(pki, memory_budget=4 * MIB) as bg:
        sock = _tls_from("127.0.0.2", bg.port, pki)
        assert sock is not None
        held.append(sock)
        body = json.dumps(request("Test.hold", {"blob": "x" * (900 * 1024)}))
        head = {"destination": "jms.topic.vdsm_requests", "reply-to": "r"}
        with contextlib.suppress(OSError):
            sock.sendall(OPEN + encode_frame("SEND", head, body) * 8)
        got = FrameReader(sock).until_closed(WAIT)
        assert [f.headers.get("message") for f in got] == [None, "memory budget exceeded"]
        GATE.set()
        assert ping_ok(bg.port, pki)
    _no_tracebacks(caplog)
