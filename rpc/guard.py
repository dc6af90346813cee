"""What keeps one client, or a thousand hostile ones, from starving the others.

One :class:`Guard` per server watches every connection it accepted:

- **admission**: TLS handshakes under way count against the connection cap as much as
  connections do, and no peer address holds more than ``max_per_peer`` of them. At the cap a
  newcomer is not refused while someone can make room: the oldest handshake under way goes
  first, else the connection that has not sent CONNECT, else the one silent the longest;
- **time limits**, checked by one sweep a few times per shortest limit: a STOMP command within
  ``detect_timeout`` of accepting, CONNECT within the same time, every frame complete within
  ``frame_timeout`` of its first bytes being seen (not counting time the server itself stopped
  reading), and output that shrinks at least once in ``write_timeout``;
- **a memory budget** for what all connections buffer, input (partial frames) and output
  (replies not read yet): past it, the connections holding the most are closed, largest first,
  until the rest fit.

The connection cap and per-peer limit apply at accept; the rest closes the offender with an
ERROR frame when it speaks STOMP (output stalls are aborted: the peer is not reading anyway).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rpc.stomp.connection import Connection

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GuardLimits:
    max_connections: int = 4096
    max_per_peer: int = 256
    detect_timeout: float = 10.0
    frame_timeout: float = 30.0
    write_timeout: float = 60.0
    memory_budget: int = 256 * 1024 * 1024

    def sweep_interval(self) -> float:
        shortest = min(self.detect_timeout, self.frame_timeout, self.write_timeout)
        return min(max(shortest / 4, 0.05), 1.0)


def peer_key(address: Any) -> str:
    """The peer an address counts against: its IP, IPv4-mapped IPv6 as IPv4."""
    if isinstance(address, tuple) and address:
        return str(address[0]).removeprefix("::ffff:")
    return str(address)


class Guard:
    """Admission, time limits and the memory budget for one server's connections."""

    def __init__(
        self,
        limits: GuardLimits,
        connections: set[Connection],
        handshakes: dict[Any, Callable[[object], None]],
    ) -> None:
        self.limits = limits
        self.connections = connections
        self.handshakes = handshakes  # in the order they began: the oldest first
        self.peers: dict[str, int] = {}
        self.used = 0  # bytes charged by all connections (may run ahead of the truth)
        self.refused = 0  # sockets refused at accept, ever
        self._refusal_logged = -1.0
        self._timer: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # admission -------------------------------------------------------------------------
    def admit(self, peer: str) -> bool:
        """Count a newly accepted socket from ``peer``, making room at the cap; False: refuse."""
        held = self.peers.get(peer, 0)
        if held >= self.limits.max_per_peer:
            return self._refuse(f"{peer} holds {held} connections, its limit")
        full = len(self.connections) + len(self.handshakes) >= self.limits.max_connections
        if full and not self._make_room():
            return self._refuse(f"connection cap ({self.limits.max_connections}) reached")
        self.peers[peer] = held + 1
        return True

    def _refuse(self, why: str) -> bool:
        """Count a refusal; log at most one a second (a flood must not flood the log)."""
        self.refused += 1
        now = time.monotonic()
        if now - self._refusal_logged >= 1.0 or self._refusal_logged < 0:
            self._refusal_logged = now
            log.warning("refusing a connection: %s (%d refused so far)", why, self.refused)
        return False

    def release(self, peer: str) -> None:
        """A socket counted by :meth:`admit` is gone."""
        held = self.peers.get(peer, 0) - 1
        if held > 0:
            self.peers[peer] = held
        else:
            self.peers.pop(peer, None)

    def _make_room(self) -> bool:
        if self.handshakes:
            abandon = next(iter(self.handshakes.values()))
            abandon("dropped for a newcomer at the connection cap")
            return True
        if not self.connections:
            return False
        victim = min(self.connections, key=lambda c: (c.proven, c.last_read))
        self.connections.discard(victim)
        victim.shed("dropped for a newcomer at the connection cap", error=False)
        return True

    # time limits -------------------------------------------------------------------------
    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._timer = loop.call_later(self.limits.sweep_interval(), self._sweep)

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _sweep(self) -> None:
        for conn in list(self.connections):
            conn.check_deadlines(self.limits)
        if self._loop is not None:
            self._timer = self._loop.call_later(self.limits.sweep_interval(), self._sweep)

    # memory budget -------------------------------------------------------------------------
    def charge(self, conn: Connection, usage: int) -> None:
        """``conn`` now holds ``usage`` bytes of buffered input and output."""
        self.used += usage - conn.charged
        conn.charged = usage
        if self.used > self.limits.memory_budget:
            self._enforce()

    def forget(self, conn: Connection) -> None:
        """``conn`` is being closed: its bytes no longer count (no budget check here)."""
        self.used -= conn.charged
        conn.charged = 0

    def _enforce(self) -> None:
        """Recount exactly (output drains without telling us), then close the largest holders
        until what is left fits."""
        total = 0
        for conn in self.connections:
            conn.charged = conn.usage()
            total += conn.charged
        budget = self.limits.memory_budget
        holders = sorted(self.connections, key=lambda c: c.charged, reverse=True)
        for conn in holders:
            if total <= budget or not conn.charged:
                break
            total -= conn.charged
            log.warning(
                "memory budget (%d bytes) exceeded; closing %s, which holds %d",
                budget, conn.peer, conn.charged,
            )
            conn.shed("memory budget exceeded", error=True)  # which forgets its charge
        self.used = total
