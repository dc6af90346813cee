"""One server connection: protocol detection, heart-beats, output limit, request flow control.

A :class:`Connection` is the asyncio protocol of one accepted (TLS) socket and the broker's
:class:`~rpc.broker.Link` for its session. Input first goes to the server's fast path
(rpc.fastpath: one plain inline request per chunk, answered in one step); anything else goes to
the session's codec and broker, and what they write meanwhile leaves as one TLS write.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rpc.broker import Session

if TYPE_CHECKING:
    from rpc.server import StompServer

log = logging.getLogger(__name__)

HEARTBEAT_GRACE = 1.5
# Words a STOMP connection may start with (vdsm's detector list, plus STOMP 1.2's STOMP alias).
DETECT_WORDS = (
    b"CONNECT",
    b"CONNECTED",
    b"DISCONNECT",
    b"ERROR",
    b"MESSAGE",
    b"RECEIPT",
    b"SEND",
    b"SUBSCRIBE",
    b"UNSUBSCRIBE",
    b"STOMP",
)


class Connection(asyncio.Protocol):
    """One TLS connection: protocol detection, heart-beats, output limit. A broker Link."""

    def __init__(self, server: StompServer) -> None:
        self.server = server
        self.loop = server.loop
        self.transport: asyncio.Transport | None = None
        self.session: Session | None = None
        self._head = b""
        self._timers: list[asyncio.TimerHandle] = []
        self._last_read = self._last_write = self.loop.time()
        self._send_s = self._recv_s = 0.0
        self._inflight = 0
        self._paused = False
        self._corked: list[bytes] | None = None  # writes held while a chunk of input is handled
        self._answer_fast = server.fast_path.answer
        self._fast_ok = False  # the session's codec is between frames (see _feed)
        # loop.time() is time.monotonic() on asyncio's own loops: one Python call less per use.
        base = type(self.loop).time is asyncio.BaseEventLoop.time
        self._clock: Callable[[], float] = time.monotonic if base else self.loop.time

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        if len(self.server.connections) >= self.server.max_connections:
            log.warning("connection cap (%d) reached; refusing", self.server.max_connections)
            transport.abort()
            return
        self.server.connections.add(self)
        self._timers.append(self.loop.call_later(self.server.detect_timeout, self._undetected))

    def data_received(self, data: bytes) -> None:
        self._last_read = self._clock()
        session = self.session
        if session is not None:
            if not (self._fast_ok and self._answer_fast(session, data)):
                self._feed(data)
            return
        self._head += data
        if any(self._head.startswith(w) for w in DETECT_WORDS):
            self._detected()
        elif not any(w.startswith(self._head) for w in DETECT_WORDS):
            log.info("Unrecognized protocol from %s", self._peer())
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        self.server.connections.discard(self)
        if self.session is not None:
            self.session.connection_lost()

    # Link
    def write(self, data: bytes) -> None:
        if self._corked is not None:
            self._corked.append(data)
            return
        t = self.transport
        if t is None or t.is_closing():
            return
        t.write(data)
        self._last_write = self._clock()
        if t.get_write_buffer_size() > self.server.output_limit:
            log.warning("connection %s: output buffer over its limit; closing", self._peer())
            t.abort()

    def close(self) -> None:
        self._uncork()
        if self.transport is not None:
            self.transport.close()

    def _uncork(self) -> None:
        held, self._corked = self._corked, None
        if held:
            self.write(held[0] if len(held) == 1 else b"".join(held))

    def start_heartbeat(self, send_ms: int, recv_ms: int) -> None:
        self._send_s, self._recv_s = send_ms / 1000.0, recv_ms / 1000.0
        if self._send_s:
            self._timers.append(self.loop.call_later(self._send_s, self._send_tick))
        if self._recv_s:
            self._timers.append(
                self.loop.call_later(self._recv_s * HEARTBEAT_GRACE, self._recv_tick)
            )

    # internals
    def _peer(self) -> Any:
        return self.transport.get_extra_info("peername") if self.transport else None

    def _detected(self) -> None:
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        assert self.transport is not None
        session = self.server.broker.open_session(self)
        session.local_address = self.transport.get_extra_info("sockname")
        session.peer_address = self._peer()
        self.session = session
        head, self._head = self._head, b""
        self._feed(head)

    def _feed(self, data: bytes) -> None:
        """Hand input to the session; what it writes meanwhile leaves as one TLS write. Only
        this changes the session's codec, so afterwards is when to see whether the next input
        may take the fast path (which needs the codec between frames)."""
        session = self.session
        assert session is not None
        self._corked = []
        try:
            session.data_received(data)
        finally:
            self._fast_ok = session.parser.idle
            self._uncork()

    def _undetected(self) -> None:
        if self.session is None:
            log.info("no STOMP command from %s in time; closing", self._peer())
            self.close()

    def _send_tick(self) -> None:
        idle = self.loop.time() - self._last_write
        if idle >= self._send_s * 0.95:
            self.write(b"\n")
            idle = 0.0
        self._timers.append(self.loop.call_later(self._send_s - idle, self._send_tick))

    def _recv_tick(self) -> None:
        limit = self._recv_s * HEARTBEAT_GRACE
        idle = self.loop.time() - self._last_read
        if idle >= limit and not self._paused and self.session is not None:
            self.session.fail("heart-beat timeout")
            return
        self._timers.append(self.loop.call_later(max(limit - idle, 0.05), self._recv_tick))

    def request_started(self) -> None:
        self._inflight += 1
        if self._inflight >= self.server.max_inflight and self.transport and not self._paused:
            self._paused = True
            self.transport.pause_reading()

    def request_done(self) -> None:
        self._inflight -= 1
        if self._paused and self._inflight < self.server.max_inflight and self.transport:
            self._paused = False
            self._last_read = self.loop.time()
            self.transport.resume_reading()
