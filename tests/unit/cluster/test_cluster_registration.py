"""Registration against a real etcd on loopback: lease, keepalive, deregistration, outages."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from tests.cluster.etcd_server import EtcdCluster, free_port
from tests.unit.cluster.cluster_helpers import etcd_get, lease_ttl, until
from vdsm_net.cluster.endpoints import parse_endpoints
from vdsm_net.cluster.keys import Keys
from vdsm_net.cluster.registration import Registrar

KEY = "/vdsm-net/hosts/h1"
RECORD = {"id": "h1", "address": "10.0.0.1:54321"}


def registrar(url: str, ttl: int = 2,
              source: Callable[[], Awaitable[dict[str, Any] | None]] | None = None) -> Registrar:
    async def fixed() -> dict[str, Any] | None:
        return dict(RECORD)

    return Registrar(parse_endpoints(url), Keys(), "h1", source or fixed, ttl=ttl)


async def present(url: str) -> bool:
    return (await etcd_get(url, KEY))[0] is not None


async def absent(url: str) -> bool:
    return (await etcd_get(url, KEY))[0] is None


def test_registers_under_a_lease_kept_past_its_ttl_and_deregisters_on_stop(
    etcd: EtcdCluster,
) -> None:
    async def scenario() -> None:
        reg = registrar(etcd.url, ttl=2)
        task = asyncio.create_task(reg.run())
        await until(lambda: present(etcd.url), 10, "registered")
        value, lease = await etcd_get(etcd.url, KEY)
        assert value == RECORD
        assert lease != 0
        assert await lease_ttl(etcd.url, lease) == 2
        await asyncio.sleep(5)  # 2.5 TTLs: only the keepalive keeps it
        assert (await etcd_get(etcd.url, KEY))[1] == lease
        assert reg.registrations == 1
        await reg.stop(task)
        assert await absent(etcd.url)  # revoked at once, not after the TTL

    asyncio.run(scenario())


def test_a_crash_leaves_the_key_to_expire_with_its_lease(etcd: EtcdCluster) -> None:
    async def scenario() -> None:
        reg = registrar(etcd.url, ttl=2)
        task = asyncio.create_task(reg.run())
        await until(lambda: present(etcd.url), 10, "registered")
        task.cancel()  # no revoke: what SIGKILL leaves
        await asyncio.gather(task, return_exceptions=True)
        assert await present(etcd.url)
        took = await until(lambda: absent(etcd.url), 10, "expired")
        assert took > 0.5  # it went with the lease, not at once

    asyncio.run(scenario())


def test_etcd_absent_at_start_then_up(etcd_unstarted: EtcdCluster,
                                      caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "vdsm-netd.cluster")

    async def scenario() -> None:
        reg = registrar(etcd_unstarted.url)
        task = asyncio.create_task(reg.run())
        await asyncio.sleep(3)  # several failed attempts with backoff
        assert reg.state == "unreachable"
        await asyncio.get_running_loop().run_in_executor(None, etcd_unstarted.start)
        await until(lambda: present(etcd_unstarted.url), 15, "registered once etcd is up")
        await until(lambda: asyncio.sleep(0, reg.state == "registered"), 5, "state registered")
        await reg.stop(task)

    asyncio.run(scenario())
    messages = [r.getMessage() for r in caplog.records]
    assert sum("registration unreachable" in m for m in messages) == 1  # once per change
    assert sum("registration registered" in m for m in messages) == 1


def test_etcd_restart_past_the_ttl_registers_again(etcd: EtcdCluster) -> None:
    async def scenario() -> None:
        reg = registrar(etcd.url, ttl=1)
        task = asyncio.create_task(reg.run())
        await until(lambda: present(etcd.url), 10, "registered")
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, etcd.stop)
        await asyncio.sleep(3)
        await loop.run_in_executor(None, etcd.start)
        await until(lambda: present(etcd.url), 15, "registered after the restart")
        await asyncio.sleep(3)  # and kept: a lease the restart expired was replaced
        assert await present(etcd.url)
        await reg.stop(task)
        assert await absent(etcd.url)

    asyncio.run(scenario())


def test_a_dead_first_endpoint_is_passed_over(etcd: EtcdCluster) -> None:
    async def scenario() -> None:
        dead = f"http://127.0.0.1:{free_port()}"
        reg = registrar(f"{dead},{etcd.url}")
        task = asyncio.create_task(reg.run())
        await until(lambda: present(etcd.url), 10, "registered through the second endpoint")
        await reg.stop(task)

    asyncio.run(scenario())


def test_no_record_waits_and_a_changed_record_is_written(etcd: EtcdCluster) -> None:
    records: list[dict[str, Any] | None] = [None, None, dict(RECORD)]

    async def source() -> dict[str, Any] | None:
        return records[0] if len(records) == 1 else records.pop(0)

    async def scenario() -> None:
        reg = registrar(etcd.url, ttl=1, source=source)
        task = asyncio.create_task(reg.run())
        await until(lambda: present(etcd.url), 10, "registered once there is a record")
        records[0] = {**RECORD, "address": "10.0.0.9:54321"}

        async def updated() -> bool:
            value = (await etcd_get(etcd.url, KEY))[0]
            return value is not None and value["address"] == "10.0.0.9:54321"

        await until(updated, 10, "the changed record written")
        assert reg.registrations == 1  # the same lease, written again
        await reg.stop(task)

    asyncio.run(scenario())


def test_losing_the_member_it_talks_to_keeps_the_same_lease(tmp_path: Path) -> None:
    """Three members; the first (the one the registrar uses) stops: the registrar moves on to
    another member and keeps its lease alive there (no new registration for the manager)."""
    members = EtcdCluster(tmp_path / "etcd3", n=3)
    (tmp_path / "etcd3").mkdir()
    others = ",".join(members.urls[1:])

    async def scenario() -> None:
        reg = registrar(members.url, ttl=2)
        task = asyncio.create_task(reg.run())
        await until(lambda: present(others), 20, "registered")
        _, lease = await etcd_get(others, KEY)
        await asyncio.get_running_loop().run_in_executor(None, members.stop, 0)
        await asyncio.sleep(5)  # 2.5 TTLs
        assert (await etcd_get(others, KEY))[1] == lease
        assert reg.registrations == 1
        assert reg.state == "registered"
        await reg.stop(task)
        assert await absent(others)

    try:
        members.start()
        asyncio.run(scenario())
    finally:
        members.stop()
