"""The asyncio mutual-TLS listener that speaks vdsm's STOMP dialect.

Usage from a process (the loop's own thread)::

    server = StompServer(dispatcher, server_ssl_context(pki_dir), host="::", port=54321)
    await server.start()          # logs "listening on [::]:54321"
    ...                           # server.publish_event(...) from any thread
    server.close(); await server.wait_closed()

Connections must finish the TLS handshake within ``handshake_timeout``, then start with a STOMP
command word and CONNECT within ``detect_timeout``; anything else is closed. The connection cap,
the per-peer limit, the other time limits and the memory budget are rpc.guard's. Verbs run in a
thread pool, so a
long one never delays another or the heart-beats; only a small request (``inline_limit`` bytes)
made of verbs registered ``inline=True`` (pings) is answered on the loop, with no thread hop.

TLS runs straight on non-blocking SSLSockets (rpc.tls.direct), not through asyncio's TLS layer:
half the CPU per small round trip, and no 256 KiB read buffer per connection (1000 idle
connections hold about a third of the memory). Frames written while one chunk of input is
handled leave as one TLS write. The commonest input, one SEND of one inline request (a ping),
takes a collapsed path (rpc.stomp.fastpath) that gives the same reply bytes in far fewer steps.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import errno
import logging
import socket
import ssl
import threading
import time
from typing import Any

from rpc.guard import Guard, GuardLimits, peer_key
from rpc.jsonrpc import Dispatcher, Reply, decode, notification, undecodable_reply
from rpc.stomp.broker import DEFAULT_MAX_SUBSCRIPTIONS, EVENT_QUEUE, Broker, Limits, Request
from rpc.stomp.codec import DEFAULT_MAX_FRAME_SIZE
from rpc.stomp.connection import Connection
from rpc.stomp.fastpath import FastPath
from rpc.tls.context import DEFAULT_TLS_READ_BUFFER, server_ssl_context
from rpc.tls.direct import accept_tls

__all__ = ["StompServer", "bind_socket", "notify_time", "parse_listen", "server_ssl_context"]

log = logging.getLogger(__name__)

DEFAULT_HOST = "::"
DEFAULT_PORT = 54321
# Bodies up to this size are decoded on the loop to see whether they may run there (inline).
DEFAULT_INLINE_LIMIT = 8 * 1024


def notify_time() -> int:
    """vdsm's event timestamp."""
    return 2**31 - 1 + int(time.monotonic() * 1000)


def parse_listen(value: str) -> tuple[str, int]:
    """A ``--listen`` value: ``HOST:PORT``, ``[v6]:PORT`` or ``:PORT`` (``::``)."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"--listen wants HOST:PORT, not {value!r}")
    return host.strip("[]") or "::", int(port)


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening-ready socket. ``::`` (or ``""``) is dual-stack, falling back to 0.0.0.0."""
    host = host.strip("[]")
    if host in ("", "::"):
        try:
            sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        except OSError as exc:
            if exc.errno != errno.EAFNOSUPPORT:
                raise
            return bind_socket("0.0.0.0", port)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        addr: tuple[Any, ...] = ("::", port)
    else:
        family, _, _, _, addr = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(addr)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


class StompServer:
    """The listener. ``start()`` binds and serves; ``port`` is the bound port (0 works)."""

    def __init__(
        self,
        dispatcher: Dispatcher,
        ssl_context: ssl.SSLContext | None,
        host: str = DEFAULT_HOST,
        port: int = DEFAULT_PORT,
        *,
        max_connections: int = 4096,
        max_per_peer: int = 256,
        max_frame_size: int = DEFAULT_MAX_FRAME_SIZE,
        max_subscriptions: int = DEFAULT_MAX_SUBSCRIPTIONS,
        workers: int = 8,
        max_inflight: int = 64,
        output_limit: int = 64 * 1024 * 1024,
        memory_budget: int = 256 * 1024 * 1024,
        handshake_timeout: float = 10.0,
        detect_timeout: float = 10.0,
        frame_timeout: float = 30.0,
        write_timeout: float = 60.0,
        tls_read_buffer: int = DEFAULT_TLS_READ_BUFFER,
        inline_limit: int = DEFAULT_INLINE_LIMIT,
        executor: concurrent.futures.ThreadPoolExecutor | None = None,
    ) -> None:
        """``tls_read_buffer``: bytes asked of each TLS read (allocated per read, not kept per
        connection; asyncio's TLS layer keeps 256 KiB per connection). ``inline_limit``: request
        bodies up to this size are decoded on the loop and, if made only of inline verbs,
        answered there; 0 sends every request to the thread pool. ``output_limit`` is per
        connection, ``memory_budget`` for all of them (rpc.guard has the other limits).
        ``executor``: a thread pool shared with other servers (one process serving many
        listeners), used instead of one of ``workers`` threads of its own and never shut down
        by this server."""
        self.dispatcher = dispatcher
        self.ssl_context = ssl_context
        self.host = host
        self.requested_port = port
        self.max_inflight = max_inflight
        self.output_limit = output_limit
        self.handshake_timeout = handshake_timeout
        self.tls_read_buffer = tls_read_buffer
        self.inline_limit = inline_limit
        limits = Limits(max_frame_size=max_frame_size, max_subscriptions=max_subscriptions)
        self.broker = Broker(self._submit, limits=limits)
        self.connections: set[Connection] = set()
        self._handshakes: dict[socket.socket, Any] = {}
        guard = GuardLimits(max_connections, max_per_peer, detect_timeout, frame_timeout,
                            write_timeout, memory_budget)
        self.guard = Guard(guard, self.connections, self._handshakes)
        self.fast_path = FastPath(self.broker, dispatcher, inline_limit)
        self._own_executor = executor is None
        self._executor = executor or concurrent.futures.ThreadPoolExecutor(workers, "rpc-verb")
        self._verb = threading.local()  # .events: what the verb on this thread published
        self._listener: socket.socket | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closed: asyncio.Future[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            raise RuntimeError("server not started")
        return self._loop

    @property
    def port(self) -> int:
        if self._listener is None:
            raise RuntimeError("server not started")
        return int(self._listener.getsockname()[1])

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        sock = bind_socket(self.host, self.requested_port)
        sock.listen(512)
        self._listener = sock
        self._closed = self._loop.create_future()
        self._loop.add_reader(sock.fileno(), self._accept)
        self.guard.start(self._loop)
        host = self.host.strip("[]") or "::"
        shown = f"[{host}]" if ":" in host else host
        log.info("listening on %s:%d", shown, self.port)

    def _accept(self) -> None:
        assert self._listener is not None
        for _ in range(64):
            try:
                raw, addr = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # out of descriptors or memory: pause, as asyncio does
                log.warning("accept failed: %s; pausing for a second", exc)
                self.loop.remove_reader(self._listener.fileno())
                self.loop.call_later(1.0, self._resume_accept)
                return
            self._start(raw, peer_key(addr))

    def _start(self, raw: socket.socket, peer: str) -> None:
        """Admit an accepted socket (rpc.guard) and start its handshake or connection."""
        if not self.guard.admit(peer):
            raw.close()
            return
        raw.setblocking(False)
        if raw.family in (socket.AF_INET, socket.AF_INET6):
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.ssl_context is None:
            coro = self.loop.connect_accepted_socket(lambda: self.protocol(peer), raw)
            task = self.loop.create_task(coro)
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            return
        accept_tls(
            self.loop,
            raw,
            self.ssl_context,
            lambda: self.protocol(peer),
            read_size=self.tls_read_buffer,
            handshake_timeout=self.handshake_timeout,
            pending=self._handshakes,
            on_failure=lambda: self.guard.release(peer),
        )

    def protocol(self, peer: str) -> asyncio.Protocol:
        """The protocol of an admitted connection from ``peer`` (rpc.vhost sniffs first)."""
        return Connection(self, peer)

    def _resume_accept(self) -> None:
        if self._listener is not None and self._listener.fileno() >= 0:
            self.loop.add_reader(self._listener.fileno(), self._accept)

    async def serve_forever(self) -> None:
        if self._listener is None:
            await self.start()
        assert self._closed is not None
        await self._closed

    def publish_event(self, method: str, params: dict[str, Any]) -> None:
        """Send a notification to ``jms.queue.events`` subscribers; callable from any thread.
        An event published by a verb while it runs leaves right after that verb's reply, in
        the same TLS write (a client learns the call's outcome before its consequences)."""
        if not self.dispatcher.ready:
            log.warning("event %s dropped: not ready", method)
            return
        try:
            text = notification(method, {**params, "notify_time": notify_time()})
        except (TypeError, ValueError) as exc:  # not JSON (NaN, say): sent to nobody
            log.warning("event %s dropped: %s", method, exc)
            return
        held: list[str] | None = getattr(self._verb, "events", None)
        if held is not None:
            held.append(text)
            return
        try:
            self.loop.call_soon_threadsafe(self.broker.publish, EVENT_QUEUE, text)
        except RuntimeError:
            log.warning("event %s dropped: server loop is not running", method)

    def close(self) -> None:
        """Stop listening and drop every connection. Call from the loop's thread."""
        if self._listener is not None and self._listener.fileno() >= 0:
            self.loop.remove_reader(self._listener.fileno())
            self._listener.close()
        self.guard.stop()
        for abandon in list(self._handshakes.values()):
            abandon("server closed")
        if self._closed is not None and not self._closed.done():
            self._closed.set_result(None)
        for conn in list(self.connections):
            if conn.transport is not None:
                conn.transport.abort()
        if self._own_executor:
            self._executor.shutdown(wait=False, cancel_futures=True)

    async def wait_closed(self) -> None:
        await asyncio.sleep(0)  # let the connections hear connection_lost

    def _submit(self, request: Request) -> None:
        session = request.session
        ctx = session.call_context(request.flow_id)
        body = request.body
        job: Any = self.dispatcher.dispatch
        arg: Any = body
        if len(body) <= self.inline_limit:
            try:
                arg = decode(body)
            except (ValueError, RecursionError) as exc:
                self._reply(undecodable_reply(exc), request)
                return
            if self.dispatcher.runs_inline(arg):
                self._reply(self.dispatcher.run(arg, ctx), request)
                return
            job = self.dispatcher.run
        conn = session.link
        if isinstance(conn, Connection):
            conn.request_started(len(body))
        events: list[str] = []
        try:
            fut = self.loop.run_in_executor(self._executor, self._run_verb, job, arg, ctx, events)
        except RuntimeError:  # executor shut down
            return
        fut.add_done_callback(lambda f: self._done(f, request, events))

    def _run_verb(self, job: Any, arg: Any, ctx: Any, events: list[str]) -> Reply | None:
        """In a pool thread: run ``job``, holding in ``events`` what it publishes."""
        self._verb.events = events
        try:
            result: Reply | None = job(arg, ctx)
            return result
        finally:
            self._verb.events = None

    def _reply(self, reply: Reply | None, request: Request) -> None:
        if reply is not None:
            self.broker.route_reply(reply, request)

    def _done(
        self, fut: asyncio.Future[Reply | None], request: Request, events: list[str]
    ) -> None:
        conn = request.session.link
        if isinstance(conn, Connection):
            conn.request_done(len(request.body))
        if fut.cancelled():
            return
        exc = fut.exception()
        if exc is not None:
            log.error("dispatch failed: %s", str(exc) or type(exc).__name__)
        else:
            self._reply(fut.result(), request)
        for text in events:
            self.broker.publish(EVENT_QUEUE, text)
