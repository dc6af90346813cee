"""One listener for many servers, chosen by the ``host`` header of STOMP CONNECT.

ovirt-vdsmfake served hundreds of fake hosts on one port this way, and the engine names the host
it means in CONNECT when ``UseHostNameIdentifier`` is set. A :class:`VhostServer` accepts and
handshakes like any :class:`~rpc.server.StompServer` (same guard, same TLS), then reads frames
until CONNECT (SUBSCRIBE may come first: the engine's order) and asks ``route(host)`` for the
server of that name. The connection, with everything read so far, is then that server's as if it
had accepted it; an unknown name gets a STOMP ERROR and the connection closes. Nothing here knows
what a host is: ``route`` maps a name to a server.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Callable

from rpc.jsonrpc import Dispatcher
from rpc.server import StompServer
from rpc.stomp.broker import error_frame
from rpc.stomp.codec import Parser, ProtocolError
from rpc.stomp.connection import Connection

log = logging.getLogger(__name__)

Route = Callable[[str], StompServer | None]
"""``route(host)``: the server that answers for the CONNECT ``host`` header, or None."""

MAX_SNIFF = 64 * 1024  # bytes read before CONNECT at most


class VhostServer(StompServer):
    """A listener whose connections belong to the server ``route`` names at CONNECT."""

    def __init__(self, route: Route, ssl_context: ssl.SSLContext | None, host: str,
                 port: int, *, detect_timeout: float = 10.0) -> None:
        super().__init__(Dispatcher(), ssl_context, host, port, detect_timeout=detect_timeout,
                         workers=1)
        self.route = route
        self.detect_timeout = detect_timeout

    def protocol(self, peer: str) -> asyncio.Protocol:
        return _Sniffer(self, peer)


class _Sniffer(asyncio.Protocol):
    """A connection until its CONNECT: the frames are kept, raw, for the chosen server."""

    def __init__(self, vhost: VhostServer, peer: str) -> None:
        self.vhost = vhost
        self.peer: str | None = peer
        self.transport: asyncio.Transport | None = None
        self.held = bytearray()
        self.parser = Parser()
        self.timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.timer = self.vhost.loop.call_later(self.vhost.detect_timeout, self._refuse,
                                                "no CONNECT in time")

    def data_received(self, data: bytes) -> None:
        self.held += data
        try:
            frames = self.parser.feed(data)
        except ProtocolError as exc:
            self._refuse(str(exc))
            return
        for frame in frames:
            if frame.command in ("CONNECT", "STOMP"):
                self._hand_over(frame.headers.get("host", ""))
                return
        if len(self.held) > MAX_SNIFF:
            self._refuse("too much before CONNECT")

    def _hand_over(self, name: str) -> None:
        target = self.vhost.route(name)
        if target is None:
            self._refuse(f"unknown host {name[:200]!r}")
            return
        assert self.transport is not None and self.peer is not None
        self._release()
        peer = self.peer
        self.peer = None
        if not target.guard.admit(peer):
            self.transport.abort()
            return
        conn = Connection(target, peer)
        self.transport.set_protocol(conn)
        conn.connection_made(self.transport)
        conn.data_received(bytes(self.held))

    def _refuse(self, why: str) -> None:
        log.info("connection %s refused: %s", self.peer, why)
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(error_frame(why))
            self.transport.close()

    def _release(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.peer is not None:
            self.vhost.guard.release(self.peer)

    def connection_lost(self, exc: Exception | None) -> None:
        self._release()
        self.peer = None
