"""One thread for all of a process's clients that subscribed to something: it reads their
MESSAGEs (events) while none of their callers is reading.

A client's callers read for themselves (rpc.client); this thread only waits, in one epoll set,
on the sockets of subscribed clients, and when one is readable asks that client to read what
arrived (``read_available``). Each socket is watched one-shot: an event disarms it until it is
armed again (``watch``), by this thread after a read or by a caller when it stops reading. A
caller that is about to read for itself disarms the socket first (``hold``), so the reply it
waits for does not also wake this thread (that hand-over cost a third of a subscribed client's
round trips). epoll's calls are safe from any thread, so none of this needs a wake-up of the
watcher. One thread serves a manager's thousand host connections, and never spins on a socket a
caller is about to read.
"""

from __future__ import annotations

import contextlib
import logging
import select
import threading
from typing import Protocol

log = logging.getLogger(__name__)

_ARMED = select.EPOLLIN | select.EPOLLONESHOT
_HELD = select.EPOLLONESHOT  # no event asked for (a hang-up still fires, once)


class Watched(Protocol):
    def fileno(self) -> int: ...

    def read_available(self) -> bool:
        """Read what arrived; False when the watcher is to stop watching (busy or failed)."""


class Watcher:
    """The shared reading thread, started on first use."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._clients: dict[int, Watched] = {}
        self._epoll = select.epoll()
        self._thread: threading.Thread | None = None

    def watch(self, client: Watched) -> None:
        """Watch ``client`` (again): its next readable moment wakes this thread once."""
        self._set(client, _ARMED)

    def hold(self, client: Watched) -> None:
        """A caller reads ``client`` now: no wake-up for what arrives until ``watch``."""
        self._set(client, _HELD, known_only=True)

    def unwatch(self, client: Watched) -> None:
        fd = client.fileno()
        with self._lock:
            if self._clients.get(fd) is not client:
                return
            del self._clients[fd]
            with contextlib.suppress(OSError, ValueError):  # closed already
                self._epoll.unregister(fd)

    def _set(self, client: Watched, events: int, known_only: bool = False) -> None:
        fd = client.fileno()
        if fd < 0:
            return
        with self._lock:
            known = self._clients.get(fd) is client
            if not known and known_only:
                return
            self._clients[fd] = client
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="rpc-client-watch",
                                                daemon=True)
                self._thread.start()
            try:
                if known:
                    self._epoll.modify(fd, events)
                else:
                    self._epoll.register(fd, events)
            except FileExistsError:  # another client had this descriptor and closed it
                self._epoll.modify(fd, events)
            except (OSError, ValueError):  # closed meanwhile: nothing to watch
                self._clients.pop(fd, None)

    def _run(self) -> None:
        while True:
            for fd, _events in self._epoll.poll():
                client = self._clients.get(fd)
                if client is not None and self._read(client):
                    self.watch(client)  # read: arm again (busy: its caller does)

    @staticmethod
    def _read(client: Watched) -> bool:
        """Whether to keep watching ``client`` after asking it to read."""
        try:
            return client.read_available() and client.fileno() >= 0
        except Exception:  # a callback failed: the client's own problem, not the watcher's
            log.exception("reading a client's messages failed")
            return client.fileno() >= 0


WATCHER = Watcher()
