"""Engine-follower mode (a policy with ``"master": "engine"``): the engine stays the master, the
cluster remembers what it made safe.

The manager pushes no policy. Each agent keeps ``safe/<hostid>`` (the configuration an engine
made safe, in setupNetworks' vocabulary, with the boot it was saved in) and ``follow/<hostid>``
(the boot of the engine's last setupNetworks) in etcd; the manager's own calls carry its flow id
and write neither (``vdsm_net.cluster.keys``). For each host's boot the leader keeps a record in
``restore/<hostid>``:

    no-safe-config  no engine ever made a configuration safe: nothing to restore
    engine-applied  an engine applied or committed during this boot: the manager stays out
    waiting         the host booted since its safe config was saved; the grace
                    (``restoreGrace``) runs from when the manager first saw this boot
    restored        no engine applied within the grace: the manager pushed the safe config
                    (setupNetworks fullState with the connectivity check, then
                    setSafeNetworkConfig), so the host is as the engine left it
    error           that push failed (code, message); tried again after the grace

A restore takes the host's push lock under the leadership, as every push does; the records are
fenced writes, so a new leader carries on from them (a waiting host's grace is not restarted).
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from autonomic.hostport import HostPort, HostRefused, HostUnreachable
from autonomic.leader import Leadership, lock_key
from autonomic.machine import ERR_UNREACHABLE
from autonomic.policy import Policy
from autonomic.store import Absent, Clock, Delete, Op, Put, Store, StoreError, ValueIs
from vdsm_net.cluster.keys import Keys

log = logging.getLogger(__name__)

NO_SAFE = "no-safe-config"
ENGINE_APPLIED = "engine-applied"
WAITING = "waiting"
RESTORED = "restored"
ERROR = "error"
MIN_RETRY = 5.0  # a failed restore is tried again after the grace, and never sooner than this


@dataclass(frozen=True)
class FollowState:
    """``restore/<hostid>``: what the follower did for one boot of the host."""

    boot_id: str
    state: str
    since: float = 0.0
    updated_at: float = 0.0
    retry_at: float = 0.0
    error: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return {"bootId": self.boot_id, "state": self.state, "since": self.since,
                "updatedAt": self.updated_at, "retryAt": self.retry_at, "error": self.error}

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> FollowState:
        error = doc.get("error")
        return cls(boot_id=str(doc.get("bootId") or ""), state=str(doc.get("state") or NO_SAFE),
                   since=float(doc.get("since") or 0.0),
                   updated_at=float(doc.get("updatedAt") or 0.0),
                   retry_at=float(doc.get("retryAt") or 0.0),
                   error=dict(error) if isinstance(error, dict) else None)


def decode_follow_state(raw: bytes) -> FollowState | None:
    try:
        doc = json.loads(raw)
        return FollowState.from_json(doc) if isinstance(doc, dict) else None
    except (ValueError, TypeError):
        return None


@dataclass(frozen=True)
class SafeConfig:
    """``safe/<hostid>``: the engine's safe configuration and the boot it was saved in."""

    networks: dict[str, Any]
    bondings: dict[str, Any]
    boot_id: str

    @classmethod
    def parse(cls, raw: bytes) -> SafeConfig | None:
        try:
            doc = json.loads(raw)
            networks, bondings = doc["networks"], doc["bondings"]
            if not isinstance(networks, dict) or not isinstance(bondings, dict):
                return None
            return cls(networks, bondings, str(doc.get("bootId") or ""))
        except (ValueError, TypeError, KeyError):
            return None


@dataclass(frozen=True)
class EngineFacts:
    """What the agent wrote of the engine: its safe config, the boot of its last apply."""

    safe: SafeConfig | None = None
    applied_boot: str | None = None

    def engine_in(self, boot_id: str) -> bool:
        """An engine applied or made a configuration safe during this boot."""
        saved = self.safe.boot_id if self.safe is not None else None
        return boot_id in (saved, self.applied_boot)


def decide(prev: FollowState | None, boot_id: str, facts: EngineFacts, now: float,
           grace: float) -> tuple[FollowState, bool]:
    """The record for this boot and whether to restore now (pure)."""
    if prev is None or prev.boot_id != boot_id:  # a boot seen for the first time
        prev = FollowState(boot_id, WAITING, since=now, updated_at=now, retry_at=now + grace)
    if facts.engine_in(boot_id):
        state = ENGINE_APPLIED
    elif facts.safe is None:
        state = NO_SAFE
    else:
        state = WAITING if prev.state == NO_SAFE else prev.state
    if state != prev.state:
        prev = replace(prev, state=state, updated_at=now, error=None,
                       retry_at=prev.since + grace if state == WAITING else 0.0)
    return prev, state in (WAITING, ERROR) and now >= prev.retry_at


def _same(a: FollowState | None, b: FollowState) -> bool:
    return a is not None and replace(a, updated_at=0.0) == replace(b, updated_at=0.0)


class Follower:
    """The leader's visits of hosts in engine-follower mode."""

    def __init__(self, store: Store, keys: Keys, hosts: HostPort, leadership: Leadership,
                 clock: Clock) -> None:
        self.store = store
        self.keys = keys
        self.hosts = hosts
        self.leadership = leadership
        self.clock = clock
        self._due: dict[str, float] = {}

    def due(self, host_id: str, now: float) -> bool:
        """A waiting host's grace (or a failed restore's retry) has come."""
        return now >= self._due.get(host_id, float("inf"))

    def due_times(self, host_ids: Iterable[str]) -> list[float]:
        return [self._due[h] for h in host_ids if h in self._due]

    async def _read(self, host_id: str) -> tuple[FollowState | None, EngineFacts]:
        restore = await self.store.get(self.keys.restore(host_id))
        safe = await self.store.get(self.keys.safe(host_id))
        follow = await self.store.get(self.keys.follow(host_id))
        applied: str | None = None
        if follow is not None:
            with contextlib.suppress(ValueError, TypeError, AttributeError):
                applied = str(json.loads(follow.value).get("bootId") or "") or None
        return (decode_follow_state(restore.value) if restore is not None else None,
                EngineFacts(SafeConfig.parse(safe.value) if safe is not None else None, applied))

    async def visit(self, host_id: str, address: str, boot_id: str, policy: Policy) -> None:
        prev, facts = await self._read(host_id)
        now = self.clock.now()
        record, restore = decide(prev, boot_id, facts, now, policy.restore_grace)
        if record.state in (WAITING, ERROR):
            self._due[host_id] = record.retry_at
        else:
            self._due.pop(host_id, None)
        if restore and facts.safe is not None:
            await self._restore(host_id, address, facts.safe, record, policy)
        elif not _same(prev, record):
            await self._write(host_id, record)

    async def _restore(self, host_id: str, address: str, safe: SafeConfig,
                       record: FollowState, policy: Policy) -> None:
        lock = lock_key(self.keys, host_id)
        mine = self.leadership.value
        if not await self.store.txn([*self.leadership.fence(), Absent(lock)],
                                    [Put(lock, mine, self.leadership.lease)]):
            log.info("host %s: not restored (lock held or leadership lost)", host_id)
            return
        released = False
        try:
            log.info("host %s: no engine applied within %.0f s of its boot; restoring its "
                     "safe configuration (%s)", host_id, policy.restore_grace,
                     ", ".join(sorted(safe.networks)) or "no networks")
            error = await self._push(host_id, address, safe, policy)
            now = self.clock.now()
            if error is None:
                done = replace(record, state=RESTORED, updated_at=now, retry_at=0.0, error=None)
                self._due.pop(host_id, None)
            else:
                retry = now + max(policy.restore_grace, MIN_RETRY)
                done = replace(record, state=ERROR, updated_at=now, retry_at=retry, error=error)
                self._due[host_id] = retry
            log.info("host %s: %s %s", host_id, done.state, error or "")
            released = await self._write(host_id, done, [Delete(lock)])
        finally:
            if not released:
                with contextlib.suppress(StoreError):
                    await self.store.txn([ValueIs(lock, mine)], [Delete(lock)])

    async def _push(self, host_id: str, address: str, safe: SafeConfig, policy: Policy
                    ) -> dict[str, Any] | None:
        """The safe config as the engine would push it; None when done, else the error."""
        options = {"fullState": True, "connectivityCheck": True,
                   "connectivityTimeout": policy.connectivity_timeout}
        try:
            await self.hosts.setup(host_id, address, safe.networks, safe.bondings, options)
            await self.hosts.set_safe(host_id, address)
        except HostRefused as exc:
            return {"code": exc.code, "message": exc.message}
        except HostUnreachable as exc:
            return {"code": ERR_UNREACHABLE, "message": str(exc)}
        return None

    async def _write(self, host_id: str, record: FollowState, extra: list[Op] | None = None
                     ) -> bool:
        put = Put(self.keys.restore(host_id), json.dumps(record.to_json()).encode())
        return await self.store.txn(self.leadership.fence(), [put, *(extra or [])])
