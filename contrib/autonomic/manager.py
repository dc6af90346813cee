"""``vdsm-net-manager run``: the election and the reconcile loop of one manager process.

Two tasks: the election keeps the lease alive every TTL/3 (and, standing by, watches the leader
key so that it campaigns the moment the old leader's lease expires); the reconcile loop, while
leading, runs a pass, rests in proportion to what the pass cost (``_pace``), then sleeps until
something it cares about changes in etcd (a registration, the policy, a maintenance flag), a
host sends an event, a retry or resync is due, or leadership changes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from autonomic.hostport import HostPort
from autonomic.leader import Leadership
from autonomic.reconcile import DEFAULT_PARALLEL, DEFAULT_RESYNC, Reconciler
from autonomic.store import Clock, Store, StoreError
from vdsm_net.cluster.keys import Keys

log = logging.getLogger(__name__)
PASS_SHARE = 0.25  # of the manager's time, at most, spent in passes
PASS_REST_MAX = 1.0  # seconds


def interesting(keys: Keys) -> Callable[[str], bool]:
    """The keys whose change starts a pass (not the leader's own state writes)."""
    prefixes = (keys.hosts_prefix(), keys.maintenance_prefix())

    def wanted(key: str) -> bool:
        return key == keys.policy() or key == keys.leader() or key.startswith(prefixes)

    return wanted


def _cancelling() -> bool:
    """Whether the current task itself is being cancelled (not a call inside it)."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


class Manager:
    def __init__(self, store: Store, keys: Keys, hosts: HostPort, manager_id: str,
                 ttl: int, clock: Clock, parallel: int = DEFAULT_PARALLEL,
                 resync: float = DEFAULT_RESYNC, rate: float | None = None) -> None:
        self.store = store
        self.keys = keys
        self.ttl = ttl
        self.clock = clock
        self.leadership = Leadership(store, keys, manager_id, ttl, clock)
        self.reconciler = Reconciler(store, keys, hosts, self.leadership, clock,
                                     parallel=parallel, resync=resync, rate=rate)
        self.events: asyncio.Queue[str] = asyncio.Queue()
        self._changed = asyncio.Event()
        self.stopping = asyncio.Event()

    def host_event(self, host_id: str) -> None:
        """From any thread: a host sent ``|net|host_conn|no_id``."""
        self.events.put_nowait(host_id)

    async def _elect(self) -> None:
        was = False
        while not self.stopping.is_set():
            leading = await self.leadership.step()
            if leading != was:
                was = leading
                self._changed.set()
            try:
                if leading:  # the next keepalive in TTL/3
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self.stopping.wait(), self.ttl / 3)
                else:  # standing by: campaign as soon as the leader key goes
                    _, revision = await self.store.range(self.keys.leader())
                    await self.store.wait(revision, lambda k: k == self.keys.leader(),
                                          self.ttl / 3)
            except StoreError:
                await asyncio.sleep(min(1.0, self.ttl / 3))

    def _drain(self) -> set[str]:
        out = set()
        while not self.events.empty():
            out.add(self.events.get_nowait())
        return out

    async def _sleep(self, revision: int, timeout: float) -> None:
        event = asyncio.ensure_future(self.events.get())
        waits: list[asyncio.Future[Any]] = [
            event,
            asyncio.ensure_future(self.store.wait(revision, interesting(self.keys), timeout)),
            asyncio.ensure_future(self._changed.wait()),
            asyncio.ensure_future(self.stopping.wait()),
            asyncio.ensure_future(self.reconciler.woken.wait()),
        ]
        done, pending = await asyncio.wait(waits, timeout=timeout,
                                           return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        if pending:  # bounded: a wait that does not end when cancelled never holds the loop
            await asyncio.wait(pending, timeout=self.ttl / 3)
        if event in done and not event.cancelled():
            self.events.put_nowait(event.result())
        failed = [t for t in done if not t.cancelled() and t.exception() is not None]
        if failed:  # etcd away: the next pass says so; do not spin meanwhile
            log.warning("waiting on etcd failed: %s", failed[0].exception())
            await asyncio.sleep(min(1.0, self.ttl / 3))

    async def _reconcile(self) -> None:
        leading = False
        while not self.stopping.is_set():
            self._changed.clear()
            if not self.leadership.leading:
                leading = False
                await self._idle()
                continue
            if not leading:
                leading = True
                self.reconciler.forget()
            started = time.monotonic()
            try:
                self.reconciler.woken.clear()
                revision, due = await self.reconciler.pass_once(self._drain(), wait=False)
            except StoreError as exc:
                log.warning("reconcile pass failed: %s", exc)
                await asyncio.sleep(1.0)
                continue
            await self._pace(time.monotonic() - started)
            timeout = min(max(due - self.clock.now(), 0.05), self.ttl / 3)
            await self._sleep(revision, timeout)

    async def _pace(self, took: float) -> None:
        """After a pass that took ``took`` seconds, rest so that passes use at most
        PASS_SHARE of the time: a pass reads every host, and with a thousand of them one
        pass per ended visit was most of the manager's CPU and of etcd's traffic. What comes
        in meanwhile is seen by the next pass."""
        rest = min(PASS_REST_MAX, took * (1 / PASS_SHARE - 1))
        if rest > 0.001:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), rest)

    async def _idle(self) -> None:
        """Standing by: do nothing until leadership changes (or we stop)."""
        waits = [asyncio.ensure_future(self._changed.wait()),
                 asyncio.ensure_future(self.stopping.wait())]
        _, pending = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        self._drain()

    async def _forever(self, name: str, loop: Callable[[], Awaitable[None]]) -> None:
        """One of the manager's loops, started again (after a second) if it ever ends before
        the stop, whatever ended it: a loop that died silently left a manager that kept its
        lease and did nothing."""
        while not self.stopping.is_set():
            try:
                await loop()
            except asyncio.CancelledError:
                if self.stopping.is_set() or _cancelling():
                    raise
                log.error("manager loop %s was cancelled from inside; starting it again", name)
            except Exception:
                log.exception("manager loop %s failed; starting it again", name)
            if not self.stopping.is_set():
                await asyncio.sleep(1.0)

    async def run(self) -> None:
        tasks = [asyncio.create_task(self._forever("election", self._elect)),
                 asyncio.create_task(self._forever("reconcile", self._reconcile))]
        try:
            await self.stopping.wait()
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, StoreError):
                    await task
            await self.reconciler.drain()  # a push under way ends (and is recorded) first
            await self.leadership.resign()
