"""The commonest request, from input bytes to the reply bytes in one step.

An engine pings (Host.ping, Host.ping2, Host.confirmConnectivity) far more often than it asks for
anything else, one SEND per TLS record. When a chunk of input is exactly that, the general path
(codec, Frame, broker, Request, CallContext, dispatcher, Reply, routing, MESSAGE encoding) spends
most of a round trip's CPU on objects this case never needs. :meth:`FastPath.answer` takes the
chunk when all of this holds, and otherwise returns False having done nothing:

- the session's codec is idle (no partial frame, no pending error: the caller checks) and the
  chunk is one whole SEND frame with a content-length and nothing after its NUL;
- its head is short, LF-only and well-formed (the codec's own one-pass rules), its destination
  is a request queue (a SEND there is copied to nobody), and its body is within the server's
  inline limit;
- the body is strict UTF-8 JSON (rpc.jsonrpc.DECODER) of a single request that
  :meth:`Dispatcher.answer_inline` accepts (an inline method, a str or int id, list or dict
  params, the dispatcher ready).

The verb then runs through :meth:`Dispatcher.answer` and its reply goes through
:meth:`Session.reply`, the very functions the general path ends in, so the reply bytes are the
same. Parsed heads are remembered by their bytes (an engine repeats the same head), up to
``HEAD_CACHE`` of them; what a head means depends only on the server's fixed limits and queues.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from rpc.jsonrpc import DECODER, Dispatcher
from rpc.stomp.broker import Broker, Session
from rpc.stomp.codec import ProtocolError, fast_head_limit, fill_template, parse_length, split_head

HEAD_CACHE = 256
_UNSEEN = object()
SEND_LINE = b"SEND\n"
# The C scanner behind the dispatcher's strict decoder: one call instead of decode, raw_decode and
# two whitespace matches. A body it does not consume whole (white space around it, extra data)
# or refuses (a non-finite number included) is left to the general path.
_scan: Callable[[str, int], tuple[Any, int]] = DECODER.scan_once  # type: ignore[attr-defined]


class _Head(NamedTuple):
    """What the fast path needs of a SEND head it may take."""

    destination: str
    reply_to: str | None
    flow_id: str | None
    length: int


class FastPath:
    """One per server: ``answer(session, data)`` for each chunk a connection reads."""

    def __init__(self, broker: Broker, dispatcher: Dispatcher, inline_limit: int) -> None:
        self._broker = broker
        self._dispatcher = dispatcher
        self._inline_limit = inline_limit
        lim = broker.limits
        self._max_headers = lim.max_headers
        self._max_frame_size = lim.max_frame_size
        self._head_limit = fast_head_limit(lim.max_header_line, lim.max_frame_size)
        self._heads: dict[bytes, Any] = {}  # a _Head, or None for a head never taken
        self._answer_inline = dispatcher.answer_inline

    def answer(self, session: Session, data: bytes) -> bool:
        """Answer ``data`` if it is one plain inline request (see the module); False, with
        nothing done, leaves it to the session's general path. Call it only while the
        session's codec is between frames (``session.parser.idle``); the connection knows."""
        if not data.startswith(SEND_LINE) or session.closed:
            return False
        end = data.find(b"\n\n", 0, self._head_limit)
        if end < 0:
            return False
        key = data[:end]
        head = self._heads.get(key, _UNSEEN)
        if head is _UNSEEN:
            head = self._learn(key)
        if head is None:
            return False
        _, reply_to, flow_id, length = head
        stop = end + 2 + length
        if len(data) != stop + 1 or data[stop]:
            return False
        try:  # json.loads' own steps around this scan only reject what we leave to it
            body = data[end + 2 : stop].decode("utf-8")
            doc, last = _scan(body, 0)
        except (ValueError, StopIteration, RecursionError):
            return False
        if last != len(body):
            return False
        text = self._answer_inline(doc, session.call_context, flow_id)
        if text is None:
            return False
        subs = session.routes.get(reply_to) if reply_to is not None else None
        if subs is not None and len(subs) == 1:
            if not session.closed:  # (Session.write, one call less)
                (sub,) = subs.values()
                msg_id = self._broker.next_message_id()
                session.link.write(fill_template(sub.template, msg_id, text.encode("utf-8")))
        else:  # not the engine's usual set-up: the session's own routing, warnings included
            session.reply(text, False, reply_to)
        return True

    def _learn(self, key: bytes) -> _Head | None:
        head = self._parse(key)
        if len(self._heads) < HEAD_CACHE:  # a peer's made-up heads cannot grow it further
            self._heads[key] = head
        return head

    def _parse(self, key: bytes) -> _Head | None:
        try:
            split = split_head(key, self._max_headers)
            if split is None:
                return None
            headers = split[1]
            length = parse_length(headers)
        except ProtocolError:
            return None
        if length is None or length > self._inline_limit:
            return None
        if len(key) + 2 + length + 1 > self._max_frame_size:
            return None
        dest = headers.get("destination")
        if not dest or not self._broker.is_request_queue(dest):
            return None
        return _Head(dest, headers.get("reply-to"), headers.get("ovirtCorrelationId"), length)
