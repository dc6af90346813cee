"""One server connection: protocol detection, heart-beats, output limit, request flow control.

A :class:`Connection` is the asyncio protocol of one accepted (TLS) socket and the broker's
:class:`~rpc.stomp.broker.Link` for its session. Input first goes to the server's fast path
(rpc.stomp.fastpath: one plain inline request per chunk, answered in one step); anything else
goes to the session's codec and broker. What is written in one loop turn (while one chunk of
input is handled, or a reply and the events its verb published) leaves as one TLS write. It also
tells the server's :class:`~rpc.guard.Guard` what it buffers, and checks its own deadlines when
the guard sweeps.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rpc.stomp.broker import Session
from rpc.stomp.codec import Parser

if TYPE_CHECKING:
    from rpc.guard import GuardLimits
    from rpc.server import StompServer

log = logging.getLogger(__name__)
CHARGE_CORKED_FROM = 64 * 1024  # smaller frames wait for the turn's end to be charged

HEARTBEAT_GRACE = 1.5
# Output still queued when a connection is closed for a broken limit, up to which it is sent an
# ERROR frame (and flushed) rather than aborted.
SMALL_OUTPUT = 64 * 1024
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

    def __init__(self, server: StompServer, peer_key: str | None = None) -> None:
        """``peer_key``: what the server's guard counted this connection against (None: not
        counted), released when the connection is lost."""
        self.server = server
        self.loop = server.loop
        self.guard = server.guard
        self.peer_key = peer_key
        self.transport: asyncio.Transport | None = None
        self.session: Session | None = None
        self.charged = 0  # bytes the guard holds against this connection
        self._head = b""
        self._timers: list[asyncio.TimerHandle] = []
        # loop.time() is time.monotonic() on asyncio's own loops: one Python call less per use.
        base = type(self.loop).time is asyncio.BaseEventLoop.time
        self._clock: Callable[[], float] = time.monotonic if base else self.loop.time
        self._born = self._last_read = self._last_write = self._clock()
        self._send_s = self._recv_s = 0.0
        self._inflight = 0
        self._paused = False
        self._corked: list[bytes] | None = None  # writes held until this loop turn's one write
        self._corked_size = 0
        self._dead = False  # aborted for a broken limit: nothing more is written
        self._shed = False  # closed for a broken limit: the guard charges it nothing
        self._queued = 0  # bytes of request bodies waiting for or running in the thread pool
        self._partial: tuple[int, float] | None = None  # (frames done, seen at) of a partial one
        self._stall: tuple[int, float] | None = None  # (output size, seen at) while not shrinking
        self._answer_fast = server.fast_path.answer
        self._fast_ok = False  # the session's codec is between frames (see _feed)

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.server.connections.add(self)

    def data_received(self, data: bytes) -> None:
        self._last_read = self._clock()
        mine = self._corked is None  # what this input makes leaves in one write, right after
        if mine:
            self._corked = []
        try:
            session = self.session
            if session is not None:
                if not (self._fast_ok and self._answer_fast(session, data)):
                    self._feed(data)
                return
            self._head += data
            if any(self._head.startswith(w) for w in DETECT_WORDS):
                self._detected()
            elif not any(w.startswith(self._head) for w in DETECT_WORDS):
                log.info("Unrecognized protocol from %s", self.peer)
                self.close()
        finally:
            if mine:
                self._uncork()

    def connection_lost(self, exc: Exception | None) -> None:
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        self.server.connections.discard(self)
        self.guard.charge(self, 0)
        self._shed = True  # nothing more to charge
        if self.peer_key is not None:
            self.guard.release(self.peer_key)
            self.peer_key = None
        if self.session is not None:
            self.session.connection_lost()

    # Link
    def write(self, data: bytes) -> None:
        """Queue ``data``; what is queued in one loop turn leaves as one transport write (one
        TLS record when it fits in one), at the end of the input being handled or else at
        the next turn. The engine's client reads one TLS record per poll of a connection and
        waits a second before polling again when nothing new arrived: frames sent as several
        records reach it a second apart."""
        if self._dead:
            return
        held = self._corked
        if held is None:
            held = self._corked = []
            self.loop.call_soon(self._uncork)
        held.append(data)
        self._corked_size += len(data)
        if self._corked_size > self.server.output_limit:
            self._overflow()
        elif self._corked_size >= CHARGE_CORKED_FROM or self.charged:
            self._charge(self.usage())  # held output counts against the budget at once

    def close(self) -> None:
        self._uncork()
        if self.transport is not None:
            self.transport.close()

    def _uncork(self) -> None:
        held, self._corked = self._corked, None
        self._corked_size = 0
        if held:
            self._emit(held[0] if len(held) == 1 else b"".join(held))

    def _emit(self, data: bytes) -> None:
        t = self.transport
        if self._dead or t is None or t.is_closing():
            return
        t.write(data)
        self._last_write = self._clock()
        size = t.get_write_buffer_size()
        if size > self.server.output_limit:
            self._overflow()
        elif size or self.charged:
            self._charge(self.usage())

    def start_heartbeat(self, send_ms: int, recv_ms: int) -> None:
        self._send_s, self._recv_s = send_ms / 1000.0, recv_ms / 1000.0
        if self._send_s:
            self._timers.append(self.loop.call_later(self._send_s, self._send_tick))
        if self._recv_s:
            self._timers.append(
                self.loop.call_later(self._recv_s * HEARTBEAT_GRACE, self._recv_tick)
            )

    # what the guard asks
    @property
    def peer(self) -> Any:
        return self.transport.get_extra_info("peername") if self.transport else None

    @property
    def proven(self) -> bool:
        """The peer sent CONNECT: it speaks our protocol."""
        return self.session is not None and self.session.connected

    @property
    def last_read(self) -> float:
        return self._last_read

    def usage(self) -> int:
        """Bytes buffered now: input not yet a whole frame or not yet answered, and output not
        yet sent."""
        if self._shed:
            return 0
        held = len(self._head) + self._queued + self._corked_size
        held += self.session.parser.buffered if self.session else 0
        return held + (self.transport.get_write_buffer_size() if self.transport else 0)

    def shed(self, reason: str, *, error: bool) -> None:
        """Close for a broken limit: with an ERROR frame when ``error`` and the peer speaks
        STOMP and little output is queued, else aborted (queued output is dropped)."""
        if self._shed or self._dead:
            return
        self.guard.forget(self)
        self._shed = True
        t = self.transport
        session = self.session
        queued = t.get_write_buffer_size() if t else 0
        if error and session is not None and not session.closed and queued <= SMALL_OUTPUT:
            session.fail(reason)
        else:
            log.info("connection %s: %s; closing", self.peer, reason)
            self._abort()

    def check_deadlines(self, limits: GuardLimits) -> None:
        """Close this connection if it broke a time limit (see rpc.guard)."""
        t = self.transport
        if self._shed or self._dead or t is None or t.is_closing():
            return
        now = self._clock()
        session = self.session
        if session is None or not session.connected:
            if now - self._born > limits.detect_timeout:
                what = "STOMP command" if session is None else "CONNECT"
                self.shed(f"no {what} in time", error=session is not None)
            return
        if self._frame_overdue(now, session.parser, limits.frame_timeout):
            self.shed("frame not complete in time", error=True)
        elif self._output_stalled(now, t.get_write_buffer_size(), limits.write_timeout):
            self.shed("output not read in time", error=False)

    # internals
    def _frame_overdue(self, now: float, parser: Parser, timeout: float) -> bool:
        """True when one frame stayed incomplete for ``timeout`` while we were reading."""
        if parser.idle or self._paused:
            self._partial = None
            return False
        if self._partial is None or self._partial[0] != parser.completed:
            self._partial = (parser.completed, now)
            return False
        return now - self._partial[1] > timeout

    def _output_stalled(self, now: float, size: int, timeout: float) -> bool:
        """True when queued output did not shrink for ``timeout``."""
        if not size:
            self._stall = None
            return False
        if self._stall is None or size < self._stall[0]:
            self._stall = (size, now)
            return False
        return now - self._stall[1] > timeout

    def _charge(self, usage: int) -> None:
        if not self._shed:
            self.guard.charge(self, usage)

    def _overflow(self) -> None:
        log.warning("connection %s: output buffer over its limit; closing", self.peer)
        self._abort()

    def _abort(self) -> None:
        """Drop everything now: no more output, the session is over."""
        self._dead = True
        self._corked = [] if self._corked is not None else None
        self._corked_size = 0
        if self.transport is not None:
            self.transport.abort()
        if self.session is not None:
            self.session.connection_lost()

    def _detected(self) -> None:
        assert self.transport is not None
        session = self.server.broker.open_session(self)
        session.local_address = self.transport.get_extra_info("sockname")
        session.peer_address = self.peer
        self.session = session
        head, self._head = self._head, b""
        self._feed(head)

    def _feed(self, data: bytes) -> None:
        """Hand input to the session (data_received holds its writes meanwhile). Only
        this changes the session's codec, so afterwards is when to see whether the next input
        may take the fast path (which needs the codec between frames)."""
        session = self.session
        assert session is not None
        try:
            session.data_received(data)
        finally:
            self._fast_ok = session.parser.idle
        if session.parser.buffered or self._queued or self.charged:
            self._charge(self.usage())

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

    def request_started(self, size: int) -> None:
        """A request body of ``size`` bytes went to the thread pool (it counts as buffered
        input until it is done)."""
        self._inflight += 1
        self._queued += size
        self._charge(self.usage())
        if self._inflight >= self.server.max_inflight and self.transport and not self._paused:
            self._paused = True
            self.transport.pause_reading()

    def request_done(self, size: int) -> None:
        self._inflight -= 1
        self._queued -= size
        if self.charged:
            self._charge(self.usage())
        if self._paused and self._inflight < self.server.max_inflight and self.transport:
            self._paused = False
            self._last_read = self.loop.time()
            self.transport.resume_reading()
