"""Server-side TLS straight on a non-blocking ``ssl.SSLSocket``, driven by the event loop.

asyncio's own TLS layer (``asyncio.sslproto``) runs every byte through memory BIOs and a Python
state machine: on a ping round trip it costs about as much CPU as the rest of the server. Here
one ``SSLSocket.recv`` or ``send`` call (C code) reads or writes the socket and does the TLS
record work, as a blocking TLS server would; the loop only says when the socket is ready.

:func:`accept_tls` runs the handshake (with a time limit) for an accepted socket and then hands
a :class:`TlsTransport` to the protocol made by the factory. Handshake failures close the
socket quietly, as asyncio does. The read buffer is ``read_size`` bytes per ``recv`` (allocated
per call, not per connection); OpenSSL releases its own buffers while a connection is idle.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

RECORD = 16 * 1024  # one TLS record's worth of plaintext per SSL write
READS_PER_WAKEUP = 16  # then give other connections a turn
CLOSE_FLUSH_TIMEOUT = 30.0  # seconds a closing connection may take to send what it still holds


class TlsTransport(asyncio.Transport):
    """An asyncio Transport over a handshaken non-blocking SSLSocket."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        sock: ssl.SSLSocket,
        protocol: asyncio.Protocol,
        read_size: int,
    ) -> None:
        super().__init__()
        self._loop = loop
        self._sock = sock
        self._fd = sock.fileno()
        self._protocol = protocol
        self._read_size = read_size
        self._wbuf = bytearray()
        self._closing = False
        self._lost = False
        self._reading = False
        self._writing = False
        # The SSL object under the SSLSocket, when there is one: its read, write and pending are
        # what SSLSocket.recv, send and pending end in, two Python calls further down.
        io = getattr(sock, "_sslobj", None) or sock
        self._recv: Callable[[int], bytes] = io.read
        self._send: Callable[[bytes | bytearray | memoryview], int] = io.write
        self._pending: Callable[[], int] = io.pending
        self._extra: dict[str, Any] = {
            "socket": sock,
            "ssl_object": sock,
            "peername": _safe(sock.getpeername),
            "sockname": _safe(sock.getsockname),
            "peercert": sock.getpeercert(),
            "cipher": sock.cipher(),
        }

    def start(self) -> None:
        self._protocol.connection_made(self)
        if not self._closing:
            self.resume_reading()

    # asyncio.Transport
    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        """Hand the connection to another protocol (rpc.vhost, once it read CONNECT)."""
        assert isinstance(protocol, asyncio.Protocol)
        self._protocol = protocol

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self._protocol

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._extra.get(name, default)

    def is_closing(self) -> bool:
        return self._closing

    def is_reading(self) -> bool:
        return self._reading

    def pause_reading(self) -> None:
        if self._reading:
            self._reading = False
            self._loop.remove_reader(self._fd)

    def resume_reading(self) -> None:
        if self._reading or self._closing:
            return
        self._reading = True
        self._loop.add_reader(self._fd, self._read_ready)
        if self._pending():  # decrypted bytes the socket will not signal again
            self._loop.call_soon(self._read_ready)

    def get_write_buffer_size(self) -> int:
        return len(self._wbuf)

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._closing or not data:
            return
        if not self._wbuf and not self._writing and len(data) <= RECORD:  # straight out
            try:
                sent = self._send(data)
            except (ssl.SSLWantWriteError, ssl.SSLWantReadError, BlockingIOError):
                sent = 0
            except (OSError, ValueError) as exc:
                self._fatal(exc)
                return
            if sent == len(data):
                return
            # SSL retries must repeat the same bytes: _flush sends this data first, as a whole.
            data = data[sent:]
        self._wbuf += data
        if not self._writing:
            self._flush()

    def close(self) -> None:
        if self._closing:
            return
        self._closing = True
        self.pause_reading()
        if not self._wbuf:
            self._loop.call_soon(self._finish, None, True)
        else:  # flush first, but not for ever to a peer that stopped reading
            self._loop.call_later(CLOSE_FLUSH_TIMEOUT, self.abort)

    def abort(self) -> None:
        self._closing = True
        self._wbuf.clear()
        self._finish(None, False)

    # internals
    def _read_ready(self) -> None:
        if not self._reading:
            return
        for _ in range(READS_PER_WAKEUP):
            try:
                data = self._recv(self._read_size)
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError, BlockingIOError):
                return
            except ssl.SSLEOFError:  # a ragged EOF, which SSLSocket.recv reads as b""
                data = b""
            except (OSError, ValueError) as exc:
                self._fatal(exc)
                return
            if not data:  # close_notify, or the peer's FIN
                self.close()
                return
            self._protocol.data_received(data)
            if not self._reading or not self._pending():
                return
        self._loop.call_soon(self._read_ready)

    def _flush(self) -> None:
        buf = self._wbuf
        while buf:
            try:
                sent = self._send(bytes(buf[:RECORD]))
            except (ssl.SSLWantWriteError, ssl.SSLWantReadError, BlockingIOError):
                break
            except (OSError, ValueError) as exc:
                self._fatal(exc)
                return
            del buf[:sent]
        if buf and not self._writing:
            self._writing = True
            self._loop.add_writer(self._fd, self._write_ready)
        elif not buf and self._writing:
            self._writing = False
            self._loop.remove_writer(self._fd)
        if not buf and self._closing:
            self._finish(None, True)

    def _write_ready(self) -> None:
        self._flush()

    def _fatal(self, exc: Exception) -> None:
        log.debug("TLS connection %s: %r", self._extra.get("peername"), exc)
        self._closing = True
        self._wbuf.clear()
        self._finish(exc, False)

    def _finish(self, exc: Exception | None, notify: bool) -> None:
        if self._lost:
            return
        self._lost = True
        self._reading = False
        self._loop.remove_reader(self._fd)
        if self._writing:
            self._writing = False
            self._loop.remove_writer(self._fd)
        if notify:
            with contextlib.suppress(OSError, ValueError):
                self._sock.unwrap()  # our close_notify; we do not wait for the peer's
        self._sock.close()
        self._loop.call_soon(self._protocol.connection_lost, exc)


def _safe(fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except OSError:
        return None


def accept_tls(
    loop: asyncio.AbstractEventLoop,
    raw: socket.socket,
    context: ssl.SSLContext,
    factory: Callable[[], asyncio.Protocol],
    *,
    read_size: int,
    handshake_timeout: float,
    pending: dict[socket.socket, Callable[[object], None]] | None = None,
    on_failure: Callable[[], None] | None = None,
) -> None:
    """Handshake ``raw`` (accepted, non-blocking) without blocking the loop; on success start a
    TlsTransport for ``factory()``. ``pending`` maps each socket still in its handshake to the
    function that abandons it (for a server that closes, or that needs room); ``on_failure`` is
    called once when the handshake fails, times out or is abandoned."""
    try:
        sock = context.wrap_socket(raw, server_side=True, do_handshake_on_connect=False)
    except (OSError, ValueError):
        raw.close()
        if on_failure is not None:
            on_failure()
        return
    hs = _Handshake(loop, sock, factory, read_size, pending, on_failure)
    hs.timer = loop.call_later(handshake_timeout, hs.fail, "timed out")
    hs.step()


class _Handshake:
    """One server-side TLS handshake under way, driven by the loop's readiness callbacks."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        sock: ssl.SSLSocket,
        factory: Callable[[], asyncio.Protocol],
        read_size: int,
        pending: dict[socket.socket, Callable[[object], None]] | None,
        on_failure: Callable[[], None] | None,
    ) -> None:
        self.loop = loop
        self.sock = sock
        self.fd = sock.fileno()
        self.factory = factory
        self.read_size = read_size
        self.pending = pending
        self.on_failure = on_failure
        self.waiting = ""  # "r" / "w": what the loop watches for this handshake
        self.timer: asyncio.TimerHandle | None = None
        if pending is not None:
            pending[sock] = self.fail

    def step(self) -> None:
        try:
            self.sock.do_handshake()
        except ssl.SSLWantReadError:
            self._watch("r")
            return
        except ssl.SSLWantWriteError:
            self._watch("w")
            return
        except (OSError, ValueError) as exc:
            self.fail(exc)
            return
        self._forget()
        TlsTransport(self.loop, self.sock, self.factory(), self.read_size).start()

    def fail(self, reason: object) -> None:
        if self.sock.fileno() < 0:  # already abandoned
            return
        log.debug("TLS handshake with %s failed: %s", _safe(self.sock.getpeername), reason)
        self._forget()
        self.sock.close()
        if self.on_failure is not None:
            self.on_failure()

    def _forget(self) -> None:
        self._unwatch()
        if self.timer is not None:
            self.timer.cancel()
        if self.pending is not None:
            self.pending.pop(self.sock, None)

    def _unwatch(self) -> None:
        if self.waiting == "r":
            self.loop.remove_reader(self.fd)
        elif self.waiting == "w":
            self.loop.remove_writer(self.fd)
        self.waiting = ""

    def _watch(self, kind: str) -> None:
        if kind == self.waiting:
            return
        self._unwatch()
        self.waiting = kind
        if kind == "r":
            self.loop.add_reader(self.fd, self.step)
        else:
            self.loop.add_writer(self.fd, self.step)
