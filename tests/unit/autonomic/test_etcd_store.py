"""The Store port on a real etcd: the transaction conditions the manager relies on (the range
compare guards allocations), leases, waiting for a change, and moving past a dead member."""

from __future__ import annotations

import asyncio
import ipaddress
import signal
from collections.abc import Awaitable, Callable

from autonomic.etcd import EtcdStore
from autonomic.pools import allocate
from autonomic.store import Absent, Delete, Put, StoreError, Unchanged, ValueIs
from tests.cluster.etcd_server import EtcdCluster, free_port
from vdsm_net.cluster.endpoints import CALL_TIMEOUT
from vdsm_net.cluster.keys import Keys


def run(url: str, test: Callable[[EtcdStore], Awaitable[None]]) -> None:
    async def go() -> None:
        store = EtcdStore(url)
        try:
            await test(store)
        finally:
            await store.close()

    asyncio.run(go())


def test_conditions_hold_as_etcd_says(etcd: EtcdCluster) -> None:
    async def t(s: EtcdStore) -> None:
        assert await s.txn([Absent("/t/a")], [Put("/t/a", b"1")])
        assert not await s.txn([Absent("/t/a")], [Put("/t/a", b"2")])
        assert await s.txn([ValueIs("/t/a", b"1")], [Put("/t/b", b"x")])
        assert not await s.txn([ValueIs("/t/a", b"2")], [Delete("/t/b")])
        entries, rev = await s.range("/t/")
        assert [e.key for e in entries] == ["/t/a", "/t/b"]
        await s.put("/u/other", b"outside the prefix")
        assert await s.txn([Unchanged("/t/", rev)], [])
        await s.put("/t/c", b"inside")
        assert not await s.txn([Unchanged("/t/", rev)], [Put("/t/d", b"")])
        assert await s.get("/t/d") is None
        await s.delete("/t/a")
        assert await s.get("/t/a") is None

    run(etcd.url, t)


def test_a_lease_takes_its_keys_and_a_revoked_lease_cannot_be_kept_alive(
    etcd: EtcdCluster,
) -> None:
    async def t(s: EtcdStore) -> None:
        lease = await s.grant(30)
        await s.put("/l/k", b"v", lease)
        assert await s.keepalive(lease)
        entry = await s.get("/l/k")
        assert entry is not None and entry.lease == lease
        await s.revoke(lease)
        assert await s.get("/l/k") is None
        assert not await s.keepalive(lease)

    run(etcd.url, t)


def test_wait_returns_on_a_wanted_change_only(etcd: EtcdCluster) -> None:
    async def t(s: EtcdStore) -> None:
        _, rev = await s.range("/w/")
        await s.put("/w/ignored", b"")
        seen = await s.wait(rev, lambda k: k == "/w/wanted", 0.5)  # times out
        assert seen > rev

        async def later() -> None:
            await asyncio.sleep(0.2)
            await s.put("/w/wanted", b"")

        writer = asyncio.create_task(later())
        got = await s.wait(seen, lambda k: k == "/w/wanted", 20)
        await writer
        entry = await s.get("/w/wanted")
        assert entry is not None and got == entry.mod_revision

    run(etcd.url, t)


def test_racing_allocations_on_etcd_never_share_an_address(etcd: EtcdCluster) -> None:
    async def go() -> list[str]:
        stores = [EtcdStore(etcd.url) for _ in range(4)]  # four managers, four connections
        pool = {"ipv4": ipaddress.ip_network("10.5.0.0/24")}
        try:
            got = await asyncio.gather(*(
                allocate(stores[i % 4], Keys(), "net", f"h{i}", pool) for i in range(12)))
        finally:
            for store in stores:
                await store.close()
        return [a["ipv4"] for a in got]

    addresses = asyncio.run(go())
    assert sorted(addresses, key=lambda a: int(a.split(".")[3].split("/")[0])) == [
        f"10.5.0.{i}/24" for i in range(2, 14)]


def test_a_dead_first_member_is_passed_over(etcd: EtcdCluster) -> None:
    async def t(s: EtcdStore) -> None:
        await s.put("/d/k", b"v")
        entry = await s.get("/d/k")
        assert entry is not None and entry.value == b"v"

    run(f"http://127.0.0.1:{free_port()},{etcd.url}", t)


def test_a_frozen_member_is_passed_over_within_the_call_timeout(etcd3: EtcdCluster) -> None:
    async def t(s: EtcdStore) -> None:
        await s.put("/f/k", b"1")
        frozen = etcd3.procs[0]
        assert frozen is not None
        frozen.send_signal(signal.SIGSTOP)  # the member the store talks to stops answering
        try:
            await asyncio.wait_for(s.put("/f/k", b"2"), 3 * CALL_TIMEOUT + 10)
            entry = await s.get("/f/k")
            assert entry is not None and entry.value == b"2"
        finally:
            frozen.send_signal(signal.SIGCONT)

    run(etcd3.url, t)


class _WedgedWatch:
    """aetcd's watcher when its cancel is queued behind a stream that no longer reads."""

    def __init__(self) -> None:
        self.cancels = 0

    def __aiter__(self) -> _WedgedWatch:
        return self

    async def __anext__(self) -> object:
        await asyncio.Event().wait()  # no event ever comes
        raise StopAsyncIteration

    async def cancel(self) -> None:
        self.cancels += 1
        await asyncio.Event().wait()  # and the cancel never returns


class _WedgedClient:
    def __init__(self) -> None:
        self.watches: list[_WedgedWatch] = []

    async def watch(self, key: bytes, **_: object) -> _WedgedWatch:
        self.watches.append(_WedgedWatch())
        return self.watches[-1]

    async def close(self) -> None:
        await asyncio.Event().wait()  # its close wedges on the same lock


def test_a_wedged_watch_is_abandoned_with_its_client_and_never_holds_the_caller() -> None:
    async def t() -> None:
        store = EtcdStore("http://127.0.0.1:1", timeout=1)
        wedged = _WedgedClient()
        store._client = wedged
        loop = asyncio.get_running_loop()
        start = loop.time()
        assert await store.wait(7, lambda _k: True, 0.2) == 7  # the timeout: nothing seen
        assert loop.time() - start < 1  # the caller is not held by the wedged cancel
        await asyncio.sleep(1.5)  # the call timeout: then the wedged client is given up
        assert wedged.watches[0].cancels == 1 and store._client is None
        store._client = wedged
        waiting = asyncio.ensure_future(store.wait(7, lambda _k: True, 60))
        await asyncio.sleep(0.1)
        waiting.cancel()  # the caller gives up first (the manager's loop woke for an event)
        done, _ = await asyncio.wait({waiting}, timeout=0.5)
        assert waiting in done and waiting.cancelled()
        await asyncio.sleep(1.5)
        assert wedged.watches[1].cancels == 1 and store._client is None

    asyncio.run(t())


def test_a_call_that_never_answers_is_given_up_as_unreachable() -> None:
    class Silent(_WedgedClient):
        async def get(self, key: bytes) -> object:
            await asyncio.Event().wait()  # a member that accepted the call and went silent
            return None

    async def t() -> None:
        store = EtcdStore("http://127.0.0.1:1", timeout=1)
        store._client = Silent()
        loop = asyncio.get_running_loop()
        start = loop.time()
        try:
            await store.get("/k")
        except StoreError as exc:
            assert "no etcd member reachable" in str(exc)
        else:
            raise AssertionError("a silent member answered")
        assert loop.time() - start < 10 and not isinstance(store._client, Silent)

    asyncio.run(t())


def test_a_call_cancelled_by_its_closed_channel_is_an_unreachable_member_not_a_cancel() -> None:
    class Closed(_WedgedClient):
        async def get(self, key: bytes) -> object:
            raise asyncio.CancelledError  # what gRPC does to the calls of a closed channel

    async def t() -> None:
        store = EtcdStore("http://127.0.0.1:1", timeout=1)
        store._client = Closed()
        try:
            await store.get("/k")
        except StoreError as exc:  # the caller's task goes on; it was not the one cancelled
            assert "no etcd member reachable" in str(exc)
        else:
            raise AssertionError("a closed channel answered")
        assert asyncio.current_task() is not None
        assert asyncio.current_task().cancelling() == 0  # type: ignore[union-attr]

    asyncio.run(t())
