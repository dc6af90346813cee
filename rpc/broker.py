"""The server side of vdsm's STOMP dialect, without any I/O.

A :class:`Broker` holds the server-wide subscription map; each connection is a :class:`Session`
that is fed bytes and writes frames to its :class:`Link`. SUBSCRIBE is accepted before CONNECT
(the engine's order). SEND to a request queue (or a dotted sub-destination of one) goes to the
``submit`` callback, whose reply comes back through :meth:`Broker.route_reply`: to the request's
``reply-to`` destination on whichever connection subscribed to it, or to
``jms.topic.vdsm_responses`` for a lone response with a null id. Every SEND is also forwarded to
the subscribers of its destination or of any dotted prefix of it.

Protocol errors and broken limits get an ERROR frame (message in the body and in a ``message``
header) and a closed connection. Command-level errors that vdsm tolerates (a missing header, a
duplicate subscription id, a destination nobody subscribed to) get an ERROR and the connection
stays open, as in vdsm.
"""

from __future__ import annotations

import functools
import itertools
import logging
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from rpc.jsonrpc import CallContext, Reply
from rpc.stomp import (
    DEFAULT_MAX_FRAME_SIZE,
    DEFAULT_MAX_HEADER_LINE,
    DEFAULT_MAX_HEADERS,
    Frame,
    Parser,
    ProtocolError,
    encode_frame,
    fill_template,
    message_template,
)

log = logging.getLogger(__name__)

REQUEST_QUEUES = ("jms.topic.vdsm_requests", "jms.topic.vdsm_irs_requests")
RESPONSE_QUEUE = "jms.topic.vdsm_responses"
EVENT_QUEUE = "jms.queue.events"
JSON = "application/json"
MIN_HEARTBEAT_MS = 1000


class Link(Protocol):
    """What a session needs from its transport."""

    def write(self, data: bytes) -> None: ...

    def close(self) -> None: ...

    def start_heartbeat(self, send_ms: int, recv_ms: int) -> None: ...


@dataclass(frozen=True)
class Request:
    """A SEND body for JSON-RPC, with what is needed to route its reply."""

    session: Session
    body: bytes
    reply_to: str | None
    flow_id: str | None


Submit = Callable[[Request], None]


@dataclass(frozen=True)
class Limits:
    max_frame_size: int = DEFAULT_MAX_FRAME_SIZE
    max_headers: int = DEFAULT_MAX_HEADERS
    max_header_line: int = DEFAULT_MAX_HEADER_LINE


@dataclass(eq=False)
class Subscription:
    id: str
    destination: str
    session: Session
    template: bytes = field(init=False, repr=False)  # the MESSAGE head of a published body

    def __post_init__(self) -> None:
        headers = {"destination": self.destination, "content-type": JSON, "subscription": self.id}
        self.template = message_template("MESSAGE", headers)


def error_frame(message: str) -> bytes:
    return encode_frame("ERROR", {"message": message, "content-type": "text/plain"}, message)


def negotiate_heartbeat(value: str | None) -> tuple[int, int]:
    """From the client's ``cx,cy``: (server sends every ms, server expects every ms)."""
    parts = (value or "").split(",")
    nums: list[int] = []
    for i in range(2):
        try:
            n = int(parts[i].strip()) if i < len(parts) else 0
        except ValueError:
            n = 0
        nums.append(0 if n <= 0 else max(n, MIN_HEARTBEAT_MS))
    cx, cy = nums
    return cy, cx


@functools.lru_cache(maxsize=1024)
def _prefixes(destination: str) -> tuple[str, ...]:
    parts = destination.split(".")
    return tuple(".".join(parts[: i + 1]) for i in range(len(parts)))


class Broker:
    """Server-wide state: subscriptions by destination, and where replies go."""

    def __init__(
        self,
        submit: Submit,
        request_queues: tuple[str, ...] = REQUEST_QUEUES,
        limits: Limits | None = None,
    ) -> None:
        self._submit = submit
        self.request_queues = request_queues
        self.limits = limits or Limits()
        self._subs: dict[str, list[Subscription]] = defaultdict(list)
        # Subscriptions by destination, for readers that route by themselves (rpc.fastpath);
        # a list is never empty, and only this class changes them.
        self.subscriptions: Mapping[str, list[Subscription]] = self._subs
        self._ids = itertools.count(1)
        self.sessions: set[Session] = set()
        self._request_dest: dict[str, bool] = {}
        self._unheard: dict[str, bool] = {}  # destination: no subscriber to it or a prefix

    def open_session(self, link: Link) -> Session:
        session = Session(self, link, next(self._ids))
        self.sessions.add(session)
        return session

    def subscribers(self, destination: str) -> list[Subscription]:
        return list(self._subs.get(destination, ()))

    def publish(self, destination: str, body: str | bytes) -> int:
        """Send a MESSAGE to every subscriber of exactly ``destination``; how many got it."""
        subs = self._subs.get(destination)
        if not subs:
            return 0
        raw = body.encode("utf-8") if isinstance(body, str) else body
        for sub in list(subs):
            sub.session.write(fill_template(sub.template, raw))
        return len(subs)

    def route_reply(self, reply: Reply, reply_to: str | None) -> None:
        self.send_reply(reply.text, reply.null_id, reply_to)

    def send_reply(self, text: str, null_id: bool, reply_to: str | None) -> None:
        """A serialised reply to its destination: ``reply_to``, or the response queue for a
        lone response with a null id."""
        destination = RESPONSE_QUEUE if null_id else reply_to
        if destination is None:
            log.debug("reply dropped: the request had no reply-to")
            return
        if not self.publish(destination, text):
            log.warning("Attempt to reply to unknown destination %s", destination)

    def is_request_queue(self, destination: str) -> bool:
        known = self._request_dest.get(destination)
        if known is None:
            known = any(destination == q or destination.startswith(q + ".")
                        for q in self.request_queues)
            if len(self._request_dest) < 1024:  # a peer's made-up names cannot grow it further
                self._request_dest[destination] = known
        return known

    def unheard(self, destination: str) -> bool:
        """True when nobody subscribed to ``destination`` or a dotted prefix of it (so a SEND
        there is forwarded to no one)."""
        known = self._unheard.get(destination)
        if known is None:
            known = not any(prefix in self._subs for prefix in _prefixes(destination))
            if len(self._unheard) < 1024:
                self._unheard[destination] = known
        return known

    def forward(self, frame: Frame, destination: str) -> int:
        """Copy a SEND as MESSAGE to subscribers of its destination or a dotted prefix."""
        sent = 0
        extra: dict[str, str] | None = None
        for prefix in _prefixes(destination):
            subs = self._subs.get(prefix)
            if not subs:
                continue
            if extra is None:
                extra = {k: v for k, v in frame.headers.items() if k != "content-length"}
            for sub in list(subs):
                headers = {"subscription": sub.id, **extra}
                sub.session.write(encode_frame("MESSAGE", headers, frame.body))
                sent += 1
        return sent

    def submit(self, request: Request) -> None:
        self._submit(request)

    def add_subscription(self, sub: Subscription) -> None:
        self._subs[sub.destination].append(sub)
        self._unheard.clear()

    def remove_subscription(self, sub: Subscription) -> None:
        subs = self._subs.get(sub.destination)
        if subs and sub in subs:
            subs.remove(sub)
            if not subs:
                del self._subs[sub.destination]
                self._unheard.clear()

    def session_closed(self, session: Session) -> None:
        self.sessions.discard(session)


@dataclass(eq=False)
class Session:
    """One client connection's STOMP state."""

    broker: Broker
    link: Link
    id: int
    local_address: tuple[Any, ...] | None = None
    peer_address: tuple[Any, ...] | None = None
    connected: bool = False
    closed: bool = False
    subscriptions: dict[str, Subscription] = field(default_factory=dict)
    parser: Parser = field(init=False)

    def __post_init__(self) -> None:
        lim = self.broker.limits
        self.parser = Parser(lim.max_frame_size, lim.max_headers, lim.max_header_line)

    def write(self, data: bytes) -> None:
        if not self.closed:
            self.link.write(data)

    def call_context(self, flow_id: str | None) -> CallContext:
        """Who is calling, for a request of this session with this flow id."""
        return CallContext(self.id, self.local_address, self.peer_address, flow_id)

    def data_received(self, data: bytes) -> None:
        if self.closed:
            return
        try:
            frames = self.parser.feed(data)
        except ProtocolError as exc:
            self.fail(str(exc))
            return
        for frame in frames:
            if self.closed:
                return
            self.handle(frame)
        if self.parser.error is not None and not self.closed:
            self.fail(str(self.parser.error))

    def fail(self, message: str) -> None:
        """ERROR, then close: for protocol errors and broken limits."""
        log.info("connection %d: %s", self.id, message)
        self.write(error_frame(message))
        self.close()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.link.close()
        self.connection_lost()

    def connection_lost(self) -> None:
        self.closed = True
        for sub in self.subscriptions.values():
            self.broker.remove_subscription(sub)
        self.subscriptions.clear()
        self.broker.session_closed(self)

    def handle(self, frame: Frame) -> None:
        handler = _HANDLERS.get(frame.command)
        if handler is None:
            self.fail(f"Unknown command {frame.command}")
            return
        handler(self, frame)

    def _connect(self, frame: Frame) -> None:
        versions = [v.strip() for v in frame.headers.get("accept-version", "").split(",")]
        if "1.2" not in versions:
            self.fail("Version unsupported")
            return
        send_ms, recv_ms = negotiate_heartbeat(frame.headers.get("heart-beat"))
        self.connected = True
        self.write(
            encode_frame("CONNECTED", {"version": "1.2", "heart-beat": f"{send_ms},{recv_ms}"})
        )
        self.link.start_heartbeat(send_ms, recv_ms)

    def _subscribe(self, frame: Frame) -> None:
        dest = frame.headers.get("destination")
        sub_id = frame.headers.get("id")
        if not dest or sub_id is None:
            self.write(error_frame("Missing destination or subscription id header"))
            return
        if sub_id in self.subscriptions:
            self.write(error_frame("Subscription id already exists"))
            return
        sub = Subscription(sub_id, dest, self)
        self.subscriptions[sub_id] = sub
        self.broker.add_subscription(sub)

    def _unsubscribe(self, frame: Frame) -> None:
        sub_id = frame.headers.get("id")
        if sub_id is None:
            self.write(error_frame("Missing id header"))
            return
        sub = self.subscriptions.pop(sub_id, None)
        if sub is not None:
            self.broker.remove_subscription(sub)

    def _send(self, frame: Frame) -> None:
        dest = frame.headers.get("destination")
        if not dest:
            self.write(error_frame("Missing destination header"))
            return
        forwarded = 0 if self.broker.unheard(dest) else self.broker.forward(frame, dest)
        if self.broker.is_request_queue(dest):
            self.broker.submit(
                Request(
                    self,
                    frame.body or b"",
                    frame.headers.get("reply-to"),
                    frame.headers.get("ovirtCorrelationId"),
                )
            )
        elif not forwarded:
            self.write(error_frame("Subscription not available"))

    def _disconnect(self, frame: Frame) -> None:
        receipt = frame.headers.get("receipt")
        if receipt is None:
            self.close()
            return
        self.write(encode_frame("RECEIPT", {"receipt-id": receipt}))


_HANDLERS: dict[str, Callable[[Session, Frame], None]] = {
    "CONNECT": Session._connect,
    "STOMP": Session._connect,
    "SUBSCRIBE": Session._subscribe,
    "UNSUBSCRIBE": Session._unsubscribe,
    "SEND": Session._send,
    "DISCONNECT": Session._disconnect,
}
