"""A netlink event subscription (rtnetlink link, address and route groups) in its own thread.

The monitor only listens and names the links each event touches; the policy (which links matter,
debouncing, comparing) lives in ``vdsm_net.drift``. It reads promptly so the socket buffer does
not overflow; on an error (e.g. ENOBUFS after an overflow) it reports an unknown change and
opens a new socket, as pyroute2's documentation prescribes.

It uses pyroute2's ``AsyncIPRoute`` on a private event loop: ``bind()`` then ``get()``. The sync
``IPRoute.get()`` hides buffered datagrams behind its own queue, so it cannot be combined with a
select-and-stop loop; here ``stop()`` cancels the reading task from any thread, and the task closes
the socket. For a named namespace the thread joins it (setns affects only that thread) before it
opens the socket, so the subscription sees that namespace's events.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import socket
import threading
from collections.abc import Callable
from typing import Any

from pyroute2 import AsyncIPRoute
from pyroute2.netlink.rtnl import (
    RTMGRP_IPV4_IFADDR,
    RTMGRP_IPV4_ROUTE,
    RTMGRP_IPV6_IFADDR,
    RTMGRP_IPV6_ROUTE,
    RTMGRP_LINK,
)

from vdsm_net.backends.netlink_worker import enter_netns

log = logging.getLogger(__name__)

GROUPS = (
    RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR | RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_ROUTE
)
RETRY_DELAY = 0.1  # seconds before a failed socket is opened again

RCVBUF = 32 * 1024 * 1024
"""A big receive buffer: one setupNetworks of 1000 networks sends tens of thousands of events in a
burst, which overran pyroute2's default 1 MiB (ENOBUFS, events lost, a reconnect)."""
SO_RCVBUFFORCE = getattr(socket, "SO_RCVBUFFORCE", 33)


EventSink = Callable[[frozenset[str | None]], object]
"""Called from the monitor thread with the names of the links an event touched; ``None`` stands
for a link the monitor could not name (the receiver should then assume anything changed)."""


KINDS = ("LINK", "ADDR", "ROUTE")


def _kind(msg: Any) -> str:
    """LINK, ADDR or ROUTE for the rtnetlink messages we subscribed to; '' for anything else
    (pyroute2 reports an unknown message type as a number)."""
    event = msg.get("event")
    if not isinstance(event, str):
        return ""
    return next((k for k in KINDS if event.endswith(k)), "")


class NetlinkMonitor:
    """``NetlinkMonitor(sink, netns).start()`` ... ``stop()``."""

    def __init__(self, sink: EventSink, netns: str | None = None) -> None:
        self.sink = sink
        self.netns = netns
        self.events = 0  # netlink messages received (for tests and diagnostics)
        self._names: dict[int, str] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="netlink-monitor", daemon=True)

    # -- control, from any thread ---------------------------------------------------------

    def start(self, timeout: float = 10.0) -> NetlinkMonitor:
        """Start the thread; return once the socket is bound (events after this are seen)."""
        self._thread.start()
        if not self._ready.wait(timeout):
            self.stop()
            raise TimeoutError("netlink monitor did not start")
        if self._error is not None:
            self._thread.join(timeout)
            raise self._error
        return self

    def stop(self, timeout: float = 5.0) -> None:
        loop, task = self._loop, self._task
        if loop is not None and task is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(task.cancel)
        if self._thread.is_alive():
            self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    # -- the thread -----------------------------------------------------------------------

    def _run(self) -> None:
        try:
            if self.netns is not None:
                enter_netns(self.netns)
            loop = asyncio.new_event_loop()
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            return
        self._loop = loop
        try:
            self._task = loop.create_task(self._main())
            loop.run_until_complete(self._task)
        except asyncio.CancelledError:
            pass
        except BaseException as exc:  # only reachable before the first bind
            self._error = exc
        finally:
            self._ready.set()
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _main(self) -> None:
        first = True
        while True:
            ipr = AsyncIPRoute(rcvbuf=RCVBUF)
            try:
                _force_rcvbuf(ipr)
                await ipr.bind(groups=GROUPS)
                self._ready.set()
                if not first:
                    self.sink(frozenset({None}))  # events may have been lost meanwhile
                first = False
                await self._read(ipr)
            except asyncio.CancelledError:
                raise
            except OSError as exc:
                if first:
                    raise
                if exc.errno == errno.ENOBUFS:  # a burst overran the buffer: events were lost
                    log.warning("netlink monitor: events lost (ENOBUFS); full compare follows")
                else:
                    log.exception("netlink monitor: socket failed; opening a new one")
                await asyncio.sleep(RETRY_DELAY)
            except Exception:
                if first:
                    raise
                log.exception("netlink monitor: socket failed; opening a new one")
                await asyncio.sleep(RETRY_DELAY)
            finally:
                ipr.close()

    async def _read(self, ipr: AsyncIPRoute) -> None:
        while True:
            names: set[str | None] = set()
            async for msg in ipr.get():
                self.events += 1
                kind = _kind(msg)
                if kind:
                    names.add(self._name(msg, kind))
            if names:
                self.sink(frozenset(names))

    def _name(self, msg: Any, kind: str) -> str | None:
        index = int((msg.get("RTA_OIF") if kind == "ROUTE" else msg.get("index")) or 0)
        if kind == "LINK":
            name = msg.get("IFLA_IFNAME")
            if name:
                if msg.get("event") == "RTM_DELLINK":
                    self._names.pop(index, None)
                else:
                    self._names[index] = str(name)
                return str(name)
        if not index:
            return None
        name = self._names.get(index)
        if name is None:
            try:  # runs in this thread's namespace
                name = socket.if_indextoname(index)
            except OSError:
                return None
            self._names[index] = name
        return name


def _force_rcvbuf(ipr: AsyncIPRoute) -> None:
    """As root, go past net.core.rmem_max; otherwise keep what the kernel allowed."""
    try:
        ipr.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, RCVBUF)
    except OSError:
        log.debug("netlink monitor: SO_RCVBUFFORCE refused; keeping the default buffer")
