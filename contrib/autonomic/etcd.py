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
from vdsm_net.cluster.etcd import CALL_TIMEOUT, make_client, parse_endpoints

log = logging.getLogger(__name__)
T = TypeVar("T")

_UNREACHABLE = (
    aetcd.exceptions.ConnectionFailedError,
    aetcd.exceptions.ConnectionTimeoutError,
    aetcd.exceptions.InternalError,
    OSError,
    TimeoutError,
)


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

    async def _connected(self) -> aetcd.Client:
        if self._client is None:
            client = make_client(self.endpoints[self._index], self.timeout)
            await client.connect()
            self._client = client
        return self._client

    async def _drop(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):
                await client.close()
        self._index = (self._index + 1) % len(self.endpoints)

    async def _call(self, what: Callable[[aetcd.Client], Awaitable[T]]) -> T:
        last: Exception | None = None
        for _ in range(len(self.endpoints)):
            try:
                client = await self._connected()
                return await what(client)
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
        """Watch the whole key space from ``revision + 1`` until a wanted key changes."""
        seen = revision

        async def watch(c: aetcd.Client) -> int:
            nonlocal seen
            watch = await c.watch(b"\0", range_end=b"\0", start_revision=revision + 1)
            try:
                async for event in watch:
                    seen = max(seen, int(event.kv.mod_revision))
                    if wanted(event.kv.key.decode()):
                        return seen
            finally:
                await watch.cancel()
            return seen

        try:
            return await asyncio.wait_for(self._call(watch), timeout)
        except TimeoutError:
            return seen
        except aetcd.exceptions.RevisionCompactedError:
            return revision  # the caller re-reads everything anyway

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):
                await client.close()
