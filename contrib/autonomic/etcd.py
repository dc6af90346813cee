"""The Store port on a real etcd v3 cluster, through aetcd (gRPC).

``--etcd URL[,URL...]`` names the members (parsed as the agent's ``--cluster``); a call that
cannot reach the current member moves on to the next one with a fresh client, so losing one
member of three is invisible to the manager. Reads are
linearizable (etcd's default), so a manager never acts on a stale view after a failover.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import aetcd
import aetcd.exceptions
from aetcd.utils import prefix_range_end

from autonomic.store import Absent, Cond, Delete, Entry, Op, Put, StoreError, ValueIs
from vdsm_net.cluster.endpoints import CALL_TIMEOUT, parse_endpoints
from vdsm_net.cluster.etcd import make_client

log = logging.getLogger(__name__)
T = TypeVar("T")

_UNREACHABLE = (
    aetcd.exceptions.ConnectionFailedError,
    aetcd.exceptions.ConnectionTimeoutError,
    aetcd.exceptions.InternalError,
    OSError,
    TimeoutError,
)


def _retrieve(task: asyncio.Future[Any]) -> None:
    """A task nobody awaits any more: its end, whatever it is, is not an error to report."""
    if not task.cancelled():
        task.exception()


def _entry(kv: Any) -> Entry:
    return Entry(
        key=kv.key.decode(),
        value=bytes(kv.value),
        mod_revision=int(kv.mod_revision),
        create_revision=int(kv.create_revision),
        lease=int(kv.lease),
    )


class EtcdStore:
    """A Store over one etcd cluster; one member at a time, the next one on failure."""

    def __init__(self, urls: str, timeout: int = CALL_TIMEOUT) -> None:
        """``timeout`` bounds every call (the agent's: a stopped member must not hold the
        leader's keepalive past its lease)."""
        self.endpoints = parse_endpoints(urls)
        self.timeout = timeout
        self._index = 0
        self._client: aetcd.Client | None = None
        self._closing: set[asyncio.Future[None]] = set()

    async def _connected(self) -> aetcd.Client:
        if self._client is None:
            client = make_client(self.endpoints[self._index], self.timeout)
            try:
                await self._bounded(client.connect(), self.timeout)
            except BaseException:
                self._forget(client)
                raise
            self._client = client
        return self._client

    async def _bounded(self, work: Awaitable[T], timeout: float) -> T:
        """``work`` as a task of its own, given up (cancelled, never awaited again) after
        ``timeout`` or when the caller is cancelled: aetcd's gRPC calls can wedge under load
        (a watch cancel queued behind a stream that no longer reads holds the watcher's lock;
        a connect may wait for a channel that never gets ready), and a manager loop must
        never hang on etcd."""
        task = asyncio.ensure_future(work)
        task.add_done_callback(_retrieve)
        try:
            done, _ = await asyncio.wait({task}, timeout=timeout)
        finally:
            if not task.done():
                task.cancel()
        if not done:
            raise TimeoutError(f"no answer within {timeout:.0f} s")
        if task.cancelled():  # not by our caller: gRPC cancels the calls of a closed channel
            raise ConnectionError("the etcd call was cancelled (its connection was closed)")
        return task.result()

    def _forget(self, client: aetcd.Client) -> None:
        """Close a client in the background, bounded: its close may wedge like its calls."""
        closing = asyncio.ensure_future(self._bounded(client.close(), self.timeout))
        self._closing.add(closing)
        closing.add_done_callback(self._closing.discard)

    async def _drop(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            self._forget(client)
        self._index = (self._index + 1) % len(self.endpoints)

    async def _call(self, what: Callable[[aetcd.Client], Awaitable[T]],
                    timeout: float | None = None) -> T:
        """``what`` on the current member, the next ones when it is unreachable or silent
        for ``timeout`` (default: the call timeout, and a second for the answer to travel)."""
        last: Exception | None = None
        for _ in range(len(self.endpoints)):
            try:
                client = await self._connected()
                return await self._bounded(what(client), timeout or self.timeout + 1)
            except _UNREACHABLE as exc:
                last = exc
                log.warning("etcd %s unreachable (%s); trying the next member",
                            self.endpoints[self._index], type(exc).__name__)
                await self._drop()
            except aetcd.exceptions.ClientError as exc:
                raise StoreError(f"etcd refused the request: {exc}") from exc
        raise StoreError(f"no etcd member reachable: {last}")

    async def get(self, key: str) -> Entry | None:
        found = await self._call(lambda c: c.get(key.encode()))
        return None if found is None else _entry(found)

    async def range(self, prefix: str) -> tuple[list[Entry], int]:
        async def read(c: aetcd.Client) -> tuple[list[Entry], int]:
            found = await c.get_prefix(prefix.encode())
            entries = [_entry(kv) for kv in found]
            return sorted(entries, key=lambda e: e.key), int(found.header.revision)

        return await self._call(read)

    async def put(self, key: str, value: bytes, lease: int = 0) -> None:
        await self._call(lambda c: c.put(key.encode(), value, lease=lease or None))

    async def delete(self, key: str) -> None:
        await self._call(lambda c: c.delete(key.encode()))

    @staticmethod
    def _compare(c: aetcd.Client, cond: Cond) -> Any:
        t = c.transactions
        if isinstance(cond, Absent):
            return t.create(cond.key.encode()) == 0
        if isinstance(cond, ValueIs):
            return t.value(cond.key.encode()) == cond.value
        key = cond.prefix.encode()
        return t.mod(key, range_end=prefix_range_end(key)) < cond.revision + 1

    @staticmethod
    def _op(c: aetcd.Client, op: Op) -> Any:
        if isinstance(op, Put):
            return c.transactions.put(op.key.encode(), op.value, op.lease or None)
        assert isinstance(op, Delete)
        return c.transactions.delete(op.key.encode())

    async def txn(self, conds: Sequence[Cond], ops: Sequence[Op]) -> bool:
        async def run(c: aetcd.Client) -> bool:
            ok, _ = await c.transaction(
                compare=[self._compare(c, x) for x in conds],
                success=[self._op(c, op) for op in ops],
                failure=[],
            )
            return bool(ok)

        return await self._call(run)

    async def grant(self, ttl: int) -> int:
        lease = await self._call(lambda c: c.lease(ttl))
        return int(lease.id)

    async def keepalive(self, lease: int) -> bool:
        reply = await self._call(lambda c: c.refresh_lease(lease))
        return reply is not None and int(reply.TTL) > 0

    async def revoke(self, lease: int) -> None:
        with contextlib.suppress(aetcd.exceptions.ClientError):
            await self._call(lambda c: c.revoke_lease(lease))

    async def wait(self, revision: int, wanted: Callable[[str], bool], timeout: float) -> int:
        """Watch the whole key space from ``revision + 1`` until a wanted key changes, for at
        most ``timeout`` seconds; the revision seen so far. The watch is bounded like every
        call: a wedged one is given up with its client."""
        seen = [revision]
        try:
            return await self._bounded(
                self._connected_watch(revision, wanted, seen), timeout)
        except TimeoutError:
            return seen[0]
        except aetcd.exceptions.RevisionCompactedError:
            return revision  # the caller re-reads everything anyway

    async def _connected_watch(self, revision: int, wanted: Callable[[str], bool],
                               seen: list[int]) -> int:
        client = await self._connected()
        try:
            return await self._watch(client, revision, wanted, seen)
        except _UNREACHABLE:
            await self._drop()
            raise StoreError(f"etcd {self.endpoints[self._index]} unreachable") from None

    async def _watch(self, c: aetcd.Client, revision: int, wanted: Callable[[str], bool],
                     seen: list[int]) -> int:
        watch = await c.watch(b"\0", range_end=b"\0", start_revision=revision + 1)
        try:
            async for event in watch:
                seen[0] = max(seen[0], int(event.kv.mod_revision))
                if wanted(event.kv.key.decode()):
                    return seen[0]
        finally:  # the watch's cancel can wedge aetcd's watcher: then a new client
            stop = asyncio.ensure_future(watch.cancel())
            stop.add_done_callback(_retrieve)
            done, _ = await asyncio.wait({stop}, timeout=self.timeout)
            if not done and self._client is c:
                log.warning("etcd %s: a watch did not end when cancelled; reconnecting",
                            self.endpoints[self._index])
                self._client = None
                self._forget(c)
        return seen[0]

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):
                await self._bounded(client.close(), self.timeout)
