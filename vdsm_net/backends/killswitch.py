"""A TEST-ONLY backend proxy: SIGKILL the agent right before its k-th kernel write.

The e2e tier proves that an agent killed in the middle of an apply is adopted from the kernel's
tags and converges on the next request. Polling the kernel for the right moment is a race the
batched netlink backend always wins, so the kill point is made exact instead:
``VDSM_NET_TEST_SIGKILL_AT_WRITE=k`` (k >= 0) makes vdsm-netd wrap its backend in ``KillSwitch``,
which applies ops one at a time (it has no ``apply_batch``, so the engine sends them singly) and
kills its own process right before write k, counted from 0 since the process started. Write k is
never sent; writes 0..k-1 are all in the kernel.

Only that variable arms it, and the agent then logs a WARNING at start-up. Never set it in
production.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable, Mapping

from vdsm_net.backends.base import Backend, NicFacts
from vdsm_net.model.kernel import KernelState
from vdsm_net.model.ops import Op

KILL_AT_WRITE_ENV = "VDSM_NET_TEST_SIGKILL_AT_WRITE"

log = logging.getLogger(__name__)


def kill_at_write(environ: Mapping[str, str]) -> int | None:
    """The write index ``$VDSM_NET_TEST_SIGKILL_AT_WRITE`` names, None when it is unset or
    empty; ValueError when it is not a whole number >= 0 (the agent then refuses to start)."""
    value = environ.get(KILL_AT_WRITE_ENV, "").strip()
    if not value:
        return None
    if not value.isdecimal():
        raise ValueError(f"{KILL_AT_WRITE_ENV} wants a write index >= 0, not {value!r}")
    return int(value)


def sigkill_self() -> None:
    """SIGKILL this process: no handler, no cleanup, exactly like the OOM killer or kill -9."""
    os.kill(os.getpid(), signal.SIGKILL)


class KillSwitch:
    """``Backend`` that delegates to ``inner`` and calls ``kill()`` right before write
    ``kill_at`` (0-based; every ``apply`` counts, refused or not). Ops go through one at a
    time. ``kill`` defaults to SIGKILL of this process; tests inject their own."""

    def __init__(self, inner: Backend, kill_at: int,
                 kill: Callable[[], None] = sigkill_self) -> None:
        if kill_at < 0:
            raise ValueError(f"kill_at must be >= 0, not {kill_at}")
        self.inner = inner
        self.kill_at = kill_at
        self._kill = kill
        self._lock = threading.Lock()
        self.writes = 0
        """Writes attempted through this proxy so far."""
        log.warning("TEST HOOK ARMED: %s=%d: this process kills itself with SIGKILL right "
                    "before its kernel write %d; never set it outside tests",
                    KILL_AT_WRITE_ENV, kill_at, kill_at)

    def observe(self, stats: bool = True) -> KernelState:
        return self.inner.observe(stats)

    def nic_facts(self, name: str) -> NicFacts:
        return self.inner.nic_facts(name)

    def apply(self, op: Op) -> None:
        with self._lock:
            index = self.writes
            self.writes += 1
            if index == self.kill_at:
                log.warning("test hook: SIGKILL before write %d: %s", index, op.describe())
                self._kill()
            self.inner.apply(op)

    def close(self) -> None:
        close: Callable[[], None] | None = getattr(self.inner, "close", None)
        if close is not None:
            close()
