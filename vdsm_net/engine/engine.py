"""The one deterministic algorithm.

canonicalize -> validate -> merge -> render -> observe -> plan -> apply -> verify -> (connectivity)
-> commit; on any failure after the first write, a revert plan built from the pre-call observation
puts the touched objects back, and the original error is re-raised.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from vdsm_net.backends.base import Backend, BatchBackend
from vdsm_net.backends.kinds import refuse_missing
from vdsm_net.engine.canonicalize import canonicalize
from vdsm_net.engine.merge import merge
from vdsm_net.engine.plan.planner import diff, in_use_bridges, touched
from vdsm_net.engine.render import dynamic_changes, render, revert_target
from vdsm_net.engine.validate import validate
from vdsm_net.model.desired import Request, RunningConfig
from vdsm_net.model.errors import ERR_LOST_CONNECTION, KernelError, NetworkError
from vdsm_net.model.kernel import KernelState
from vdsm_net.model.ops import Op

log = logging.getLogger(__name__)

ConfirmWait = Callable[[float, float], bool]
"""``wait(since, timeout) -> bool``: True when a client confirmed connectivity after ``since``."""

OnApplied = Callable[[RunningConfig], bool | None]
OnSetup = Callable[[int, int, float, bool], None]
# code 10: say how to keep the change next time
CONNECTIVITY_HINT = (
    "connectivity check failed: no Host.confirmConnectivity within {timeout} s, the change was "
    "rolled back (call Host.confirmConnectivity once the host answers on its new addresses, or "
    "send the option connectivityCheck: false)"
)
"""``on_applied(config)``: the kernel now matches ``config``; start what follows it (DHCP clients,
SLAAC, nameservers) before the connectivity check. After a failure it is called again with the
previous running config, so what it started is stopped or restored with the revert. It returns
False when it changed nothing in the kernel's addresses and routes (no client started or stopped,
nothing flushed): the engine then skips the observation that looks for what it took along (one
whole dump, the largest part of an identical re-apply); None or True, the engine looks."""

VERIFY_ROUNDS = 3
"""How many times the engine re-observes and applies the remaining delta before it gives up.
The kernel changes some things on its own while a plan runs (a port takes its bond's MTU), so a
second, usually empty, round is the verification."""


class VerifyError(Exception):
    """The kernel did not converge to the target after ``VERIFY_ROUNDS`` rounds."""


@dataclass(frozen=True)
class Prepared:
    """A request carried up to its plan, nothing written: the canonical ``request``, the
    ``desired`` running config it leads to, the ``observed`` kernel it was planned against, the
    rendered ``target`` and the ordered ``plan``; ``kept_in_use`` names the networks a full-state
    request dropped but that stay (their bridges have VM ports), with those ports."""

    request: Request
    desired: RunningConfig
    observed: KernelState
    target: KernelState
    plan: list[Op]
    kept_in_use: dict[str, list[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class SetupResult:
    """What a setup (or a drift repair) did: the first round's ``plan``, how many kernel
    ``writes`` it attempted in all rounds, the networks kept in use, whether anything
    ``changed``, and whether commitOnSuccess made the result the safe point."""

    plan: list[Op]
    writes: int
    kept_in_use: dict[str, list[str]]
    changed: bool
    committed: bool = False  # commitOnSuccess made this the safe point


class Engine:
    """Owns the running config (memory only) and drives a backend.

    ``prepare`` and ``plan`` write nothing; ``setup`` and ``reconcile`` write under one lock, and
    on any failure revert the touched links to the pre-call observation. ``safe`` is the
    config setSafeNetworkConfig (or commitOnSuccess) marked."""

    def __init__(
        self,
        backend: Backend,
        running: RunningConfig | None = None,
        host_nameservers: Callable[[], Sequence[str]] = lambda: (),
        on_setup: OnSetup | None = None,
        missing_kinds: Mapping[str, str] | None = None,
    ) -> None:
        """``on_setup(ops, writes, seconds, rolled_back)`` hears of every setup that planned
        something (the metrics); a plan that creates a link of a kind in ``missing_kinds``
        (kind -> kernel module) is refused before any write."""
        self.backend = backend
        self._on_setup = on_setup
        self._missing_kinds = dict(missing_kinds or {})
        self.running = running or RunningConfig()
        self.safe = self.running
        self._host_nameservers = host_nameservers
        self._lock = threading.Lock()
        # told True before the writes of a plan and False once it is done (the drift
        # monitor's event source, which need not name the events of the agent's own writes)
        self.write_listeners: list[Callable[[bool], None]] = []

    # -- the part that reads (one observation), and writes nothing -------------------------
    def prepare(
        self,
        networks: Mapping[str, Any],
        bondings: Mapping[str, Any],
        options: Mapping[str, Any],
        observed: KernelState | None = None,
    ) -> Prepared:
        """Everything up to the plan, with no side effects. Raises NetworkError when invalid."""
        if observed is None:
            observed = self.backend.observe(stats=False)
        request = canonicalize(
            networks, bondings, options, self.running, observed,
            host_nameservers=self._host_nameservers(),
        )
        desired = merge(self.running, request)
        validate(request, self.running, desired, observed)
        kept: dict[str, list[str]] = {}
        if request.options.full_state:
            desired, kept = self._keep_in_use(desired, observed)
        target = render(desired, observed)
        plan = diff(target, observed)
        refuse_missing(plan, self._missing_kinds)
        return Prepared(request, desired, observed, target, plan, kept)

    def _keep_in_use(
        self, desired: RunningConfig, observed: KernelState
    ) -> tuple[RunningConfig, dict[str, list[str]]]:
        """Full-state mode drops what the request does not list, except bridges VMs still use."""
        dropped = [n for n in self.running.networks if n not in desired.networks]
        busy = in_use_bridges(observed, dropped)
        if not busy:
            return desired, {}
        nets = dict(desired.networks)
        bonds = dict(desired.bonds)
        for name in busy:
            net = self.running.networks[name]
            nets[name] = net
            if net.bonding and net.bonding not in bonds and net.bonding in self.running.bonds:
                bonds[net.bonding] = self.running.bonds[net.bonding]
        return replace(desired, networks=nets, bonds=bonds), busy

    def plan(
        self,
        networks: Mapping[str, Any],
        bondings: Mapping[str, Any],
        options: Mapping[str, Any],
    ) -> list[Op]:
        """The dry run: the ordered ops ``setup`` would apply, applying nothing."""
        return self.prepare(networks, bondings, options).plan

    # -- the part that writes --------------------------------------------------------------
    def setup(
        self,
        networks: Mapping[str, Any],
        bondings: Mapping[str, Any],
        options: Mapping[str, Any],
        confirm: ConfirmWait | None = None,
        on_applied: OnApplied | None = None,
    ) -> SetupResult:
        """Apply a request. On failure the touched objects are reverted and the error re-raised."""
        with self._lock:
            prepared = self.prepare(networks, bondings, options)
            with self._writing(bool(prepared.plan)):
                return self._apply(prepared, confirm, on_applied)

    def _apply(self, prepared: Prepared, confirm: ConfirmWait | None,
               on_applied: OnApplied | None) -> SetupResult:
        """``setup`` past its plan, with the lock held."""
        start = time.time()
        applied: list[Op] = []
        called = False
        try:
            self._converge(prepared.target, prepared.plan, applied)
            if on_applied is not None:
                called = True
                if on_applied(prepared.desired) is not False:
                    # what it stopped may have taken planned objects along (a released
                    # lease shares its subnet route and rules with the static config)
                    target = prepared.target
                    self._converge(target, diff(target, self.backend.observe(stats=False)),
                                   applied)
            opts = prepared.request.options
            if opts.connectivity_check and not opts.in_rollback:
                wait = confirm or (lambda _since, _timeout: False)
                if not wait(start, float(opts.connectivity_timeout)):
                    raise NetworkError(ERR_LOST_CONNECTION, CONNECTIVITY_HINT.format(
                        timeout=opts.connectivity_timeout))
        except BaseException as exc:
            self._report(prepared.plan, applied, start, exc)
            if called and on_applied is not None:
                self._restore_dynamic(on_applied)
            scope = touched(applied, prepared.observed) | dynamic_changes(
                self.running, prepared.desired)
            self._revert(revert_target(prepared.observed, self.running), scope)
            raise
        self.running = prepared.desired
        self._report(prepared.plan, applied, start, None)
        committed = prepared.request.options.commit_on_success
        if committed:
            self.safe = self.running
        return SetupResult(
            prepared.plan, len(applied), prepared.kept_in_use, bool(applied), committed
        )

    def _report(self, plan: list[Op], applied: list[Op], start: float,
                exc: BaseException | None) -> None:
        """The per-plan line: ops, kernel writes, seconds; and whether it was rolled back."""
        if not plan and exc is None:
            return
        seconds = time.time() - start
        if exc is None:
            log.info("plan applied: %d ops, %d writes, %.3f s", len(plan), len(applied), seconds)
        else:
            reason = exc.message if isinstance(exc, NetworkError) else str(exc) or repr(exc)
            log.warning("plan rolled back after %d of %d writes, %.3f s: %s",
                        len(applied), len(plan), seconds, reason)
        if self._on_setup is not None:
            self._on_setup(len(plan), len(applied), seconds, exc is not None)

    def _converge(self, target: KernelState, plan: list[Op], applied: list[Op]) -> None:
        ops = plan
        if not ops:  # the plan is diff(target, observed): that observation is the verification
            return
        backend = self.backend
        for _ in range(VERIFY_ROUNDS):
            if isinstance(backend, BatchBackend):
                applied.extend(ops)  # a batch that fails counts as attempted as a whole
                backend.apply_batch(ops)
            else:
                for op in ops:
                    applied.append(op)  # recorded first: a failed op may have half-happened
                    self.backend.apply(op)
            ops = diff(target, self.backend.observe(stats=False))
            if not ops:
                return
            log.info("verify: %d ops remain after a round; applying them", len(ops))
        raise VerifyError(
            "kernel did not converge to the desired state; remaining: "
            + "; ".join(op.describe() for op in ops[:5])
        )

    def _restore_dynamic(self, on_applied: OnApplied) -> None:
        """Give the previous config its clients back before the kernel revert."""
        try:
            on_applied(self.running)
        except Exception:  # must never hide the original error
            log.exception("restoring the dynamic configuration failed")

    def _revert(self, pre: KernelState, scope: frozenset[str]) -> None:
        """Put the links in ``scope`` back as ``pre`` (what ``pre.dynamic`` names is kept)."""
        if not scope:
            return
        log.warning("reverting %d links to their pre-call state", len(scope))
        try:
            for _ in range(VERIFY_ROUNDS):
                ops = diff(pre, self.backend.observe(stats=False), scope=scope)
                if not ops:
                    return
                for op in ops:
                    try:
                        self.backend.apply(op)
                    except KernelError as exc:  # keep going: restore as much as possible
                        log.error("revert: %s", exc)
            log.error("revert did not converge for %s", sorted(scope))
        except Exception:  # a failing revert must never hide the original error
            log.exception("revert failed")

    def reconcile(self) -> SetupResult:
        """Re-apply the running config (drift enforcement): the engine's picture wins.

        The same path as ``setup`` without a request: render, diff, converge, and on failure
        revert the touched links to what was observed and re-raise. Nothing is committed."""
        with self._lock:
            observed = self.backend.observe(stats=False)
            target = render(self.running, observed)
            plan = diff(target, observed)
            applied: list[Op] = []
            with self._writing(bool(plan)):
                try:
                    self._converge(target, plan, applied)
                except BaseException:
                    self._revert(revert_target(observed, self.running),
                                 touched(applied, observed))
                    raise
            return SetupResult(plan, len(applied), {}, bool(applied))

    @contextlib.contextmanager
    def _writing(self, writes: bool) -> Iterator[None]:
        """Around a plan's writes (and its revert), when there are any: the listeners hear
        True before and False after, whatever happened."""
        if not writes:
            yield
            return
        self._tell_writing(True)
        try:
            yield
        finally:
            self._tell_writing(False)

    def _tell_writing(self, on: bool) -> None:
        for listener in list(self.write_listeners):
            try:
                listener(on)
            except Exception:  # a listener never fails a setup
                log.exception("write listener failed")

    def snapshot(self, timeout: float = -1) -> tuple[RunningConfig, KernelState] | None:
        """The running config with a kernel observation taken while no writer runs, or None
        when a writer held the lock for longer than ``timeout`` seconds (-1: wait). Without
        the counters: its users (the drift compare, checkNetworks) compare configuration."""
        if not self._lock.acquire(timeout=timeout):
            return None
        try:
            return self.running, self.backend.observe(stats=False)
        finally:
            self._lock.release()

    # -- state -----------------------------------------------------------------------------
    def set_safe(self) -> None:
        """setSafeNetworkConfig: the running config becomes the safe point (in memory only)."""
        with self._lock:
            self.safe = self.running

