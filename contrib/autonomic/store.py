"""The manager's memory: a small key-value port with etcd's semantics, and an in-memory fake.

The port is what the manager needs of etcd and nothing more: reads at a revision, conditional
transactions (a key absent, a key holding a value, nothing under a prefix modified since a
revision), leases with a TTL, and waiting for a change under the prefix. ``etcd.EtcdStore`` is the
real one; :class:`MemoryStore` has the same semantics on a :class:`Clock` so that leases, election
and reconcile can be tested on a fake clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float: ...


class WallClock:
    """Wall time: records in etcd (``updatedAt``, retry times) are read by other managers."""

    def now(self) -> float:
        return time.time()


class FakeClock:
    """Time moves only when a test says so."""

    def __init__(self, start: float = 1000.0) -> None:
        self.time = start

    def now(self) -> float:
        return self.time

    def advance(self, seconds: float) -> None:
        self.time += seconds


class StoreError(Exception):
    """The store cannot be reached (every endpoint failed) or refused the request."""


@dataclass(frozen=True)
class Entry:
    key: str
    value: bytes
    mod_revision: int
    create_revision: int
    lease: int = 0


@dataclass(frozen=True)
class Absent:
    """The key does not exist (etcd: create_revision == 0)."""

    key: str


@dataclass(frozen=True)
class ValueIs:
    key: str
    value: bytes


@dataclass(frozen=True)
class Unchanged:
    """No key under ``prefix`` was written after ``revision`` (etcd: a range compare on
    mod_revision). Deletions are not seen, which is fine for what it guards: allocations."""

    prefix: str
    revision: int


Cond = Absent | ValueIs | Unchanged


@dataclass(frozen=True)
class Put:
    key: str
    value: bytes
    lease: int = 0


@dataclass(frozen=True)
class Delete:
    key: str


Op = Put | Delete


class Store(Protocol):
    async def get(self, key: str) -> Entry | None: ...

    async def range(self, prefix: str) -> tuple[list[Entry], int]:
        """Every entry under ``prefix`` (sorted by key) and the store revision of the read."""
        ...

    async def put(self, key: str, value: bytes, lease: int = 0) -> None: ...

    async def delete(self, key: str) -> None: ...

    async def txn(self, conds: Sequence[Cond], ops: Sequence[Op]) -> bool:
        """Apply ``ops`` atomically when every condition holds; whether they were applied."""
        ...

    async def grant(self, ttl: int) -> int: ...

    async def keepalive(self, lease: int) -> bool:
        """Refresh a lease; False when it has expired or was revoked."""
        ...

    async def revoke(self, lease: int) -> None: ...

    async def wait(self, revision: int, wanted: Callable[[str], bool], timeout: float) -> int:
        """Return when a key for which ``wanted(key)`` holds is written or deleted after
        ``revision`` (or after ``timeout`` seconds); the revision seen so far."""
        ...

    async def close(self) -> None: ...


@dataclass
class _Lease:
    ttl: int
    deadline: float


class MemoryStore:
    """etcd's semantics in memory, on a clock: a lease expires when the clock passes its TTL
    since the last keepalive, and takes its keys with it. ``fail`` makes every call raise
    StoreError (an unreachable store)."""

    def __init__(self, clock: Clock | None = None) -> None:
        self.clock: Clock = clock or WallClock()
        self.revision = 1
        self.data: dict[str, Entry] = {}
        self.leases: dict[int, _Lease] = {}
        self._next_lease = 100
        self._changed = asyncio.Condition()
        self._log: list[tuple[int, str]] = []
        self.fail = False

    def _check(self) -> None:
        if self.fail:
            raise StoreError("store unreachable")
        now = self.clock.now()
        for lease_id, lease in list(self.leases.items()):
            if lease.deadline <= now:
                self._drop_lease(lease_id)

    def _drop_lease(self, lease_id: int) -> None:
        self.leases.pop(lease_id, None)
        for key in [k for k, e in self.data.items() if e.lease == lease_id]:
            self._delete(key)

    def _bump(self, key: str) -> int:
        self.revision += 1
        self._log.append((self.revision, key))
        return self.revision

    def _put(self, key: str, value: bytes, lease: int) -> None:
        if lease and lease not in self.leases:
            raise StoreError(f"lease {lease} not found")
        old = self.data.get(key)
        rev = self._bump(key)
        created = old.create_revision if old else rev
        self.data[key] = Entry(key, value, rev, created, lease)

    def _delete(self, key: str) -> None:
        if self.data.pop(key, None) is not None:
            self._bump(key)

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def get(self, key: str) -> Entry | None:
        self._check()
        return self.data.get(key)

    async def range(self, prefix: str) -> tuple[list[Entry], int]:
        self._check()
        found = [e for k, e in sorted(self.data.items()) if k.startswith(prefix)]
        return found, self.revision

    async def put(self, key: str, value: bytes, lease: int = 0) -> None:
        self._check()
        self._put(key, value, lease)
        await self._notify()

    async def delete(self, key: str) -> None:
        self._check()
        self._delete(key)
        await self._notify()

    def _holds(self, cond: Cond) -> bool:
        if isinstance(cond, Absent):
            return cond.key not in self.data
        if isinstance(cond, ValueIs):
            entry = self.data.get(cond.key)
            return entry is not None and entry.value == cond.value
        return all(
            e.mod_revision <= cond.revision
            for k, e in self.data.items()
            if k.startswith(cond.prefix)
        )

    async def txn(self, conds: Sequence[Cond], ops: Sequence[Op]) -> bool:
        self._check()
        if not all(self._holds(c) for c in conds):
            return False
        for op in ops:
            if isinstance(op, Put):
                self._put(op.key, op.value, op.lease)
            else:
                self._delete(op.key)
        await self._notify()
        return True

    async def grant(self, ttl: int) -> int:
        self._check()
        self._next_lease += 1
        self.leases[self._next_lease] = _Lease(ttl, self.clock.now() + ttl)
        return self._next_lease

    async def keepalive(self, lease: int) -> bool:
        self._check()
        found = self.leases.get(lease)
        if found is None:
            return False
        found.deadline = self.clock.now() + found.ttl
        return True

    async def revoke(self, lease: int) -> None:
        self._check()
        self._drop_lease(lease)
        await self._notify()

    def expire(self) -> None:
        """Drop the leases the clock has passed (what etcd does on its own)."""
        self._check()

    async def wait(self, revision: int, wanted: Callable[[str], bool], timeout: float) -> int:
        def seen() -> bool:
            return any(rev > revision and wanted(key) for rev, key in self._log)

        async with self._changed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait_for(seen), timeout)
        return self.revision

    async def close(self) -> None:
        return None
