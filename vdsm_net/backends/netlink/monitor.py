"""A netlink event subscription (rtnetlink link, address, route and tc groups) in its own thread.

The monitor only listens and names the links each event touches; the policy (which links matter,
debouncing, comparing) lives in ``vdsm_net.drift``. It reads a raw NETLINK_ROUTE socket and looks
at just what naming needs: the message type, the interface index (ifinfomsg, ifaddrmsg, tcmsg, or
a route's RTA_OIF) and a link message's IFLA_IFNAME. One setupNetworks of 1000 networks sends
~17,500 events; decoding each fully (pyroute2) cost seconds of CPU and overran the socket buffer.

The thread drains every datagram already queued, then hands the sink one set of names for that
batch. After an overflow (ENOBUFS) the lost events are unknown: the sink is told ``None`` (compare
everything) and reading goes on on the same socket. ``stop()`` wakes the thread through a
socketpair. For a named namespace the thread joins it (setns affects only that thread) before it
opens the socket, so the subscription, and ``if_indextoname``, see that namespace.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import select
import socket
import threading
import time
from collections.abc import Callable

from vdsm_net.backends.netlink.rtnl.codec import (
    IFINFOMSG,
    IFLA_IFNAME,
    NETLINK_ROUTE,
    NLMSGHDR,
    RTM_DELADDR,
    RTM_DELLINK,
    RTM_DELROUTE,
    RTM_NEWADDR,
    RTM_NEWLINK,
    RTM_NEWROUTE,
    RTMSG,
    U32,
    attrs,
)
from vdsm_net.backends.netns import enter_netns

log = logging.getLogger(__name__)

# rtnetlink multicast groups (bit masks for bind): link, tc (host QoS's qdiscs, classes and
# filters), IPv4/IPv6 address, IPv4/IPv6 route
RTMGRP_LINK, RTMGRP_TC, RTMGRP_IPV4_IFADDR, RTMGRP_IPV4_ROUTE = 0x1, 0x8, 0x10, 0x40
RTMGRP_IPV6_IFADDR, RTMGRP_IPV6_ROUTE = 0x100, 0x400
GROUPS = (
    RTMGRP_LINK | RTMGRP_TC | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR | RTMGRP_IPV4_ROUTE
    | RTMGRP_IPV6_ROUTE
)
RTA_OIF = 4

RCVBUF = 32 * 1024 * 1024
"""A big receive buffer: one setupNetworks of 1000 networks sends tens of thousands of events in a
burst, which overran a 1 MiB buffer (ENOBUFS, events lost, a full compare)."""
SO_RCVBUFFORCE = getattr(socket, "SO_RCVBUFFORCE", 33)
RECV_SIZE = 64 * 1024  # one datagram; event notifications are a few KiB at most
MAX_BATCH = 4096  # datagrams drained before the sink hears of them (bounds its delay)
WARN_EVERY = 1.0  # seconds between ENOBUFS warnings
RETRY_DELAY = 0.1  # seconds before a failed socket is opened again

_HDR = NLMSGHDR.size
_LINK = frozenset({RTM_NEWLINK, RTM_DELLINK})
_ADDR = frozenset({RTM_NEWADDR, RTM_DELADDR})
_ROUTE = frozenset({RTM_NEWROUTE, RTM_DELROUTE})
_TC = frozenset(range(36, 46))  # RTM_NEWQDISC .. RTM_DELTFILTER (and their GETs, never sent)


EventSink = Callable[[frozenset[str | None]], object]
"""Called from the monitor thread with the names of the links an event touched; ``None`` stands
for a link the monitor could not name (the receiver should then assume anything changed)."""


class LinkNamer:
    """Names the links of rtnetlink event messages, keeping an index->name map up to date from the
    link messages it sees; ``lookup`` (``if_indextoname`` in the caller's namespace) fills a miss.
    """

    def __init__(self, lookup: Callable[[int], str] = socket.if_indextoname) -> None:
        self.lookup = lookup
        self.names: dict[int, str] = {}

    def scan(self, buf: bytes, end: int, out: set[str | None]) -> int:
        """Add to ``out`` the link of each message in ``buf[:end]``; return the message count."""
        off = count = 0
        while off + _HDR <= end:
            length, kind, _flags, _seq, _pid = NLMSGHDR.unpack_from(buf, off)
            if length < _HDR or off + length > end:
                break
            count += 1
            if kind in _LINK or kind in _ADDR or kind in _ROUTE or kind in _TC:
                out.add(self.name_of(kind, buf, off + _HDR, off + length))
            off += (length + 3) & ~3
        return count

    def name_of(self, kind: int, buf: bytes, start: int, end: int) -> str | None:
        """The link one message's payload ``buf[start:end]`` touches, or None if unknown."""
        index = 0
        if kind in _LINK:
            if start + IFINFOMSG.size > end:
                return None
            index = IFINFOMSG.unpack_from(buf, start)[2]
            for akind, s, e in attrs(buf, start + IFINFOMSG.size, end):
                if akind == IFLA_IFNAME:
                    name = buf[s:e].split(b"\0", 1)[0].decode(errors="replace")
                    if not name:
                        break
                    if kind == RTM_DELLINK:
                        self.names.pop(index, None)
                    else:
                        self.names[index] = name
                    return name
        elif kind in _ADDR or kind in _TC:
            if start + 8 > end:  # ifaddrmsg: family, prefixlen, flags, scope, index; tcmsg:
                return None  # family, 3 pad bytes, index
            index = U32.unpack_from(buf, start + 4)[0]
        else:
            for akind, s, e in attrs(buf, start + RTMSG.size, end):
                if akind == RTA_OIF and e - s >= 4:
                    index = U32.unpack_from(buf, s)[0]
                    break
        return self._by_index(index)

    def _by_index(self, index: int) -> str | None:
        if not index:
            return None
        name = self.names.get(index)
        if name is None:
            try:
                name = self.lookup(index)
            except OSError:
                return None
            self.names[index] = name
        return name


def open_socket() -> socket.socket:
    """A NETLINK_ROUTE socket in the calling thread's namespace, subscribed to ``GROUPS``."""
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_ROUTE)
    try:
        try:  # as root, go past net.core.rmem_max
            sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, RCVBUF)
        except OSError:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)
        sock.bind((0, GROUPS))
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


class NetlinkMonitor:
    """``NetlinkMonitor(sink, netns).start()`` ... ``stop()``."""

    def __init__(self, sink: EventSink, netns: str | None = None) -> None:
        self.sink = sink
        self.netns = netns
        self.events = 0  # netlink messages received (for tests and diagnostics)
        self.overflows = 0  # ENOBUFS seen (events lost)
        self.dropped = 0  # datagrams read unnamed while muted
        self._muted = False
        self.clock: Callable[[], float] = time.monotonic  # paces the ENOBUFS warning
        self._namer = LinkNamer()
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._wake_r: socket.socket | None = None
        self._wake_w: socket.socket | None = None
        self._last_warning = -WARN_EVERY
        self._thread = threading.Thread(target=self._run, name="netlink-monitor", daemon=True)

    # -- control, from any thread ---------------------------------------------------------

    def start(self, timeout: float = 10.0) -> NetlinkMonitor:
        """Start the thread; return once the socket is bound (events after this are seen)."""
        self._wake_r, self._wake_w = socket.socketpair()
        self._thread.start()
        if not self._ready.wait(timeout):
            self.stop()
            raise TimeoutError("netlink monitor did not start")
        if self._error is not None:
            self._thread.join(timeout)
            raise self._error
        return self

    def stop(self, timeout: float = 5.0) -> None:
        wake = self._wake_w
        if wake is not None:
            with contextlib.suppress(OSError):  # the thread ended and closed it
                wake.send(b"x")
        if self._thread.is_alive():
            self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def mute(self, on: bool) -> None:
        """While the agent's own writes run (the engine says when), events are read and
        dropped unnamed: naming the tens of thousands of one large setup cost seconds of the
        CPU the writes need. A batch that dropped any tells the sink ``None`` (compare
        everything), after the drop, so nothing that happened meanwhile goes unseen."""
        self._muted = on

    # -- the thread -----------------------------------------------------------------------

    def _run(self) -> None:
        wake_r, wake_w = self._wake_r, self._wake_w
        assert wake_r is not None and wake_w is not None
        try:
            try:
                if self.netns is not None:
                    enter_netns(self.netns)
                sock = open_socket()
            except BaseException as exc:
                self._error = exc
                return
            finally:
                self._ready.set()
            while True:
                try:
                    self._loop(sock, wake_r)
                    return
                except OSError:  # not an overflow: this socket is broken; open a new one
                    log.exception("netlink monitor: socket failed; opening a new one")
                finally:
                    sock.close()
                if _woken(wake_r, RETRY_DELAY):
                    return
                try:
                    sock = open_socket()
                except OSError:
                    log.exception("netlink monitor: cannot open a new socket; giving up")
                    return
                self._notify({None})  # events may have been lost meanwhile
        finally:
            self._wake_w = None
            wake_r.close()
            wake_w.close()

    def _loop(self, sock: socket.socket, wake: socket.socket) -> None:
        """Read until ``stop()``; an OSError other than ENOBUFS propagates."""
        poller = select.poll()
        poller.register(sock.fileno(), select.POLLIN)
        poller.register(wake.fileno(), select.POLLIN)
        stop_fd = wake.fileno()
        while True:
            ready = poller.poll()
            if any(fd == stop_fd for fd, _ev in ready):
                return
            names = self._drain(sock)
            if names:
                self._notify(names)

    def _notify(self, names: set[str | None]) -> None:
        try:
            self.sink(frozenset(names))
        except Exception:  # a failing receiver must not end the subscription
            log.exception("netlink monitor: the event sink failed")

    def _drain(self, sock: socket.socket) -> set[str | None]:
        """The links named by the datagrams queued now (at most ``MAX_BATCH`` of them)."""
        names: set[str | None] = set()
        recv, scan = sock.recv, self._namer.scan
        for _ in range(MAX_BATCH):
            try:
                data = recv(RECV_SIZE)
            except BlockingIOError:
                break
            except InterruptedError:
                continue
            except OSError as exc:
                if exc.errno != errno.ENOBUFS:
                    raise
                self._overflowed()
                names.add(None)
                continue
            if self._muted:
                self.dropped += 1
                names.add(None)
                continue
            self.events += scan(data, len(data), names)
        return names

    def _overflowed(self) -> None:
        self.overflows += 1
        now = self.clock()
        if now - self._last_warning >= WARN_EVERY:
            self._last_warning = now
            log.warning("netlink monitor: events lost (ENOBUFS, %d so far); full compare follows",
                        self.overflows)


def _woken(wake: socket.socket, timeout: float) -> bool:
    """Whether ``stop()`` signalled within ``timeout`` seconds."""
    return bool(select.select([wake], [], [], timeout)[0])
