"""The manager's push rate (``--rate``): a token bucket shared by every visit.

``rate`` pushes a second on average, bursts of up to ``burst`` (default: one second's worth)
when the bucket was full; a push waits for its token, so etcd and the hosts see at most that
many ``setupNetworks`` a second whatever the parallelism (``--parallel`` bounds how many visits
run at once, this how fast pushes start).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable


class TokenBucket:
    def __init__(self, rate: float, burst: float | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        if rate <= 0:
            raise ValueError("a rate is positive")
        self.rate = rate
        self.burst = max(1.0, burst if burst is not None else rate)
        self.clock = clock
        self.sleep = sleep
        self._tokens = self.burst
        self._at = clock()
        self._lock = asyncio.Lock()

    def _fill(self) -> None:
        now = self.clock()
        self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
        self._at = now

    def wait_for(self) -> float:
        """Seconds until a token is there (0: now)."""
        self._fill()
        missing = 1.0 - self._tokens
        return 0.0 if missing <= 1e-9 else missing / self.rate  # no sleep of a rounding error

    async def take(self) -> None:
        """Wait for a token and take it (callers are served in order)."""
        async with self._lock:
            delay = self.wait_for()
            while delay > 0:
                await self.sleep(delay)
                delay = self.wait_for()
            self._tokens = max(0.0, self._tokens - 1.0)
