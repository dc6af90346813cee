"""One etcd client and one lease for every host of a fleet.

Each simulated host keeps its own ``hosts/<id>`` key with the agent's own
:class:`~vdsm_net.cluster.registration.Registrar`, but through a :meth:`SharedEtcd.view`: the
views share one client (one gRPC channel) and one lease, so a thousand hosts cost one keepalive
per round instead of a thousand (the refreshes of one round are answered by the first). A host
that stops deletes its own key; the lease is revoked when the fleet stops. When etcd fails, the
shared client is dropped and the next call makes one on the next endpoint; when the lease
expired meanwhile, the first host to ask gets a new one and every host writes its key again
(the Registrar's own LeaseLost path).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from vdsm_net.cluster.endpoints import Endpoint
from vdsm_net.cluster.etcd import ETCD_ERRORS, make_client
from vdsm_net.cluster.registration import Lease


class SharedEtcd:
    def __init__(self, endpoints: list[Endpoint], ttl: int) -> None:
        self.endpoints = endpoints
        self.ttl = ttl
        self._next = 0
        self._client: Any = None
        self._lease: Lease | None = None
        self._refreshed: tuple[float, Any] | None = None  # (when, the reply) for the lease
        self._lock = asyncio.Lock()
        self.closed = False
        self.asked = 0  # keepalives the hosts asked for
        self.refreshes = 0  # keepalives actually sent

    def client(self) -> Any:
        if self._client is None:
            self._client = make_client(self.endpoints[self._next % len(self.endpoints)])
        return self._client

    async def _failed(self) -> None:
        client, self._client = self._client, None
        self._next += 1
        if client is not None:
            with contextlib.suppress(*ETCD_ERRORS):
                await client.close()

    async def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        try:
            return await getattr(self.client(), name)(*args, **kwargs)
        except ETCD_ERRORS:
            await self._failed()
            raise

    async def lease(self, ttl: int) -> Lease:
        async with self._lock:
            if self._lease is None:
                self._lease = await self.call("lease", ttl)
                self._refreshed = (time.monotonic(), None)
            return self._lease

    async def refresh(self, lease_id: int) -> Any:
        self.asked += 1
        async with self._lock:
            if self._lease is None or self._lease.id != lease_id:
                return None  # an older lease: its holder must take the current one
            when, reply = self._refreshed or (0.0, None)
            if reply is not None and time.monotonic() - when < self.ttl / 6:
                return reply
            reply = await self.call("refresh_lease", lease_id)
            self.refreshes += 1
            if reply is None or getattr(reply, "TTL", 1) <= 0:
                self._lease, self._refreshed = None, None
            else:
                self._refreshed = (time.monotonic(), reply)
            return reply

    def view(self, key: str) -> SharedView:
        return SharedView(self, key.encode())

    async def close(self) -> None:
        """Revoke the lease (every key of the fleet goes at once) and drop the client."""
        self.closed = True
        lease, self._lease = self._lease, None
        try:
            if lease is not None:
                await self.client().revoke_lease(lease.id)
        except ETCD_ERRORS:
            pass  # the keys go when the lease expires
        finally:
            await self._failed()


class SharedView:
    """One host's side of a SharedEtcd, shaped like registration's ``Client``."""

    def __init__(self, shared: SharedEtcd, key: bytes) -> None:
        self.shared = shared
        self.key = key

    async def lease(self, ttl: int) -> Lease:
        return await self.shared.lease(ttl)

    async def put(self, key: bytes, value: bytes, lease: Lease | None = None) -> Any:
        return await self.shared.call("put", key, value, lease=lease)

    async def refresh_lease(self, lease_id: int) -> Any:
        return await self.shared.refresh(lease_id)

    async def revoke_lease(self, lease_id: int) -> Any:
        """This host stops: its key goes, the lease stays for the others."""
        if not self.shared.closed:
            return await self.shared.call("delete", self.key)
        return None

    async def close(self) -> None:
        """Nothing: the client is the fleet's."""
