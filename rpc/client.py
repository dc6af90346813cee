"""A synchronous client for vdsm's wire: mutual TLS, STOMP 1.2, JSON-RPC 2.0.

    with Client.connect("localhost", 54321, pki_dir="/etc/pki/vdsm") as cli:
        caps = cli.call("Host.getCapabilities")

Every call has its own id and a timeout; an error answer raises :class:`ServerError`. Any
number of threads may call at once (a setupNetworks and the confirmConnectivity pings that
keep it, say).

The calling thread does its own I/O (rpc.tls.channel): it writes its request and reads until its
reply is in, unless another caller is reading already, handing every other reply it meets to
its caller and every MESSAGE of a subscription to its callback. So a call costs one write and
the reads of its reply, with no hand-over to another thread (an I/O thread and asyncio's TLS
layer cost about ten times the server's own work for a ping). A read that is exactly one
whole reply (the usual one) skips the codec. While no caller reads, the MESSAGEs of a client
with subscriptions are read by one thread that all clients share (rpc.tls.watch).
Callbacks run on whichever thread reads, and must not block.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import ssl
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

from rpc.stomp.broker import EVENT_QUEUE, REQUEST_QUEUES
from rpc.stomp.codec import MAX_LENGTH_DIGITS, Frame, Parser, ProtocolError, encode_frame
from rpc.tls.channel import Channel, ClientError, Slot, tls_connect, why
from rpc.tls.context import DEFAULT_PKI_DIR, client_ssl_context
from rpc.tls.watch import WATCHER

DEFAULT_PORT = 54321
EventCallback = Callable[[str, dict[str, Any]], None]
_encode_str: Callable[[str], str] = json.encoder.encode_basestring_ascii
# json.loads' C scanner, one call instead of loads, detect_encoding, decode and raw_decode.
_scan: Callable[[str, int], tuple[Any, int]] = (
    json.decoder.JSONDecoder().scan_once)  # type: ignore[attr-defined]


__all__ = ["DEFAULT_PORT", "Client", "ClientError", "EventCallback", "ServerError"]


class ServerError(Exception):
    """The server answered a call with a JSON-RPC error."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(code, message)
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return f"(code={self.code}, message={self.message})"


class Client(Channel):
    """One STOMP connection. Use :meth:`connect`."""

    def __init__(self, timeout: float) -> None:
        super().__init__(timeout)
        self.response_queue = str(uuid.uuid4())
        self._response_sub = str(uuid.uuid4())
        self._sub_ids = itertools.count(1)
        self._subs: dict[str, Callable[[Frame], None]] = {}
        self._parser = Parser()
        self._idle = True  # the parser holds nothing: a read may be one whole reply
        self._ids = itertools.count(1)
        self._id_prefix = f"{uuid.uuid4()}-"
        head = {"destination": REQUEST_QUEUES[0], "content-type": "application/json",
                "reply-to": self.response_queue}
        self._send_head = encode_frame("SEND", head)[: -len(b"\n\n\x00")] + b"\ncontent-length:"
        reply = {"destination": self.response_queue, "content-type": "application/json",
                 "subscription": self._response_sub}
        self._reply_head = encode_frame("MESSAGE", reply)[: -len(b"\n\x00")]
        self._reply_start = len(self._reply_head)

    @classmethod
    def connect(
        cls,
        host: str = "localhost",
        port: int = DEFAULT_PORT,
        pki_dir: str | Path | None = None,
        ssl_context: ssl.SSLContext | None = None,
        timeout: float = 60.0,
        vhost: str | None = None,
    ) -> Client:
        """Connect with mutual TLS, CONNECT and subscribe to a private response queue.
        ``vhost``: the CONNECT ``host`` header (default ``host``), which picks the host on a
        port that serves many (rpc.vhost; the engine's UseHostNameIdentifier)."""
        ctx = ssl_context or client_ssl_context(pki_dir or DEFAULT_PKI_DIR)
        client = cls(timeout)
        try:
            client._attach(tls_connect(ctx, host, port, timeout))
        except (OSError, ssl.SSLError) as exc:
            shown = f"[{host}]" if ":" in host else host
            raise ClientError(f"cannot connect to {shown}:{port}: {why(exc, timeout)}") from exc
        connect = {"accept-version": "1.2", "host": vhost or host, "heart-beat": "0,0"}
        sub = {"destination": client.response_queue, "ack": "auto", "id": client._response_sub}
        try:
            client._send(encode_frame("CONNECT", connect) + encode_frame("SUBSCRIBE", sub))
            client._wait(client._connected, time.monotonic() + timeout)
            client._connected.value()
        except TimeoutError as exc:
            client.close()
            raise ClientError("no CONNECTED frame from the server") from exc
        except ClientError:
            client.close()
            raise
        return client

    def send_frame(
        self, command: str, headers: dict[str, str], body: bytes | str | None = None
    ) -> None:
        """Send one frame (thread-safe)."""
        self._send(encode_frame(command, headers, body))

    def call(
        self,
        method: str,
        params: dict[str, Any] | list[Any] | None = None,
        timeout: float | None = None,
        flow_id: str | None = None,
    ) -> Any:
        """Call a verb and return its result; ServerError, TimeoutError or ClientError."""
        req_id = f"{self._id_prefix}{next(self._ids)}"
        body = ('{"jsonrpc": "2.0", "method": ' + _encode_str(method) + ', "params": '
                + (json.dumps(params) if params else "{}") + ', "id": "' + req_id
                + '"}').encode()
        if flow_id:
            headers = {"destination": REQUEST_QUEUES[0], "content-type": "application/json",
                       "reply-to": self.response_queue, "ovirtCorrelationId": flow_id}
            frame = encode_frame("SEND", headers, body)
        else:
            frame = b"%b%d\n\n%b\x00" % (self._send_head, len(body), body)
        wait = self.timeout if timeout is None else timeout
        try:
            return self._exchange(frame, req_id, time.monotonic() + wait)
        except TimeoutError:
            raise TimeoutError(f"no response to {method} within {wait} s") from None

    def subscribe(self, destination: str, callback: Callable[[Frame], None]) -> str:
        """Subscribe to a destination; ``callback(frame)`` gets each MESSAGE. The id."""
        sub_id = f"sub-{next(self._sub_ids)}-{uuid.uuid4()}"
        self._subs[sub_id] = callback
        self.send_frame("SUBSCRIBE", {"destination": destination, "ack": "auto", "id": sub_id})
        self._watch()
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
        if self._sock is None:
            return
        if self._failure is None:
            with contextlib.suppress(ClientError):
                self.send_frame("DISCONNECT", {"receipt": str(uuid.uuid4())})
        self._fail(ClientError("client closed"))
        WATCHER.unwatch(self)
        self._shut()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _received(self, data: bytes, mine: Slot | None) -> None:
        if self._idle and data.startswith(self._reply_head):
            body = _lone_body(data, self._reply_start)
            if body is not None:  # one whole reply, the usual read
                self._on_response(body, mine)
                return
        try:
            frames = self._parser.feed(data)
        except ProtocolError as exc:
            self._fail(ClientError(f"bad frame from server: {exc}"))
            return
        for frame in frames:
            self._on_frame(frame)
        self._idle = self._parser.idle
        if self._parser.error is not None:
            self._fail(ClientError(f"bad frame from server: {self._parser.error}"))

    # -- frames ----------------------------------------------------------------------------
    def _on_frame(self, frame: Frame) -> None:
        if frame.command == "MESSAGE":
            sub = frame.headers.get("subscription")
            if sub == self._response_sub:
                self._on_response(frame.body or b"", None)
            elif sub in self._subs:
                self._subs[sub](frame)
        elif frame.command == "CONNECTED":
            self._fill(self._connected, frame, None)
        elif frame.command == "ERROR":
            message = frame.headers.get("message") or frame.text()
            self._fail(ClientError(f"server error: {message}"))

    def _on_response(self, body: bytes, mine: Slot | None) -> None:
        try:
            doc = _scan(body.decode("utf-8"), 0)[0]
        except (ValueError, StopIteration, RecursionError):
            return
        for resp in doc if isinstance(doc, list) else [doc]:
            if not isinstance(resp, dict):
                continue
            slot = self._pending.get(resp.get("id"))  # one dict read: atomic
            if slot is None:
                continue
            err = resp.get("error")
            if isinstance(err, dict):
                self._fill(slot, None, ServerError(int(err.get("code", 0)),
                                                   str(err.get("message"))))
            elif slot is mine:  # the reader's own: nobody waits on it
                slot.result, slot.done = resp.get("result"), True
            else:
                self._fill(slot, resp.get("result"), None)

def _lone_body(data: bytes, start: int) -> bytes | None:
    """The body of ``data`` when it is exactly one frame with a content-length, else None
    (the codec then reads it). ``data`` starts with our reply subscription's head, ``start``
    bytes long, whose values the server escapes: a line break in a head is always a real
    one, and the first content-length is the one that counts (as in the codec)."""
    end = data.find(b"\n\n", start - 1)
    at = data.find(b"\ncontent-length:", start - 1, end)
    if at < 0:
        return None
    digits = data[at + 16 : end]
    if not (0 < len(digits) <= MAX_LENGTH_DIGITS and digits.isdigit()):
        return None
    stop = end + 2 + int(digits)
    if len(data) != stop + 1 or data[stop]:
        return None
    return data[end + 2 : stop]


