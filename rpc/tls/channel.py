"""The I/O under rpc.client: one TLS socket that the calling threads read and write
themselves, one at a time, with nobody holding it while waiting for data.

A caller writes its request and then, unless another thread is already reading, reads until
its answer is in, filling every other caller's :class:`Slot` it meets on the way (the
client's ``_received`` decides what the bytes mean). A caller whose answer another thread
reads waits on a condition, and takes over the reading when that thread is done. The shared
watcher (rpc.tls.watch) reads for a subscribed client while no caller does.
"""

from __future__ import annotations

import contextlib
import os
import select
import socket
import ssl
import threading
import time
from typing import Any

from rpc.tls.watch import WATCHER

READ_SIZE = 64 * 1024
_WOULD_BLOCK = (ssl.SSLWantReadError, ssl.SSLWantWriteError, BlockingIOError)


class ClientError(Exception):
    """The connection failed or the server sent a STOMP ERROR."""


class Slot:
    """Where one call's answer (or the CONNECTED frame) lands."""

    __slots__ = ("done", "error", "result")

    def __init__(self) -> None:
        self.done = False
        self.result: Any = None
        self.error: Exception | None = None

    def value(self) -> Any:
        if self.error is not None:
            raise self.error
        return self.result


def why(exc: BaseException, timeout: float) -> str:
    """The reason in words: a timeout says how long it waited, an OS error its strerror."""
    if isinstance(exc, ssl.SSLError):
        return f"TLS: {exc.reason or exc}"
    if isinstance(exc, TimeoutError):
        return f"no answer within {timeout:g} s"
    if isinstance(exc, OSError) and exc.errno:
        return os.strerror(exc.errno)
    return str(exc) or type(exc).__name__


class Channel:
    """The socket, the callers' slots and who reads; :class:`rpc.client.Client` on top."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._sock: ssl.SSLSocket | None = None
        self._sslobj: Any = None
        self._poll = select.poll()  # only the reading thread polls
        self._io = threading.Lock()  # the SSL object: one thread reads or writes at a time
        self._lock = threading.Lock()  # the state below
        self._cond = threading.Condition(self._lock)  # where callers wait for their answer
        self._waiting = 0  # callers waiting on _cond
        self._pending: dict[Any, Slot] = {}
        self._connected = Slot()
        self._reading = False  # a thread is reading
        self._parked = False  # the shared watcher found us busy and stopped watching
        self._watched = False  # subscribed: the shared watcher reads while no caller does
        self._failure: Exception | None = None
        self._buf = bytearray(READ_SIZE)
        self._view = memoryview(self._buf)

    def _attach(self, sock: ssl.SSLSocket) -> None:
        self._sock = sock
        # The SSL object's read and write are what SSLSocket.recv_into and send end in,
        # two Python calls further down.
        self._sslobj = getattr(sock, "_sslobj", None) or sock
        self._poll.register(sock, select.POLLIN)

    def _shut(self) -> None:
        """Close the socket; a thread waiting to read wakes up."""
        sock = self._sock
        if sock is None:
            return
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        with self._io:
            self._sock = None
            sock.close()

    def _watch(self) -> None:
        """Have the shared watcher read the MESSAGEs that arrive while no caller reads."""
        self._watched = True
        WATCHER.watch(self)

    def fileno(self) -> int:
        """The socket's descriptor (-1 once closed): what the shared watcher waits on."""
        sock = self._sock
        return sock.fileno() if sock is not None else -1

    def _exchange(self, frame: bytes, req_id: str, deadline: float) -> Any:
        """Send a request and return its answer. A caller that finds nobody reading reads
        for itself straight away (the common case: one lock round each way, no waiting on a
        condition); otherwise it waits in :meth:`_wait`."""
        slot = Slot()
        with self._lock:
            if self._failure is not None:
                raise ClientError(str(self._failure))
            self._pending[req_id] = slot
            lead = not self._reading
            self._reading = True  # (already so when another thread reads)
        try:
            if lead and self._watched:
                WATCHER.hold(self)  # our reply is ours to read: it need not wake the watcher
            self._send(frame)
            if lead:
                self._read_until(slot, deadline)
            elif not slot.done:
                self._wait(slot, deadline)
        finally:
            parked = False
            with self._lock:
                del self._pending[req_id]
                if lead:
                    parked = self._stop_reading()
            if parked:
                WATCHER.watch(self)
        return slot.value()

    def _send(self, data: bytes) -> None:
        with self._io:
            if self._sock is None or self._failure is not None:
                raise ClientError(str(self._failure or "not connected"))
            try:
                sent = self._sslobj.write(data)
            except _WOULD_BLOCK:
                sent = 0
            except (OSError, ValueError) as exc:
                self._fail(ClientError(f"connection closed: {why(exc, self.timeout)}"))
                raise ClientError(str(self._failure)) from None
            if sent < len(data):
                self._send_rest(memoryview(data)[sent:])

    def _send_rest(self, view: memoryview) -> None:
        """With the I/O lock held: the rest of a write the socket could not take at once."""
        while view:
            try:
                view = view[self._sslobj.write(view):]
            except _WOULD_BLOCK:  # the socket is full: wait (the same bytes go again)
                if not select.select([], [self.fileno()], [], self.timeout)[1]:
                    self._fail(ClientError("connection closed: the server stopped reading"))
                    raise ClientError(str(self._failure)) from None
            except (OSError, ValueError) as exc:
                self._fail(ClientError(f"connection closed: {why(exc, self.timeout)}"))
                raise ClientError(str(self._failure)) from None

    def _wait(self, slot: Slot, deadline: float) -> None:
        """Until ``slot`` is filled: by waiting while another thread reads, by reading when
        nobody does."""
        cond = self._cond
        while True:
            with cond:
                while not slot.done and self._reading:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise TimeoutError
                    self._waiting += 1
                    try:
                        cond.wait(left)
                    finally:
                        self._waiting -= 1
                if slot.done:
                    return
                self._reading = True
            try:
                self._read_until(slot, deadline)
            finally:
                with cond:
                    parked = self._stop_reading()
                if parked:
                    WATCHER.watch(self)

    def _stop_reading(self) -> bool:
        """With the lock held: hand the reading over to a waiting caller. True when the
        shared watcher is to be given the client back (call ``WATCHER.watch`` then): it
        found us busy, or we held it off."""
        self._reading = False
        parked, self._parked = self._parked, False
        if self._waiting:
            self._cond.notify_all()
        return parked or self._watched

    def _read_until(self, slot: Slot, deadline: float) -> None:
        """As the reading thread: read and hand out frames until ``slot`` is filled. It
        waits in poll(2) first (one system call, whether or not data is there already)
        rather than trying a read that mostly raises; :meth:`_pump` leaves no decrypted
        bytes behind, so the socket's readiness is the whole story."""
        poll = self._poll.poll
        while not slot.done:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            if self._sock is None:
                return  # closed: _fail filled every slot
            try:
                ready = bool(poll(left * 1000 + 1))
            except (OSError, ValueError):
                ready = True  # closed meanwhile: the read says how
            if ready:
                self._pump(slot)

    def read_available(self) -> bool:
        """For the shared watcher: read what has arrived, unless a caller is reading (then
        False, and the watcher stops watching this client until that caller is done). False
        too once the connection failed: nothing more will come."""
        with self._lock:
            if self._reading:
                self._parked = True
                return False
            self._reading = True
        try:
            while self._pump():
                pass
        finally:
            with self._lock:
                self._stop_reading()  # (not parked: it is the watcher that reads)
        return self._failure is None

    def _pump(self, mine: Slot | None = None) -> bool:
        """Read what is there and hand it to :meth:`_received` (``mine``: the reading
        caller's own slot); False when nothing was there."""
        with self._io:
            sock = self._sock
            if sock is None or self._failure is not None:
                return False
            io = self._sslobj
            try:
                size = io.read(READ_SIZE, self._buf)
                data = bytes(self._view[:size])
                while size and io.pending():
                    size = io.read(READ_SIZE, self._buf)
                    data += self._view[:size]
            except _WOULD_BLOCK:
                return False
            except (OSError, ValueError) as exc:
                self._fail(ClientError(f"connection closed: {why(exc, self.timeout)}"))
                return True
        if not data:
            self._fail(ClientError("connection closed"))
            return True
        self._received(data, mine)
        return True

    def _received(self, data: bytes, mine: Slot | None) -> None:
        """Bytes read from the server (by one thread at a time); the client's frames."""
        raise NotImplementedError

    def _fill(self, slot: Slot, result: Any, error: Exception | None) -> None:
        with self._lock:
            if not slot.done:
                slot.result, slot.error, slot.done = result, error, True
                if self._waiting:
                    self._cond.notify_all()

    def _fail(self, exc: Exception) -> None:
        with self._lock:
            if self._failure is None:
                self._failure = exc
            for slot in [self._connected, *self._pending.values()]:
                if not slot.done:
                    slot.error, slot.done = exc, True
            self._cond.notify_all()


def tls_connect(ctx: ssl.SSLContext, host: str, port: int, timeout: float) -> ssl.SSLSocket:
    """A handshaken, non-blocking TLS socket (the handshake within ``timeout``)."""
    raw = socket.create_connection((host, port), timeout=timeout)
    try:
        if raw.family in (socket.AF_INET, socket.AF_INET6):
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock = ctx.wrap_socket(raw, server_hostname=host or None)
    except BaseException:
        raw.close()
        raise
    sock.setblocking(False)
    return sock
