"""rpc.tls.direct on its own: output held by a full socket is flushed before the close_notify;
reads survive a tiny read size; a closing server abandons handshakes still under way."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import threading
from pathlib import Path

from rpc.background import BackgroundServer
from rpc.jsonrpc import Dispatcher
from rpc.server import StompServer, server_ssl_context
from rpc.tls.context import client_ssl_context
from rpc.tls.direct import TlsTransport, accept_tls
from tests.unit.rpc.rpc_helpers import WAIT

PAYLOAD = bytes(range(256)) * 4096  # 1 MiB, far more than a 4 KiB send buffer takes at once


class Blurt(asyncio.Protocol):
    """Writes PAYLOAD and closes at once; echoes what it reads; records connection_lost."""

    def __init__(self) -> None:
        self.received = bytearray()
        self.lost = threading.Event()
        self.transport: TlsTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, TlsTransport)
        self.transport = transport
        transport.write(PAYLOAD)
        self.pending_at_close = transport.get_write_buffer_size()
        transport.close()

    def data_received(self, data: bytes) -> None:
        self.received += data

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost.set()


def _serve_pair(pki: Path, proto: asyncio.Protocol, read_size: int) -> tuple[socket.socket, Loop]:
    server_raw, client_raw = socket.socketpair()
    server_raw.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    server_raw.setblocking(False)
    loop = Loop()
    loop.call(
        accept_tls,
        loop.loop,
        server_raw,
        server_ssl_context(pki),
        lambda: proto,
        read_size=read_size,
        handshake_timeout=WAIT,
    )
    return client_raw, loop


class Loop:
    """An event loop in a thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def call(self, fn: object, *args: object, **kwargs: object) -> None:
        assert callable(fn)
        self.loop.call_soon_threadsafe(lambda: fn(*args, **kwargs))

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(WAIT)
        self.loop.close()


def test_output_is_flushed_before_close(pki: Path) -> None:
    proto = Blurt()
    client_raw, loop = _serve_pair(pki, proto, 1024)
    try:
        ctx = client_ssl_context(pki)
        with ctx.wrap_socket(client_raw, server_hostname="localhost") as tls:
            tls.settimeout(WAIT)
            got = bytearray()
            while chunk := tls.recv(65536):  # b"" only on the server's close_notify
                got += chunk
        assert proto.pending_at_close > 0  # the close really had output to wait for
        assert bytes(got) == PAYLOAD
        assert proto.lost.wait(WAIT)
    finally:
        loop.stop()


def test_reads_larger_than_the_read_size_arrive_whole(pki: Path) -> None:
    class Collect(asyncio.Protocol):
        def __init__(self) -> None:
            self.data = bytearray()
            self.done = threading.Event()

        def data_received(self, data: bytes) -> None:
            assert len(data) <= 1024
            self.data += data
            if len(self.data) >= len(PAYLOAD):
                self.done.set()

    proto = Collect()
    client_raw, loop = _serve_pair(pki, proto, 1024)
    try:
        with client_ssl_context(pki).wrap_socket(client_raw, server_hostname="x") as tls:
            tls.sendall(PAYLOAD)
            assert proto.done.wait(WAIT)
        assert bytes(proto.data) == PAYLOAD
    finally:
        loop.stop()


def test_closing_server_abandons_handshakes_under_way(pki: Path) -> None:
    srv = StompServer(Dispatcher(), server_ssl_context(pki), "127.0.0.1", 0, handshake_timeout=60)
    bg = BackgroundServer(srv).start()
    stalled = socket.create_connection(("127.0.0.1", bg.port), timeout=WAIT)
    try:
        deadline = threading.Event()
        while not srv._handshakes and not deadline.wait(0.02):
            pass  # the server has accepted the socket and waits for a ClientHello
        assert len(srv._handshakes) == 1
        bg.stop()
        assert srv._handshakes == {}
        with contextlib.suppress(ConnectionResetError):  # a reset is a close too
            assert stalled.recv(1) == b""  # closed by the server, not left to the 60 s limit
    finally:
        stalled.close()
        bg.stop()


def test_handshake_failure_never_reaches_the_protocol(pki: Path) -> None:
    made = threading.Event()

    class Never(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            made.set()

    client_raw, loop = _serve_pair(pki, Never(), 1024)
    try:
        plain = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # no client certificate: refused
        plain.check_hostname = False
        plain.verify_mode = ssl.CERT_NONE
        try:
            with plain.wrap_socket(client_raw) as tls:
                tls.settimeout(WAIT)
                tls.recv(1)  # TLS 1.3: the refusal arrives after the client's Finished
        except (ssl.SSLError, ConnectionResetError, BrokenPipeError):
            pass
        assert not made.is_set()
    finally:
        loop.stop()


class Keep(asyncio.Protocol):
    """Keeps what it reads and how the connection ended."""

    def __init__(self) -> None:
        self.received = bytearray()
        self.lost = threading.Event()
        self.exc: Exception | None = None

    def data_received(self, data: bytes) -> None:
        self.received += data

    def connection_lost(self, exc: Exception | None) -> None:
        self.exc = exc
        self.lost.set()


def test_peer_closing_without_close_notify_is_an_orderly_end(pki: Path) -> None:
    """A TCP close with no TLS close_notify (a ragged EOF) ends the stream like a close_notify:
    what came before it is delivered, then connection_lost(None)."""
    proto = Keep()
    client_raw, loop = _serve_pair(pki, proto, 1024)
    try:
        client_raw.settimeout(WAIT)
        tls = client_ssl_context(pki).wrap_socket(client_raw, server_hostname="localhost")
        tls.sendall(b"last words")
        tls.close()  # SSLSocket.close sends no close_notify
        assert proto.lost.wait(WAIT)
        assert bytes(proto.received) == b"last words"
        assert proto.exc is None
    finally:
        loop.stop()


class Dribble(Blurt):
    """Writes PAYLOAD as many small writes (each small enough to go straight to the socket
    when nothing is queued), then closes."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, TlsTransport)
        self.transport = transport
        for i in range(0, len(PAYLOAD), 3000):
            transport.write(PAYLOAD[i : i + 3000])
        self.pending_at_close = transport.get_write_buffer_size()
        transport.close()


def test_small_writes_to_a_full_socket_keep_their_order(pki: Path) -> None:
    proto = Dribble()
    client_raw, loop = _serve_pair(pki, proto, 1024)
    try:
        with client_ssl_context(pki).wrap_socket(client_raw, server_hostname="x") as tls:
            tls.settimeout(WAIT)
            got = bytearray()
            while chunk := tls.recv(65536):
                got += chunk
        assert proto.pending_at_close > 0  # some writes found the socket full and queued
        assert bytes(got) == PAYLOAD
        assert proto.lost.wait(WAIT)
    finally:
        loop.stop()
