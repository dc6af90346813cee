"""One reconcile pass of the leader: read etcd, visit the hosts that need it, push differences.

A host is visited when it (re)registered (a new boot or agent start), the policy changed, its
maintenance flag changed, it sent an event, its retry time came, or its periodic resync is due.
A visit renders the policy for the host (allocating its pool addresses), reads its capabilities
(and its link states when a network is required), and lets the state machine decide; a push takes
the host's lock first, in a transaction fenced by the leadership.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from autonomic import machine
from autonomic.compare import differences, required_down
from autonomic.follower import Follower
from autonomic.hostport import HostPort, HostRefused, HostUnreachable
from autonomic.leader import Leadership, lock_key
from autonomic.machine import HostState, Observation, Outcome
from autonomic.policy import Policy, PolicyError, load_policy
from autonomic.pools import PoolExhausted, allocate
from autonomic.rate import TokenBucket
from autonomic.render import HostView, Rendered, RenderError, render_host
from autonomic.store import Absent, Clock, Delete, Op, Put, Store, StoreError, ValueIs
from vdsm_net.cluster.keys import Keys

log = logging.getLogger(__name__)
DEFAULT_RESYNC = 60.0
DEFAULT_PARALLEL = 32  # visits at once (--parallel)
DEFAULT_RATE = 50.0  # pushes a second at most (--rate)


@dataclass(frozen=True)
class Registration:
    host_id: str
    address: str
    boot_id: str
    started_at: float
    view: HostView

    @classmethod
    def parse(cls, host_id: str, raw: bytes) -> Registration | None:
        try:
            doc: Any = json.loads(raw)
            mgmt = doc.get("mgmt") or {}
            return cls(
                host_id=host_id,
                address=str(doc["address"]),
                boot_id=str(doc.get("bootId") or ""),
                started_at=float(doc.get("startedAt") or 0.0),
                view=HostView(
                    host_id,
                    mgmt_network=mgmt.get("network") or None,
                    mgmt_attrs=dict(mgmt.get("attrs") or {}),
                    mgmt_bondings=dict(mgmt.get("bondings") or {}),
                ),
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            log.warning("host %s: unreadable registration ignored", host_id)
            return None


@dataclass
class Snapshot:
    revision: int
    policy: Policy
    policy_rev: int
    hosts: dict[str, Registration] = field(default_factory=dict)
    maintenance: set[str] = field(default_factory=set)
    states: dict[str, HostState] = field(default_factory=dict)

    def generation(self, reg: Registration) -> str:
        return f"{self.policy_rev}/{reg.boot_id}/{reg.started_at}"


def _ids(keys: Keys, under: str, entries: Iterable[Any]) -> dict[str, Any]:
    out = {}
    for entry in entries:
        host_id = keys.host_id_of(entry.key, under)
        if host_id is not None:
            out[host_id] = entry
    return out


async def read_snapshot(store: Store, keys: Keys) -> Snapshot:
    hosts, revision = await store.range(keys.hosts_prefix())
    maint, _ = await store.range(keys.maintenance_prefix())
    states, _ = await store.range(keys.state_prefix())
    entry = await store.get(keys.policy())
    policy, policy_rev = Policy(), 0
    if entry is not None:
        try:
            policy, policy_rev = load_policy(entry.value), entry.mod_revision
        except PolicyError as exc:
            log.error("the stored policy is unusable, nothing is pushed: %s", exc)
            raise StoreError(str(exc)) from None
    snap = Snapshot(revision, policy, policy_rev)
    for host_id, e in _ids(keys, keys.hosts_prefix(), hosts).items():
        reg = Registration.parse(host_id, e.value)
        if reg is not None:
            snap.hosts[host_id] = reg
    snap.maintenance = set(_ids(keys, keys.maintenance_prefix(), maint))
    for host_id, e in _ids(keys, keys.state_prefix(), states).items():
        record = decode_state(e.value)
        if record is not None:
            snap.states[host_id] = record
    return snap


def decode_state(raw: bytes) -> HostState | None:
    """A ``state/<hostid>`` value, or None when it is not one."""
    try:
        return HostState.from_json(json.loads(raw))
    except (ValueError, TypeError, AttributeError):
        return None


def _same(a: HostState, b: HostState) -> bool:
    return replace(a, updated_at=0.0) == replace(b, updated_at=0.0)


class Reconciler:
    def __init__(self, store: Store, keys: Keys, hosts: HostPort, leadership: Leadership,
                 clock: Clock, parallel: int = DEFAULT_PARALLEL, resync: float = DEFAULT_RESYNC,
                 rate: float | None = None) -> None:
        """``parallel``: visits at once; ``rate``: pushes a second at most (None: unbounded)."""
        self.store = store
        self.keys = keys
        self.hosts = hosts
        self.leadership = leadership
        self.clock = clock
        self.resync = resync
        self._sem = asyncio.Semaphore(max(1, parallel))
        self._rate = TokenBucket(rate) if rate else None
        self._allocating: dict[str, asyncio.Lock] = {}  # by network: no races among our visits
        self._seen: dict[str, tuple[str, str]] = {}
        self._visited: dict[str, float] = {}
        self._inflight: dict[str, asyncio.Task[None]] = {}
        self._again: set[str] = set()
        self.follower = Follower(store, keys, hosts, leadership, clock)  # master: engine
        self.woken = asyncio.Event()
        """Set when a visit ends (a host it skipped may need a visit now)."""

    def forget(self) -> None:
        """A new leadership: visit every host once, whatever the last leader saw."""
        self._seen.clear()
        self._visited.clear()
        self._again.clear()

    async def pass_once(self, triggered: Iterable[str] = (), wait: bool = True
                        ) -> tuple[int, float]:
        """One pass; the revision it read and when the next pass is due (clock time).

        Each visit is a task of its own, so a slow host never holds up the others: with
        ``wait=False`` (the run loop) the pass returns at once and a host still being visited
        is visited again by a later pass when something about it changed meanwhile."""
        snap = await read_snapshot(self.store, self.keys)
        now = self.clock.now()
        wanted = set(triggered) | self._again
        self._again.clear()
        started = []
        for host_id in sorted(set(snap.hosts) | set(snap.states)):
            if await self._settle(snap, host_id, now):
                continue
            if not self._needs_visit(snap, host_id, now, host_id in wanted):
                continue
            if host_id in self._inflight:
                self._again.add(host_id)
                continue
            task = asyncio.create_task(self._visit(snap, host_id))
            self._inflight[host_id] = task
            task.add_done_callback(functools.partial(self._done, host_id))
            started.append(task)
        if wait:
            await asyncio.gather(*started)
        return snap.revision, self._next_due(snap, now)

    def _done(self, host_id: str, _task: asyncio.Task[None]) -> None:
        self._inflight.pop(host_id, None)
        self.woken.set()

    async def drain(self) -> None:
        """Wait for every visit under way (a clean stop)."""
        await asyncio.gather(*self._inflight.values(), return_exceptions=True)

    async def _settle(self, snap: Snapshot, host_id: str, now: float) -> bool:
        """Hosts in maintenance or without registration: record it; True when not visited."""
        prev = snap.states.get(host_id, machine.NEW)
        reg = snap.hosts.get(host_id)
        if host_id in snap.maintenance:
            await self._write(host_id, prev, machine.maintenance(prev, now, reg.boot_id if reg
                                                                 else prev.boot_id))
            self._seen.pop(host_id, None)
            return True
        if reg is None:
            self._seen.pop(host_id, None)  # its return is a change, whatever it registers
            if prev.state != machine.NON_RESPONSIVE:
                await self._write(host_id, prev, machine.gone(prev, now))
            return True
        return False

    def _needs_visit(self, snap: Snapshot, host_id: str, now: float, triggered: bool) -> bool:
        reg = snap.hosts[host_id]
        key = (snap.generation(reg), reg.address)
        changed = self._seen.get(host_id) != key
        self._seen[host_id] = key
        prev = snap.states.get(host_id)
        retry = prev is not None and prev.state in machine.RETRIED and now >= prev.retry_at
        resync = now - self._visited.get(host_id, float("-inf")) >= self.resync
        return triggered or changed or retry or resync or self.follower.due(host_id, now)

    def _next_due(self, snap: Snapshot, now: float) -> float:
        due = [self._visited.get(h, now) + self.resync for h in snap.hosts]
        due += [s.retry_at for h, s in snap.states.items()
                if h in snap.hosts and s.state in machine.RETRIED]
        due += self.follower.due_times(snap.hosts)
        return min(due, default=now + self.resync)

    async def _visit(self, snap: Snapshot, host_id: str) -> None:
        reg = snap.hosts[host_id]
        async with self._sem:
            self._visited[host_id] = self.clock.now()
            try:
                await self._visit_now(snap, reg)
            except StoreError as exc:  # visited again by the next pass, not at the resync
                log.warning("host %s: etcd failed during the visit: %s", host_id, exc)
                self._again.add(host_id)
            except Exception:  # a bug must not end the manager's other visits
                log.exception("host %s: the visit failed", host_id)

    async def _current(self, host_id: str) -> HostState:
        """The host's record as etcd has it now (a pass's snapshot may predate the last visit)."""
        entry = await self.store.get(self.keys.state(host_id))
        record = decode_state(entry.value) if entry is not None else None
        return record or machine.NEW

    async def _visit_now(self, snap: Snapshot, reg: Registration) -> None:
        if snap.policy.engine_master:  # the engine configures; the follower only restores
            await self.follower.visit(reg.host_id, reg.address, reg.boot_id, snap.policy)
            return
        prev = await self._current(reg.host_id)
        generation = snap.generation(reg)
        rendered, obs = await self._observe(snap, reg)
        record, push = machine.decide(prev, self.clock.now(), reg.boot_id, generation, obs)
        if not push or rendered is None:
            await self._write(reg.host_id, prev, record)
            return
        log.info("host %s differs from the policy: %s", reg.host_id,
                 "; ".join(obs.differences[:5]))
        await self._push(reg, rendered, prev, record, snap.policy)

    async def render(self, policy: Policy, reg: Registration) -> Rendered:
        addresses: dict[str, dict[str, str]] = {}
        for name in policy.networks:
            pools = policy.pools(name)
            if pools and name != reg.view.mgmt_network:
                async with self._allocating.setdefault(name, asyncio.Lock()):
                    addresses[name] = await allocate(self.store, self.keys, name, reg.host_id,
                                                     pools, policy.reserved(name))
        return render_host(policy.networks, policy.bondings, policy.nic_map(reg.host_id),
                           reg.view, addresses)

    async def _observe(self, snap: Snapshot, reg: Registration
                       ) -> tuple[Rendered | None, Observation]:
        try:
            rendered = await self.render(snap.policy, reg)
        except RenderError as exc:
            return None, Observation(refused=(exc.code, exc.message))
        except PoolExhausted as exc:
            return None, Observation(refused=(21, str(exc)))
        try:
            caps = await self.hosts.capabilities(reg.host_id, reg.address)
            stats: Mapping[str, Any] = {}
            if rendered.required:
                stats = await self.hosts.statistics(reg.host_id, reg.address)
        except HostUnreachable as exc:
            return rendered, Observation(unreachable=str(exc))
        except HostRefused as exc:
            return rendered, Observation(unreachable=f"({exc.code}) {exc.message}")
        try:
            diff, in_use = differences(rendered, caps)
            down = required_down(rendered, caps, stats)
        except (TypeError, ValueError, AttributeError, KeyError) as exc:
            # a registration or a report of the wrong shape: nothing is pushed on it
            return rendered, Observation(refused=(21, f"cannot compare with the host: {exc!r}"))
        return rendered, Observation(differences=diff, in_use=in_use, required_down=down)

    async def _push(self, reg: Registration, rendered: Rendered, prev: HostState,
                    applying: HostState, policy: Policy) -> None:
        if self._rate is not None:
            await self._rate.take()
        lock = lock_key(self.keys, reg.host_id)
        mine = self.leadership.value
        taken = await self.store.txn(
            [*self.leadership.fence(), Absent(lock)],
            [Put(lock, mine, self.leadership.lease), self._put_state(reg.host_id, applying)])
        if not taken:
            log.info("host %s: not pushed (lock held or leadership lost)", reg.host_id)
            if await self.leadership.confirm():
                self._again.add(reg.host_id)  # a lock of the old leader's lease: try again
            return
        released = False
        try:
            record = machine.pushed(applying, self.clock.now(),
                                    await self._push_now(reg, rendered, policy))
            log.info("host %s: %s %s", reg.host_id, record.state, record.error or "")
            released = await self._write(reg.host_id, applying, record, [Delete(lock)])
        finally:  # whatever ended the push (etcd lost, a bug, a cancel), the lock goes
            if not released:
                with contextlib.suppress(StoreError):
                    await self.store.txn([ValueIs(lock, mine)], [Delete(lock)])

    async def _push_now(self, reg: Registration, rendered: Rendered, policy: Policy) -> Outcome:
        """The engine's push: setup confirmed over its connection, safe config, a look."""
        options = {"fullState": True, "connectivityCheck": True,
                   "connectivityTimeout": policy.connectivity_timeout}
        try:
            answer = await self.hosts.setup(reg.host_id, reg.address, rendered.networks,
                                            rendered.bondings, options)
            await self.hosts.set_safe(reg.host_id, reg.address)
            caps = await self.hosts.capabilities(reg.host_id, reg.address)  # the check
            return Outcome(kept_in_use=sorted(answer.get("keptInUse") or {}),
                           still_differs=differences(rendered, caps)[0])
        except HostRefused as exc:
            return Outcome(error=(exc.code, exc.message))
        except HostUnreachable as exc:
            return Outcome(unreachable=str(exc))

    def _put_state(self, host_id: str, record: HostState) -> Put:
        return Put(self.keys.state(host_id), json.dumps(record.to_json()).encode())

    async def _write(self, host_id: str, prev: HostState, record: HostState,
                     extra: list[Op] | None = None) -> bool:
        if _same(prev, record) and not extra:
            return True
        return await self.store.txn(self.leadership.fence(),
                                    [self._put_state(host_id, record), *(extra or [])])
