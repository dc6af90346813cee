"""Leader election on the store: one ``leader`` key under the leader's lease.

A manager leads while the key holds its own value (its id and lease) and its lease is kept alive.
When the leader dies its lease expires after the TTL, etcd deletes the key, and a standby's
transaction ("create the key if it is absent") wins. Every write the leader makes that matters
(taking a host's push lock, writing a host's state) is a transaction conditioned on the key still
holding the leader's value, so a deposed leader cannot act on stale leadership; and the lock of a
host (``lock/<hostid>``, under the leader's lease) means two managers never push to one host at
once.
"""

from __future__ import annotations

import contextlib
import json
import logging

from autonomic.store import Absent, Clock, Cond, Put, Store, StoreError, ValueIs
from vdsm_net.cluster.keys import Keys

log = logging.getLogger(__name__)


def lock_key(keys: Keys, host_id: str) -> str:
    """The push lock of a host (the manager's own key, next to the contract's)."""
    return keys.prefix + "lock/" + host_id


def leader_id(raw: bytes | None) -> str | None:
    """The manager id in a ``leader`` value (None when there is no valid leader)."""
    if raw is None:
        return None
    try:
        doc = json.loads(raw)
    except ValueError:
        return None
    value = doc.get("id") if isinstance(doc, dict) else None
    return value if isinstance(value, str) else None


class Leadership:
    """One manager's side of the election. Call :meth:`step` every TTL/3."""

    def __init__(self, store: Store, keys: Keys, manager_id: str, ttl: int, clock: Clock) -> None:
        self.store = store
        self.keys = keys
        self.manager_id = manager_id
        self.ttl = ttl
        self.clock = clock
        self.lease = 0
        self.value = b""
        self.leading = False
        self._last_ok = 0.0

    async def step(self) -> bool:
        """Keep the lease alive and campaign when nobody leads; whether we lead now."""
        try:
            if self.lease and not await self.store.keepalive(self.lease):
                log.warning("manager %s: lease %x expired", self.manager_id, self.lease)
                self._lose()
                self.lease = 0
            if not self.lease:
                self.lease = await self.store.grant(self.ttl)
            if not self.leading:
                await self._campaign()
            else:
                await self.confirm()
            self._last_ok = self.clock.now()
        except StoreError as exc:
            # no answer from etcd: our lease may lapse; stop acting before it can
            if self.leading and self.clock.now() - self._last_ok >= self.ttl / 2:
                log.warning("manager %s: etcd unreachable (%s); standing down",
                            self.manager_id, exc)
                self._lose()
        return self.leading

    async def _campaign(self) -> None:
        value = json.dumps({"id": self.manager_id, "lease": self.lease}).encode()
        key = self.keys.leader()
        # the key may still be ours (we stood down while etcd was away, our lease held)
        if await self.store.txn([Absent(key)], [Put(key, value, self.lease)]) or (
                await self.store.txn([ValueIs(key, value)], [])):
            self.value = value
            self.leading = True
            log.info("manager %s leads (lease %x)", self.manager_id, self.lease)

    async def confirm(self) -> bool:
        """Re-read the leader key (a fenced write just failed, or a keepalive is due): stand
        down at once when it no longer holds our value; whether we still lead."""
        if self.leading:
            entry = await self.store.get(self.keys.leader())
            if entry is None or entry.value != self.value:
                self._lose()
        return self.leading

    def _lose(self) -> None:
        if self.leading:
            log.warning("manager %s no longer leads", self.manager_id)
        self.leading = False
        self.value = b""

    def fence(self) -> list[Cond]:
        """The condition every leader write carries."""
        return [ValueIs(self.keys.leader(), self.value)] if self.leading else [
            ValueIs(self.keys.leader(), b"\0not-leading")]

    async def resign(self) -> None:
        """A clean stop: give the leadership (and the host locks) up at once."""
        self._lose()
        if self.lease:
            with contextlib.suppress(StoreError):
                await self.store.revoke(self.lease)
            self.lease = 0
