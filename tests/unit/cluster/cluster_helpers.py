"""Reading etcd from a test, and waiting on a condition with a generous bound."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aetcd

from vdsm_net.cluster.endpoints import parse_endpoint


async def etcd_get(url: str, key: str) -> tuple[dict[str, Any] | None, int]:
    """The JSON value at ``key`` (None when absent) and its lease id (0 when none)."""
    ep = parse_endpoint(url.split(",")[0])
    client = aetcd.Client(host=ep.host, port=ep.port, timeout=5)
    try:
        got = await client.get(key.encode())
        if got is None:
            return None, 0
        return json.loads(got.value), int(got.lease)
    finally:
        await client.close()


async def lease_ttl(url: str, lease_id: int) -> int:
    """The lease's granted TTL in seconds."""
    ep = parse_endpoint(url.split(",")[0])
    client = aetcd.Client(host=ep.host, port=ep.port, timeout=5)
    try:
        info = await client.get_lease_info(lease_id)
        return int(info.grantedTTL)
    finally:
        await client.close()


async def until(check: Callable[[], Awaitable[bool]], timeout: float, what: str) -> float:
    """Poll ``check`` until true; the seconds it took. Fails the test after ``timeout``."""
    start = time.monotonic()
    last: Exception | None = None
    while time.monotonic() - start < timeout:
        try:
            if await check():
                return time.monotonic() - start
        except aetcd.ClientError as exc:  # etcd not reachable yet counts as "not yet"
            last = exc
        await asyncio.sleep(0.1)
    raise AssertionError(f"not within {timeout} s: {what} (last etcd error: {last})")


def sync_until(check: Callable[[], bool], timeout: float, what: str) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if check():
            return time.monotonic() - start
        time.sleep(0.1)
    raise AssertionError(f"not within {timeout} s: {what}")
