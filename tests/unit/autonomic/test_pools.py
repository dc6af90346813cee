"""Pool allocation in the store: stable per host, first address never given, no duplicates
even when two managers race."""

from __future__ import annotations

import asyncio
import ipaddress
import json

import pytest

from autonomic.pools import PoolExhausted, allocate, candidates, choose
from autonomic.store import Entry, MemoryStore
from vdsm_net.cluster.keys import Keys

KEYS = Keys()
V4 = ipaddress.ip_network("10.0.0.0/29")  # hosts .1-.6; .1 is kept
V6 = ipaddress.ip_network("fd00::/126")


def test_the_first_address_and_the_reserved_ones_are_never_candidates() -> None:
    assert [str(a) for a in candidates(V4, ["10.0.0.3"])] == [
        "10.0.0.2", "10.0.0.4", "10.0.0.5", "10.0.0.6"]
    assert choose(V4, ["10.0.0.2/29"]) == "10.0.0.3/29"
    with pytest.raises(PoolExhausted):
        choose(V4, [f"10.0.0.{i}/29" for i in range(2, 7)])


def test_a_host_keeps_its_address_and_hosts_never_share_one() -> None:
    async def go() -> None:
        store = MemoryStore()
        a = await allocate(store, KEYS, "net", "a", {"ipv4": V4, "ipv6": V6})
        b = await allocate(store, KEYS, "net", "b", {"ipv4": V4})
        assert a == {"ipv4": "10.0.0.2/29", "ipv6": "fd00::2/126"}
        assert b == {"ipv4": "10.0.0.3/29"}
        assert await allocate(store, KEYS, "net", "a", {"ipv4": V4, "ipv6": V6}) == a
        stored = await store.get(KEYS.alloc("net", "a"))
        assert stored is not None and json.loads(stored.value) == a

    asyncio.run(go())


def test_a_changed_pool_gives_a_new_address_from_it() -> None:
    async def go() -> None:
        store = MemoryStore()
        await allocate(store, KEYS, "net", "a", {"ipv4": V4})
        other = ipaddress.ip_network("10.9.0.0/24")
        assert await allocate(store, KEYS, "net", "a", {"ipv4": other}) == {
            "ipv4": "10.9.0.2/24"}

    asyncio.run(go())


class InterleavingStore(MemoryStore):
    """Every read yields to the other tasks first: two allocators read the same picture."""

    async def range(self, prefix: str) -> tuple[list[Entry], int]:
        result = await super().range(prefix)
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        return result


def test_two_managers_racing_never_give_one_address_twice() -> None:
    async def go() -> list[dict[str, str]]:
        store = InterleavingStore()
        return list(await asyncio.gather(*(
            allocate(store, KEYS, "net", f"h{i}", {"ipv4": V4}) for i in range(5))))

    got = [a["ipv4"] for a in asyncio.run(go())]
    assert sorted(got) == [f"10.0.0.{i}/29" for i in range(2, 7)]


def test_an_exhausted_pool_says_so() -> None:
    async def go() -> None:
        store = MemoryStore()
        small = ipaddress.ip_network("10.0.0.0/30")  # .1 kept, .2 given
        await allocate(store, KEYS, "net", "a", {"ipv4": small})
        with pytest.raises(PoolExhausted):
            await allocate(store, KEYS, "net", "b", {"ipv4": small})

    asyncio.run(go())
