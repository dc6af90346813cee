"""Drift: the policy that watches the kernel against the engine's picture.

What differs is ``engine.compare.compare(running, observed)``: per attribute and readably, on the
managed scope only (the links the running config names and the links that carry our ownership
tag). Unowned links are never looked at.

``DriftMonitor`` runs the policy in its own thread. An event source (the netlink monitor, or
nothing) pokes it with the names of the links an event touched; pokes about links outside the
scope are dropped on the spot. A relevant poke is debounced (a quiet period, bounded), then the
monitor compares, with the observation taken while no writer holds the engine (so the agent's own
applies are never seen half-done; their events lead to a compare that finds nothing new). A
periodic full compare is the safety net. ``report`` mode calls ``on_change`` when the drift set
changes; ``enforce`` mode calls ``Engine.reconcile()`` and reports what was repaired.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Final, NotRequired, Protocol, TypedDict

from vdsm_net.engine.compare import compare
from vdsm_net.engine.engine import Engine
from vdsm_net.engine.plan.planner import owned_links
from vdsm_net.engine.render import render
from vdsm_net.model.desired import RunningConfig
from vdsm_net.model.kernel import KernelState

log = logging.getLogger(__name__)

MODES = ("off", "report", "enforce")
CAPS_KEY: Final = "driftReport"
QUIET = 0.03  # seconds without events before a compare
MAX_DELAY = 0.1  # ... but never later than this after the first relevant event
INTERVAL = 60.0  # the periodic full compare


def scope_of(running: RunningConfig) -> frozenset[str]:
    """The link names the running config manages (without looking at the kernel)."""
    return frozenset(render(running, KernelState()).links)


# ---- the policy ---------------------------------------------------------------------------

class DriftWire(TypedDict):
    """The ``driftReport`` extension key of the capabilities (part of ``verbs.shapes``)."""

    mode: str
    drift: list[str]
    repaired: list[str]
    checkedAt: int
    error: NotRequired[str]


@dataclass(frozen=True)
class DriftReport:
    mode: str
    drift: tuple[str, ...] = ()
    repaired: tuple[str, ...] = ()
    error: str = ""  # why a repair failed
    checked_at: float = 0.0  # time.time() of the compare

    def to_wire(self) -> DriftWire:
        """The ``driftReport`` extension key of the capabilities."""
        out: DriftWire = {
            "mode": self.mode, "drift": list(self.drift), "repaired": list(self.repaired),
            "checkedAt": int(self.checked_at),
        }
        if self.error:
            out["error"] = self.error
        return out


Poke = Callable[[frozenset[str | None]], object]
"""What an event source calls with the names of the links an event touched (None: unknown)."""
OnChange = Callable[[DriftReport], None]


class EventSource(Protocol):
    def start(self) -> Any: ...
    def stop(self) -> None: ...
    def mute(self, on: bool) -> None:
        """Called with True before the engine writes and False after: the source may then
        drop its events unnamed, poking ``None`` (the agent's own writes end in a compare)."""


class DriftMonitor:
    """``DriftMonitor(engine, "report", on_change, events=factory).start()`` ... ``stop()``.

    ``events(sink)`` builds the event source (e.g. ``NetlinkMonitor(sink, netns)``); without it
    only the periodic compare and explicit ``poke``/``check`` calls run.
    """

    def __init__(
        self,
        engine: Engine,
        mode: str = "report",
        on_change: OnChange | None = None,
        *,
        events: Callable[[Poke], EventSource] | None = None,
        interval: float = INTERVAL,
        quiet: float = QUIET,
        max_delay: float = MAX_DELAY,
    ) -> None:
        if mode not in MODES or mode == "off":
            raise ValueError(f"drift mode {mode!r}: want report or enforce (off: no monitor)")
        self.engine = engine
        self.mode = mode
        self.on_change = on_change
        self.interval, self.quiet, self.max_delay = interval, quiet, max_delay
        self.report = DriftReport(mode)
        self.checks = 0  # compares run (diagnostics and tests)
        self.ignored = 0  # pokes dropped because they named no managed link
        self._events = events(self.poke) if events is not None else None
        self._cond = threading.Condition()
        self._pending = False
        self._first = self._last = 0.0
        self._stopped = False
        self._owned: frozenset[str] = frozenset()  # tagged links at the last compare
        self._scope_cache: tuple[RunningConfig | None, frozenset[str]] = (None, frozenset())
        self._failed: tuple[str, ...] | None = None  # the drift whose repair last failed
        self._thread = threading.Thread(target=self._run, name="drift", daemon=True)

    # -- control --------------------------------------------------------------------------

    def start(self) -> DriftMonitor:
        """Compare once (the baseline), subscribe to events, then watch."""
        self.check()
        if self._events is not None:
            self._events.start()
            self.engine.write_listeners.append(self._events.mute)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        if self._events is not None:
            with contextlib.suppress(ValueError):  # (never started)
                self.engine.write_listeners.remove(self._events.mute)
            self._events.stop()
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    # -- events ---------------------------------------------------------------------------

    def scope(self) -> frozenset[str]:
        running = self.engine.running
        cached, names = self._scope_cache
        if cached is not running:
            names = scope_of(running)
            self._scope_cache = (running, names)
        return names | self._owned

    def poke(self, names: frozenset[str | None]) -> bool:
        """An event touched these links (None: unknown). Returns whether a compare is due."""
        if None not in names and not (names & self.scope()):
            self.ignored += 1
            return False
        now = time.monotonic()
        with self._cond:
            if not self._pending:
                self._pending, self._first = True, now
            self._last = now
            self._cond.notify_all()
        return True

    # -- the compare ----------------------------------------------------------------------

    def check(self, retry: bool = False) -> DriftReport:
        """Compare now (waiting for any writer); in enforce mode repair. Returns the report."""
        drift = self._compare()
        previous = self.report
        if self.mode == "enforce" and drift and (retry or drift != self._failed):
            if self._pending:  # the kernel moved while we looked (an observation is several
                return previous  # dumps): the compare after the next quiet period repairs
            report = self._repair(drift)
        elif drift == previous.drift:  # nothing new: keep what was said (and repaired)
            self.report = replace(previous, checked_at=time.time())
            return self.report
        else:
            report = DriftReport(self.mode, drift, (), "", time.time())
        self.report = report
        self._notify(report)
        return report

    def _compare(self) -> tuple[str, ...]:
        self.checks += 1
        snap = self.engine.snapshot()
        assert snap is not None  # a blocking snapshot always returns
        running, observed = snap
        self._owned = frozenset(owned_links(observed))
        return tuple(compare(running, observed))

    def _repair(self, drift: tuple[str, ...]) -> DriftReport:
        error = ""
        try:
            result = self.engine.reconcile()
            log.warning("drift repaired with %d kernel writes: %s", result.writes, "; ".join(drift))
            self._failed = None
        except Exception as exc:  # the report says it; the periodic compare retries
            error = str(exc) or type(exc).__name__
            log.error("drift repair failed: %s", error)
            self._failed = drift
        left = self._compare()
        repaired = tuple(d for d in drift if d not in left)
        return DriftReport(self.mode, left, repaired, error, time.time())

    def _notify(self, report: DriftReport) -> None:
        if self.on_change is None:
            return
        try:
            self.on_change(report)
        except Exception:  # a callback must never stop the monitor
            log.exception("drift callback failed")

    # -- the thread -----------------------------------------------------------------------

    def _run(self) -> None:
        deadline = time.monotonic() + self.interval
        while True:
            with self._cond:
                while not self._stopped and not self._pending:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    self._cond.wait(left)
                if self._stopped:
                    return
                periodic = not self._pending
                while self._pending and not self._stopped:  # debounce
                    now = time.monotonic()
                    left = min(self._last + self.quiet, self._first + self.max_delay) - now
                    if left <= 0:
                        break
                    self._cond.wait(left)
                if self._stopped:
                    return
                self._pending = False
            try:
                self.check(retry=periodic)
            except Exception:
                log.exception("drift compare failed")
            if periodic:
                deadline = time.monotonic() + self.interval
