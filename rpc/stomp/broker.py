"""The server side of vdsm's STOMP dialect, without any I/O.

A :class:`Broker` holds what is server-wide (the subscriptions to destinations the server
publishes to, which destinations are request queues); each connection is a :class:`Session`
that is fed bytes and writes frames to its :class:`Link`. SUBSCRIBE is accepted before CONNECT
(the engine's order). SEND to a request queue (or a dotted sub-destination of one) goes to the
``submit`` callback, whose reply comes back through :meth:`Session.reply`.

Connections are kept apart, which vdsm does not do (its clients notice no difference: vdsm's
client, vdsm-client and the engine subscribe only to their own reply-to):

- a reply goes only to the connection whose request it answers: to that connection's
  subscriptions to the request's ``reply-to``, or to ``jms.topic.vdsm_responses`` for a lone
  response with a null id;
- a SEND to a request queue goes to the dispatcher and is copied to nobody;
- any other SEND is copied only to the sending connection's own subscriptions to its
  destination or a dotted prefix of it. So no client reads another's requests or replies, and
  none can write into another's reply-to;
- what the server publishes (events) reaches every subscriber of that destination.

Protocol errors and broken limits (including more than ``max_subscriptions`` subscriptions on
one connection, and a second CONNECT) get an ERROR frame (message in the body and in a
``message`` header) and a closed connection. Command-level errors that vdsm tolerates (a missing
header, a duplicate subscription id, a destination nobody subscribed to) get an ERROR and the
connection stays open, as in vdsm. Subscribing and unsubscribing cost O(1).
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from rpc.jsonrpc import CallContext, Reply
from rpc.stomp.codec import (
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
MAX_HEARTBEAT_MS = 3_600_000  # larger asks are clamped to this (an hour)
DEFAULT_MAX_SUBSCRIPTIONS = 128  # per connection; the engine uses 2, vdsm-client 1
# Headers of a forwarded SEND that the server writes itself on each MESSAGE copy.
_OWN_HEADERS = frozenset(("content-length", "subscription", "message-id"))


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
    max_subscriptions: int = DEFAULT_MAX_SUBSCRIPTIONS


@dataclass(eq=False)
class Subscription:
    id: str
    destination: str
    session: Session
    template: bytes = field(init=False, repr=False)  # the MESSAGE head of a published body

    def __post_init__(self) -> None:
        headers = {"destination": self.destination, "content-type": JSON, "subscription": self.id}
        self.template = message_template(headers)


def error_frame(message: str) -> bytes:
    return encode_frame("ERROR", {"message": message, "content-type": "text/plain"}, message)


def negotiate_heartbeat(value: str | None) -> tuple[int, int]:
    """From the client's ``cx,cy``: (server sends every ms, server expects every ms). Each is 0
    (none) for 0 or anything but ASCII digits, else within [MIN_HEARTBEAT_MS, MAX_HEARTBEAT_MS]."""
    parts = (value or "").split(",")
    cx = _heartbeat_ms(parts[0])
    cy = _heartbeat_ms(parts[1]) if len(parts) > 1 else 0
    return cy, cx


def _heartbeat_ms(text: str) -> int:
    digits = text.strip()
    if not (digits.isascii() and digits.isdigit()):
        return 0
    digits = digits.lstrip("0")
    if not digits:
        return 0
    if len(digits) > len(str(MAX_HEARTBEAT_MS)):  # no int() of a few thousand digits
        return MAX_HEARTBEAT_MS
    return min(max(int(digits), MIN_HEARTBEAT_MS), MAX_HEARTBEAT_MS)


class Broker:
    """Server-wide state: the subscriptions by destination, for what the server publishes."""

    def __init__(
        self,
        submit: Submit,
        request_queues: tuple[str, ...] = REQUEST_QUEUES,
        limits: Limits | None = None,
    ) -> None:
        self._submit = submit
        self.request_queues = request_queues
        self.limits = limits or Limits()
        self._subs: dict[str, dict[Subscription, None]] = {}  # ordered sets, never empty
        self._ids = itertools.count(1)
        # Every MESSAGE frame's message-id (STOMP 1.2): unique among all this server sends.
        self.next_message_id: Callable[[], int] = itertools.count(1).__next__
        self.sessions: set[Session] = set()
        self._request_dest: dict[str, bool] = {}

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
        next_id = self.next_message_id
        for sub in list(subs):
            sub.session.write(fill_template(sub.template, next_id(), raw))
        return len(subs)

    def route_reply(self, reply: Reply, request: Request) -> None:
        """A reply to the connection whose request it answers (see :meth:`Session.reply`)."""
        request.session.reply(reply.text, reply.null_id, request.reply_to)

    def is_request_queue(self, destination: str) -> bool:
        known = self._request_dest.get(destination)
        if known is None:
            known = any(destination == q or destination.startswith(q + ".")
                        for q in self.request_queues)
            if len(self._request_dest) < 1024:  # a peer's made-up names cannot grow it further
                self._request_dest[destination] = known
        return known

    def submit(self, request: Request) -> None:
        self._submit(request)

    def add_subscription(self, sub: Subscription) -> None:
        self._subs.setdefault(sub.destination, {})[sub] = None

    def remove_subscription(self, sub: Subscription) -> None:
        subs = self._subs.get(sub.destination)
        if subs is not None and sub in subs:
            del subs[sub]
            if not subs:
                del self._subs[sub.destination]

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
    subscriptions: dict[str, Subscription] = field(default_factory=dict)  # by id
    # This session's subscriptions by destination, then id: where its replies and SENDs go.
    routes: dict[str, dict[str, Subscription]] = field(default_factory=dict)
    parser: Parser = field(init=False)

    def __post_init__(self) -> None:
        lim = self.broker.limits
        self.parser = Parser(lim.max_frame_size, lim.max_headers, lim.max_header_line)

    def write(self, data: bytes) -> None:
        if not self.closed:
            self.link.write(data)

    def reply(self, text: str, null_id: bool, reply_to: str | None) -> None:
        """A serialised reply to one of this session's requests, to its own subscriptions to
        ``reply_to``, or to the response queue for a lone response with a null id."""
        destination = RESPONSE_QUEUE if null_id else reply_to
        if destination is None:
            log.debug("reply dropped: the request had no reply-to")
            return
        subs = self.routes.get(destination)
        if not subs:
            if not self.closed:
                log.warning("Attempt to reply to unknown destination %s", destination[:200])
            return
        raw = text.encode("utf-8")
        next_id = self.broker.next_message_id
        for sub in list(subs.values()):
            self.write(fill_template(sub.template, next_id(), raw))

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
        self.routes.clear()
        self.parser.discard()
        self.broker.session_closed(self)

    def handle(self, frame: Frame) -> None:
        handler = _HANDLERS.get(frame.command)
        if handler is None:
            self.fail(f"Unknown command {frame.command}")
            return
        handler(self, frame)

    def _connect(self, frame: Frame) -> None:
        if self.connected:
            self.fail("Already connected")
            return
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
        limit = self.broker.limits.max_subscriptions
        if len(self.subscriptions) >= limit:
            self.fail(f"Too many subscriptions (at most {limit} per connection)")
            return
        sub = Subscription(sub_id, dest, self)
        self.subscriptions[sub_id] = sub
        self.routes.setdefault(dest, {})[sub_id] = sub
        self.broker.add_subscription(sub)

    def _unsubscribe(self, frame: Frame) -> None:
        sub_id = frame.headers.get("id")
        if sub_id is None:
            self.write(error_frame("Missing id header"))
            return
        sub = self.subscriptions.pop(sub_id, None)
        if sub is not None:
            subs = self.routes[sub.destination]
            del subs[sub_id]
            if not subs:
                del self.routes[sub.destination]
            self.broker.remove_subscription(sub)

    def _send(self, frame: Frame) -> None:
        dest = frame.headers.get("destination")
        if not dest:
            self.write(error_frame("Missing destination header"))
            return
        if self.broker.is_request_queue(dest):
            self.broker.submit(
                Request(
                    self,
                    frame.body or b"",
                    frame.headers.get("reply-to"),
                    frame.headers.get("ovirtCorrelationId"),
                )
            )
        elif not self._forward(frame, dest):
            self.write(error_frame("Subscription not available"))

    def _forward(self, frame: Frame, destination: str) -> int:
        """Copy a SEND as MESSAGE to this session's subscriptions to its destination or a
        dotted prefix of it; how many copies."""
        sent = 0
        extra: dict[str, str] | None = None
        for prefix, subs in list(self.routes.items()):  # at most max_subscriptions of them
            if destination != prefix and not destination.startswith(prefix + "."):
                continue
            if extra is None:  # the sender's headers, but not those the server sets
                extra = {k: v for k, v in frame.headers.items() if k not in _OWN_HEADERS}
            for sub in list(subs.values()):
                if self.closed:  # cut off for its output meanwhile
                    return sent
                headers = {"subscription": sub.id, **extra,
                           "message-id": str(self.broker.next_message_id())}
                self.write(encode_frame("MESSAGE", headers, frame.body))
                sent += 1
        return sent

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
