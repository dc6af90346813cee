"""Registration in etcd: ``hosts/<id>`` under a lease that the agent keeps alive.

The record is rebuilt at every keepalive round and written again when it changed (a DHCP
address arrived, a NIC's speed changed). A lost lease (etcd unreachable for longer than the TTL)
is replaced by a new one. Any etcd failure closes the client and retries on the next endpoint
with a capped exponential backoff; serving verbs never depends on any of this. The state
(``registered`` / ``unreachable`` / ``waiting``) is logged once per change. A clean stop revokes
the lease, which deletes the key at once; after a crash the key goes when the lease expires.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from vdsm_net.cluster.endpoints import Endpoint
from vdsm_net.cluster.etcd import ETCD_ERRORS, make_client
from vdsm_net.cluster.keys import DEFAULT_HOST_TTL, Keys

log = logging.getLogger("vdsm-netd.cluster")

BACKOFF_START = 0.2
BACKOFF_MAX = 5.0

RecordSource = Callable[[], Awaitable[dict[str, Any] | None]]
"""The host record to register, or None while it cannot be built (no management address)."""


class LeaseLost(Exception):
    """etcd no longer knows the lease (it expired while etcd was out of reach)."""


class Lease(Protocol):
    id: int


class Client(Protocol):
    async def lease(self, ttl: int) -> Lease: ...
    async def put(self, key: bytes, value: bytes, lease: Lease | None = None) -> Any: ...
    async def refresh_lease(self, lease_id: int) -> Any: ...
    async def revoke_lease(self, lease_id: int) -> Any: ...
    async def close(self) -> None: ...


ClientFactory = Callable[[Endpoint], Client]


class Registrar:
    """Keeps ``hosts/<host_id>`` in etcd while the agent runs."""

    def __init__(
        self, endpoints: list[Endpoint], keys: Keys, host_id: str, record: RecordSource,
        ttl: int = DEFAULT_HOST_TTL, client_factory: ClientFactory = make_client,
    ) -> None:
        self.endpoints = endpoints
        self.key = keys.host(host_id).encode()
        self.record = record
        self.ttl = max(1, int(ttl))
        self._factory = client_factory
        self._next = 0
        self._stop = asyncio.Event()
        self._client: Client | None = None
        self._lease: Lease | None = None  # kept across sessions while etcd keeps it
        self._written: dict[str, Any] | None = None  # the record under that lease
        self.state = "starting"
        self.registrations = 0  # how many leases were granted

    def _set_state(self, state: str, detail: str = "") -> None:
        if state != self.state:
            self.state = state
            level = logging.INFO if state == "registered" else logging.WARNING
            log.log(level, "cluster registration %s%s", state, f": {detail}" if detail else "")

    async def _wait(self, seconds: float) -> bool:
        """Sleep unless stopped first; True when stopped."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), seconds)
        return self._stop.is_set()

    async def run(self) -> None:
        backoff = BACKOFF_START
        while not self._stop.is_set():
            endpoint = self.endpoints[self._next % len(self.endpoints)]
            try:
                await self._session(endpoint)
                backoff = BACKOFF_START
            except LeaseLost:
                self._set_state("unreachable", f"lease expired at {endpoint}; registering again")
            except ETCD_ERRORS as exc:
                self._set_state("unreachable", f"etcd at {endpoint}: {_short(exc)}; retrying")
                self._next += 1
                if await self._wait(backoff):
                    break
                backoff = min(BACKOFF_MAX, backoff * 2)
            finally:
                await self._drop_client()

    async def _first_record(self) -> dict[str, Any] | None:
        """The record, once there is one; None when stopped first."""
        record = await self.record()
        while record is None:
            self._set_state("waiting", "no management address to advertise yet")
            if await self._wait(self.ttl / 3):
                return None
            record = await self.record()
        return record

    async def _session(self, endpoint: Endpoint) -> None:
        """One client's life: a lease (the earlier one while etcd still has it, e.g. after
        losing a member), the record written when etcd lacks it, then keepalive rounds."""
        record = await self._first_record()
        if record is None:
            return
        self._client = client = self._factory(endpoint)
        lease = await self._live_lease(client)
        if lease is None:
            self._lease = lease = await client.lease(self.ttl)
            self._written = None
            self.registrations += 1
        while True:
            if record is not None and record != self._written:
                await client.put(self.key, _encode(record), lease=lease)
                self._written = record
            self._set_state("registered", f"{self.key.decode()} at {endpoint}, "
                            f"lease TTL {self.ttl} s")
            if await self._wait(self.ttl / 3):
                return
            if not await self._refresh(client, lease):
                self._lease = None
                raise LeaseLost()
            record = await self.record()

    async def _refresh(self, client: Client, lease: Lease) -> bool:
        reply = await client.refresh_lease(lease.id)
        return reply is not None and getattr(reply, "TTL", 1) > 0

    async def _live_lease(self, client: Client) -> Lease | None:
        lease = self._lease
        if lease is not None and await self._refresh(client, lease):
            return lease
        self._lease = None
        return None

    async def _drop_client(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(*ETCD_ERRORS):
                await client.close()

    async def stop(self, task: asyncio.Task[None]) -> None:
        """Stop the loop and deregister: revoke the lease so the key goes at once."""
        self._stop.set()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        lease, self._lease = self._lease, None
        if lease is None:
            return
        client = self._factory(self.endpoints[self._next % len(self.endpoints)])
        try:
            await client.revoke_lease(lease.id)
            log.info("cluster registration removed (%s)", self.key.decode())
        except ETCD_ERRORS as exc:
            log.warning("could not deregister from etcd (%s): the lease expires in %d s",
                        _short(exc), self.ttl)
        finally:
            with contextlib.suppress(*ETCD_ERRORS):
                await client.close()


def _encode(record: dict[str, Any]) -> bytes:
    return json.dumps(record, sort_keys=True).encode()


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__
