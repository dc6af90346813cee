"""Leader election on the fake store and a fake clock."""

from __future__ import annotations

import asyncio

from autonomic.leader import Leadership, leader_id
from autonomic.store import FakeClock, MemoryStore, Put
from vdsm_net.cluster.keys import Keys

KEYS = Keys()


def _pair() -> tuple[FakeClock, MemoryStore, Leadership, Leadership]:
    clock = FakeClock()
    store = MemoryStore(clock)
    return (clock, store, Leadership(store, KEYS, "a", 6, clock),
            Leadership(store, KEYS, "b", 6, clock))


async def _leader(store: MemoryStore) -> str | None:
    entry = await store.get(KEYS.leader())
    return leader_id(entry.value if entry else None)


def test_exactly_one_leads_and_keeps_leading_while_alive() -> None:
    async def go() -> None:
        clock, store, a, b = _pair()
        assert await a.step() and not await b.step()
        for _ in range(10):
            clock.advance(2)
            assert await a.step() and not await b.step()
        assert await _leader(store) == "a"

    asyncio.run(go())


def test_a_dead_leader_is_replaced_within_the_ttl_and_its_writes_are_fenced() -> None:
    async def go() -> None:
        clock, store, a, b = _pair()
        await a.step()
        await b.step()
        old_fence = a.fence()
        clock.advance(5.9)  # a is gone: no more keepalives
        assert not await b.step()
        clock.advance(0.2)  # past a's TTL
        assert await b.step()
        assert await _leader(store) == "b"
        assert not await store.txn(old_fence, [Put(KEYS.state("h"), b"stale")])
        assert await store.txn(b.fence(), [Put(KEYS.state("h"), b"ok")])
        assert not await a.step()  # a wakes up: its lease is gone, b leads
        assert a.fence() != b.fence()

    asyncio.run(go())


def test_resigning_hands_over_at_once() -> None:
    async def go() -> None:
        _clock, store, a, b = _pair()
        await a.step()
        await a.resign()
        assert await b.step()
        assert await _leader(store) == "b"

    asyncio.run(go())


def test_a_leader_that_cannot_reach_the_store_stands_down_before_its_lease_can_lapse() -> None:
    async def go() -> None:
        clock, store, a, _b = _pair()
        await a.step()
        store.fail = True
        clock.advance(2)
        assert await a.step()  # a short outage: the lease still has time
        clock.advance(1.5)
        assert not await a.step()  # half the TTL without an answer
        store.fail = False
        assert not await store.txn(a.fence(), [])  # standing down: its writes are refused
        assert await a.step()  # etcd is back before the lease lapsed: the key is still a's
        assert await _leader(store) == "a"

    asyncio.run(go())
