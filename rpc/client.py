"""A synchronous client for vdsm's wire: mutual TLS, STOMP 1.2, JSON-RPC 2.0.

    with Client.connect("localhost", 54321, pki_dir="/etc/pki/vdsm") as cli:
        caps = cli.call("Host.getCapabilities")

Every call has its own id and a timeout; an error answer raises :class:`ServerError`. The socket
is driven by one shared asyncio loop in a daemon thread (so concurrent calls from many threads
never touch an SSL object at the same time); event callbacks run on that thread and must not
block.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import itertools
import json
import os
import ssl
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

from rpc.broker import EVENT_QUEUE, REQUEST_QUEUES
from rpc.stomp import Frame, Parser, ProtocolError, encode_frame
from rpc.tls import DEFAULT_PKI_DIR, client_ssl_context

DEFAULT_PORT = 54321
EventCallback = Callable[[str, dict[str, Any]], None]


class ClientError(Exception):
    """The connection failed or the server sent a STOMP ERROR."""


class ServerError(Exception):
    """The server answered a call with a JSON-RPC error."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(code, message)
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return f"(code={self.code}, message={self.message})"


_loop_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None


def _io_loop() -> asyncio.AbstractEventLoop:
    """The loop all clients share, started on first use."""
    global _loop
    with _loop_lock:
        if _loop is None:
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="rpc-client-io", daemon=True).start()
            _loop = loop
        return _loop


class _Wire(asyncio.Protocol):
    def __init__(self, client: Client) -> None:
        self.client = client
        self.parser = Parser()

    def data_received(self, data: bytes) -> None:
        try:
            frames = self.parser.feed(data)
        except ProtocolError as exc:
            self.client._fail(ClientError(f"bad frame from server: {exc}"))
            return
        for frame in frames:
            self.client._on_frame(frame)
        if self.parser.error is not None:
            self.client._fail(ClientError(f"bad frame from server: {self.parser.error}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.client._fail(ClientError(f"connection closed{f': {exc}' if exc else ''}"))


def _why(exc: BaseException, timeout: float) -> str:
    """The reason in words: a timeout says how long it waited, an OS error its strerror."""
    if isinstance(exc, ssl.SSLError):
        return f"TLS: {exc.reason or exc}"
    if isinstance(exc, TimeoutError | concurrent.futures.TimeoutError):
        return f"no answer within {timeout:g} s"
    if isinstance(exc, OSError) and exc.errno:  # asyncio's strerror is "Connect call failed"
        return os.strerror(exc.errno)
    return str(exc) or type(exc).__name__


class Client:
    """One STOMP connection. Use :meth:`connect`."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.loop = _io_loop()
        self.transport: asyncio.Transport | None = None
        self.response_queue = str(uuid.uuid4())
        self._response_sub = str(uuid.uuid4())
        self._sub_ids = itertools.count(1)
        self._subs: dict[str, Callable[[Frame], None]] = {}
        self._pending: dict[Any, concurrent.futures.Future[Any]] = {}
        self._connected: concurrent.futures.Future[Frame] = concurrent.futures.Future()
        self._lock = threading.Lock()
        self._failure: Exception | None = None

    @classmethod
    def connect(
        cls,
        host: str = "localhost",
        port: int = DEFAULT_PORT,
        pki_dir: str | Path | None = None,
        ssl_context: ssl.SSLContext | None = None,
        timeout: float = 60.0,
    ) -> Client:
        """Connect with mutual TLS, CONNECT and subscribe to a private response queue."""
        ctx = ssl_context or client_ssl_context(pki_dir or DEFAULT_PKI_DIR)
        client = cls(timeout)
        coro = client.loop.create_connection(
            lambda: _Wire(client), host, port, ssl=ctx, ssl_handshake_timeout=timeout
        )
        try:
            transport, _ = asyncio.run_coroutine_threadsafe(coro, client.loop).result(timeout)
        except (OSError, ssl.SSLError, concurrent.futures.TimeoutError) as exc:
            shown = f"[{host}]" if ":" in host else host
            raise ClientError(f"cannot connect to {shown}:{port}: {_why(exc, timeout)}") from exc
        client.transport = transport
        client.send_frame("CONNECT", {"accept-version": "1.2", "host": host, "heart-beat": "0,0"})
        client.send_frame(
            "SUBSCRIBE",
            {"destination": client.response_queue, "ack": "auto", "id": client._response_sub},
        )
        try:
            client._connected.result(timeout)
        except concurrent.futures.TimeoutError as exc:
            client.close()
            raise ClientError("no CONNECTED frame from the server") from exc
        except ClientError:
            client.close()
            raise
        return client

    def send_frame(
        self, command: str, headers: dict[str, str], body: bytes | str | None = None
    ) -> None:
        """Queue one frame for the wire (thread-safe)."""
        data = encode_frame(command, headers, body)
        if self.transport is None or self._failure is not None:
            raise ClientError(str(self._failure or "not connected"))
        self.loop.call_soon_threadsafe(self._write, data)

    def _write(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def call(
        self,
        method: str,
        params: dict[str, Any] | list[Any] | None = None,
        timeout: float | None = None,
        flow_id: str | None = None,
    ) -> Any:
        """Call a verb and return its result; ServerError, TimeoutError or ClientError."""
        req_id = str(uuid.uuid4())
        body = json.dumps(
            {"jsonrpc": "2.0", "method": method, "params": params or {}, "id": req_id}
        )
        fut: concurrent.futures.Future[Any] = concurrent.futures.Future()
        with self._lock:
            if self._failure is not None:
                raise ClientError(str(self._failure))
            self._pending[req_id] = fut
        headers = {
            "destination": REQUEST_QUEUES[0],
            "content-type": "application/json",
            "reply-to": self.response_queue,
        }
        if flow_id:
            headers["ovirtCorrelationId"] = flow_id
        self.send_frame("SEND", headers, body)
        wait = self.timeout if timeout is None else timeout
        try:
            return fut.result(wait)
        except concurrent.futures.TimeoutError:
            raise TimeoutError(f"no response to {method} within {wait} s") from None
        finally:
            with self._lock:
                self._pending.pop(req_id, None)

    def subscribe(self, destination: str, callback: Callable[[Frame], None]) -> str:
        """Subscribe to a destination; ``callback(frame)`` gets each MESSAGE. The id."""
        sub_id = f"sub-{next(self._sub_ids)}-{uuid.uuid4()}"
        self._subs[sub_id] = callback
        self.send_frame("SUBSCRIBE", {"destination": destination, "ack": "auto", "id": sub_id})
        return sub_id

    def subscribe_events(self, callback: EventCallback) -> str:
        """``callback(method, params)`` for each notification on ``jms.queue.events``."""

        def on_event(frame: Frame) -> None:
            try:
                msg = json.loads(frame.body or b"")
            except ValueError:
                return
            if isinstance(msg, dict) and isinstance(msg.get("method"), str):
                callback(msg["method"], msg.get("params") or {})

        return self.subscribe(EVENT_QUEUE, on_event)

    def close(self) -> None:
        if self.transport is None:
            return
        if self._failure is None:
            with contextlib.suppress(ClientError):
                self.send_frame("DISCONNECT", {"receipt": str(uuid.uuid4())})
        transport, self.transport = self.transport, None
        self.loop.call_soon_threadsafe(transport.close)
        self._fail(ClientError("client closed"))

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # loop-thread side
    def _on_frame(self, frame: Frame) -> None:
        if frame.command == "CONNECTED":
            if not self._connected.done():
                self._connected.set_result(frame)
        elif frame.command == "MESSAGE":
            sub = frame.headers.get("subscription")
            if sub == self._response_sub:
                self._on_response(frame)
            elif sub in self._subs:
                self._subs[sub](frame)
        elif frame.command == "ERROR":
            message = frame.headers.get("message") or frame.text()
            self._fail(ClientError(f"server error: {message}"))

    def _on_response(self, frame: Frame) -> None:
        try:
            doc = json.loads(frame.body or b"")
        except ValueError:
            return
        for resp in doc if isinstance(doc, list) else [doc]:
            if not isinstance(resp, dict):
                continue
            with self._lock:
                fut = self._pending.get(resp.get("id"))
            if fut is None or fut.done():
                continue
            err = resp.get("error")
            if isinstance(err, dict):
                fut.set_exception(ServerError(int(err.get("code", 0)), str(err.get("message"))))
            else:
                fut.set_result(resp.get("result"))

    def _fail(self, exc: Exception) -> None:
        with self._lock:
            if self._failure is None:
                self._failure = exc
            pending = list(self._pending.values())
        if not self._connected.done():
            self._connected.set_exception(exc)
        for fut in pending:
            if not fut.done():
                fut.set_exception(exc)
