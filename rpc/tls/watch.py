"""One thread for all of a process's clients that subscribed to something: it reads their
MESSAGEs (events) while none of their callers is reading.

A client's callers read for themselves (rpc.client); this thread only waits, in one selector,
on the sockets of subscribed clients, and when one is readable asks that client to read what
arrived (``read_available``). A client busy with a reading caller answers False: the watcher
then stops watching it, and the caller hands it back (``watch``) when it stops reading. So one
thread serves a manager's thousand host connections, and never spins on a socket a caller is
about to read.
"""

from __future__ import annotations

import contextlib
import logging
import selectors
import socket
import threading
from typing import Protocol

log = logging.getLogger(__name__)


class Watched(Protocol):
    def fileno(self) -> int: ...

    def read_available(self) -> bool:
        """Read what arrived; False when the watcher is to stop watching (busy or failed)."""


class Watcher:
    """The shared reading thread, started on first use."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._changes: list[tuple[bool, Watched]] = []  # (watch, client), in order
        self._thread: threading.Thread | None = None
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)

    def watch(self, client: Watched) -> None:
        self._change(True, client)

    def unwatch(self, client: Watched) -> None:
        self._change(False, client)

    def _change(self, watch: bool, client: Watched) -> None:
        with self._lock:
            self._changes.append((watch, client))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="rpc-client-watch",
                                                daemon=True)
                self._thread.start()
        with contextlib.suppress(BlockingIOError):  # full: a wake-up is pending anyway
            self._wake_w.send(b"\0")

    def _run(self) -> None:
        sel = selectors.DefaultSelector()
        sel.register(self._wake_r, selectors.EVENT_READ, None)
        fds: dict[Watched, int] = {}
        while True:
            for key, _ in sel.select():
                client = key.data
                if client is None:
                    self._apply(sel, fds)
                elif fds.get(client) == key.fd and not self._read(client):
                    sel.unregister(key.fd)
                    del fds[client]

    @staticmethod
    def _read(client: Watched) -> bool:
        """Whether to keep watching ``client`` after asking it to read."""
        try:
            return client.read_available() and client.fileno() >= 0
        except Exception:  # a callback failed: the client's own problem, not the watcher's
            log.exception("reading a client's messages failed")
            return client.fileno() >= 0

    def _apply(self, sel: selectors.BaseSelector, fds: dict[Watched, int]) -> None:
        with contextlib.suppress(BlockingIOError):
            while self._wake_r.recv(4096):
                pass
        with self._lock:
            changes, self._changes = self._changes, []
        for watch, client in changes:
            old = fds.pop(client, None)
            if old is not None:
                with contextlib.suppress(KeyError, ValueError, OSError):
                    sel.unregister(old)
            fd = client.fileno() if watch else -1
            if fd >= 0:
                sel.register(fd, selectors.EVENT_READ, client)
                fds[client] = fd


WATCHER = Watcher()
