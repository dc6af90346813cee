"""The fleet's registrations: one etcd lease for every host, kept alive once a round, and a lost
lease replaced by one new lease under which every host registers again."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aetcd

from tests.cluster.etcd_server import EtcdCluster
from tests.unit.cluster.cluster_helpers import etcd_get, sync_until
from tests.unit.fleet.fleet_helpers import FleetThread, registered

HOSTS = 5
WAIT = 60.0


def _leases(url: str) -> set[int]:
    return {asyncio.run(etcd_get(url, f"/vdsm-net/hosts/fleet-{k}"))[1] for k in range(HOSTS)}


async def _revoke(url: str, lease: int) -> None:
    host, port = url.removeprefix("http://").rsplit(":", 1)
    client = aetcd.Client(host=host, port=int(port), timeout=5)
    try:
        await client.revoke_lease(lease)
    finally:
        await client.close()


def test_one_lease_for_all_and_a_lost_one_replaced(etcd: EtcdCluster,
                                                   manager_pki: Path) -> None:
    fleet = FleetThread(manager_pki, HOSTS, etcd.url).start()
    ids = {f"fleet-{k}" for k in range(HOSTS)}
    try:
        sync_until(lambda: registered(etcd.url) == ids, WAIT, "every host registered")
        (first,) = _leases(etcd.url)
        shared = fleet.fleet.shared
        sync_until(lambda: shared.asked >= 3 * HOSTS, WAIT, "three keepalive rounds")
        assert registered(etcd.url) == ids  # kept alive past the TTL (3 s)
        assert 1 <= shared.refreshes * 2 < shared.asked  # most hosts' rounds cost nothing

        asyncio.run(_revoke(etcd.url, first))  # as if it expired while etcd was away
        sync_until(lambda: registered(etcd.url) == ids and _leases(etcd.url) != {first},
                   WAIT, "every host registered again")
        (second,) = _leases(etcd.url)
        assert second not in (0, first)
    finally:
        fleet.stop()
    sync_until(lambda: not registered(etcd.url), 10, "the keys gone with the fleet's lease")
