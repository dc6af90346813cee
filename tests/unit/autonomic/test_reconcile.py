"""Reconcile decisions on a fake store, a fake clock and in-process agents (the agent's real
verb layer on the simulated kernel behind the host port)."""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import Awaitable, Callable
from typing import Any

from autonomic import machine
from autonomic.leader import Leadership, lock_key
from autonomic.reconcile import Reconciler
from autonomic.store import Put
from tests.unit.autonomic.fakes import Cluster, FakeHost, registration, wire

POLICY: dict[str, Any] = {
    "networks": {
        "vmnet": {"bonding": "bond0", "vlan": 100, "ipv4pool": "10.10.0.0/24", "required": True},
        "vm2": {"nic": "eth3", "bridged": True},
    },
    "bondings": {"bond0": {"nics": ["eth1", "eth2"], "options": "mode=4"}},
}


def run(test: Callable[[Cluster], Awaitable[None]]) -> None:
    async def go() -> None:
        cluster = Cluster()
        assert await cluster.leadership.step()
        await test(cluster)

    asyncio.run(go())


def caps(host: FakeHost) -> dict[str, Any]:
    return wire(host.api.get_network_capabilities())


def test_a_new_host_gets_the_policy_with_its_pool_address_and_is_up() -> None:
    async def t(c: Cluster) -> None:
        await c.set_policy(POLICY)
        h1, h2 = await c.add_host("h1"), await c.add_host("h2")
        await c.reconciler.pass_once()
        for host_id, host, addr in (("h1", h1, "10.10.0.2"), ("h2", h2, "10.10.0.3")):
            assert (await c.state(host_id))["state"] == "Up"
            nets = caps(host)["networks"]
            assert nets["vmnet"]["addr"] == addr and nets["vmnet"]["southbound"] == "bond0.100"
            assert nets["ovirtmgmt"]["addr"] == "192.168.50.11"  # the boot network, untouched
            assert host.pushes[0]["options"] == {"fullState": True, "connectivityCheck": True,
                                                 "connectivityTimeout": 10}
            assert host.safe_calls == 1
        assert await c.store.get(lock_key(c.keys, "h1")) is None  # the lock is released

    run(t)


def test_nothing_is_pushed_when_the_host_already_matches() -> None:
    async def t(c: Cluster) -> None:
        await c.set_policy(POLICY)
        h1 = await c.add_host("h1")
        await c.reconciler.pass_once()
        looked = h1.caps_calls
        await c.tick(61)  # the periodic resync looks again
        await c.reconciler.pass_once(["h1"])
        assert h1.caps_calls > looked and len(h1.pushes) == 1
        assert (await c.state("h1"))["state"] == "Up"

    run(t)


def test_a_reboot_gets_the_same_address_back() -> None:
    async def t(c: Cluster) -> None:
        await c.set_policy(POLICY)
        await c.add_host("h1")
        await c.add_host("h2")
        await c.reconciler.pass_once()
        fresh = await c.add_host("h1", boot_id="boot-2", started_at=2.0)  # a new, empty host
        await c.reconciler.pass_once()
        assert caps(fresh)["networks"]["vmnet"]["addr"] == "10.10.0.2"
        assert (await c.state("h1"))["bootId"] == "boot-2"

    run(t)


def test_a_policy_change_removes_a_network_but_a_used_bridge_is_kept_and_in_use() -> None:
    async def t(c: Cluster) -> None:
        await c.set_policy(POLICY)
        h1 = await c.add_host("h1")
        await c.reconciler.pass_once()
        h1.kernel.add_foreign_link("vnet0", master="vm2")  # a VM's tap on the bridge
        changed = copy.deepcopy(POLICY)
        del changed["networks"]["vm2"]
        changed["networks"]["extra"] = {"nic": "eth3", "vlan": 7, "bridged": False}
        await c.set_policy(changed)
        await c.reconciler.pass_once()
        state = await c.state("h1")
        assert (state["state"], state["inUse"]) == ("Up", ["vm2"])
        assert set(caps(h1)["networks"]) == {"ovirtmgmt", "vmnet", "vm2", "extra"}
        await c.tick(61)
        await c.reconciler.pass_once()
        assert len(h1.pushes) == 2  # a kept network is no reason to push again

    run(t)


def test_drift_is_repaired_on_the_hosts_event() -> None:
    async def t(c: Cluster) -> None:
        await c.set_policy(POLICY)
        h1 = await c.add_host("h1")
        await c.reconciler.pass_once()
        await c.reconciler.pass_once(["h1"])  # the host's event after the push: nothing to do
        h1.api.setup_networks({"vm2": {"remove": True}}, {}, {"connectivityCheck": False})
        await c.reconciler.pass_once(["h1"])  # |net|host_conn|no_id from the host
        assert "vm2" in caps(h1)["networks"] and len(h1.pushes) == 2

    run(t)


def test_maintenance_gets_nothing_and_the_change_lands_when_it_goes_active() -> None:
    async def t(c: Cluster) -> None:
        await c.set_policy(POLICY)
        h1 = await c.add_host("h1")
        await c.reconciler.pass_once()
        await c.store.put(c.keys.maintenance("h1"), b"{}")
        changed = copy.deepcopy(POLICY)
        changed["networks"]["vm2"]["mtu"] = 1400
        await c.set_policy(changed)
        await c.reconciler.pass_once()
        assert (await c.state("h1"))["state"] == "Maintenance" and len(h1.pushes) == 1
        await c.store.delete(c.keys.maintenance("h1"))
        await c.reconciler.pass_once()
        assert caps(h1)["networks"]["vm2"]["mtu"] == "1400"
        assert (await c.state("h1"))["state"] == "Up"

    run(t)


def test_a_required_network_down_is_non_operational_and_left_alone() -> None:
    async def t(c: Cluster) -> None:
        await c.set_policy(POLICY)
        h1 = await c.add_host("h1")
        await c.reconciler.pass_once()
        h1.links_down.add("bond0")
        changed = copy.deepcopy(POLICY)
        changed["networks"]["vm2"]["mtu"] = 1400
        await c.set_policy(changed)
        await c.reconciler.pass_once()
        state = await c.state("h1")
        assert state["state"] == "NonOperational" and "vmnet" in state["error"]["message"]
        assert len(h1.pushes) == 1
        h1.links_down.clear()
        await c.tick(machine.UNREACHABLE_RETRY)  # looked at again soon, not at the resync
        await c.reconciler.pass_once()
        assert (await c.state("h1"))["state"] == "Up" and len(h1.pushes) == 2

    run(t)


def test_an_unreachable_host_is_non_responsive_and_reconciled_when_back() -> None:
    async def t(c: Cluster) -> None:
        await c.set_policy(POLICY)
        h1 = await c.add_host("h1")
        h1.reachable = False
        await c.reconciler.pass_once()
        assert (await c.state("h1"))["state"] == "NonResponsive" and not h1.pushes
        h1.reachable = True
        await c.tick(machine.UNREACHABLE_RETRY)
        await c.reconciler.pass_once()
        assert (await c.state("h1"))["state"] == "Up" and len(h1.pushes) == 1

    run(t)


def test_a_lost_registration_is_non_responsive_and_its_return_reconciles() -> None:
    async def t(c: Cluster) -> None:
        await c.set_policy(POLICY)
        h1 = await c.add_host("h1")
        await c.reconciler.pass_once()
        await c.reconciler.pass_once(["h1"])  # the host's event after the push
        await c.store.delete(c.keys.host("h1"))
        await c.reconciler.pass_once()
        assert (await c.state("h1"))["state"] == "NonResponsive"
        h1.api.setup_networks({"vm2": {"remove": True}}, {}, {"connectivityCheck": False})
        await c.add_host("h1", host=h1)  # the same registration again
        await c.reconciler.pass_once()
        assert "vm2" in caps(h1)["networks"] and (await c.state("h1"))["state"] == "Up"

    run(t)


def test_busy_is_retried_later_and_an_error_is_kept_with_its_code() -> None:
    async def t(c: Cluster) -> None:
        await c.set_policy(POLICY)
        h1 = await c.add_host("h1")
        h1.busy = 1
        await c.reconciler.pass_once()
        state = await c.state("h1")
        assert (state["state"], state["error"]["code"]) == ("Applying", 40)
        await c.reconciler.pass_once()
        assert len(h1.pushes) == 1  # not before its retry time
        await c.tick(1.0)
        await c.reconciler.pass_once()
        assert (await c.state("h1"))["state"] == "Up" and len(h1.pushes) == 2
        bad = copy.deepcopy(POLICY)
        bad["networks"]["vm2"]["nic"] = "eth9"  # valid as a policy, but this host has no eth9
        await c.set_policy(bad)
        await c.reconciler.pass_once()
        state = await c.state("h1")
        assert state["state"] == "Error" and state["error"]["code"] == 23

    run(t)


def test_a_deposed_leader_pushes_nothing_and_a_held_lock_blocks_a_push() -> None:
    async def t(c: Cluster) -> None:
        await c.set_policy(POLICY)
        h1 = await c.add_host("h1")
        await c.store.put(lock_key(c.keys, "h1"), b"another manager")
        await c.reconciler.pass_once()
        assert not h1.pushes
        await c.store.delete(lock_key(c.keys, "h1"))
        await c.store.put(c.keys.leader(), b'{"id": "usurper"}')  # the leadership moved
        c.clock.advance(61)
        await c.reconciler.pass_once()
        assert not h1.pushes
        assert await c.store.txn(c.leadership.fence(), [Put("x", b"")]) is False

    run(t)


def test_a_host_whose_nics_differ_gets_its_own_names() -> None:
    async def t(c: Cluster) -> None:
        from tests.unit.autonomic.fakes import make_host
        odd = make_host(nics=("eth0", "ens1", "ens2", "eth3"))
        policy = copy.deepcopy(POLICY)
        policy["hosts"] = {"odd": {"nics": {"eth1": "ens1", "eth2": "ens2"}}}
        await c.set_policy(policy)
        await c.add_host("odd", host=odd)
        await c.reconciler.pass_once()
        assert caps(odd)["bondings"]["bond0"]["slaves"] == ["ens1", "ens2"]

    run(t)


def test_a_slow_host_holds_up_no_other_and_is_visited_again_after_its_visit() -> None:
    async def t(c: Cluster) -> None:
        await c.set_policy(POLICY)
        slow, fast = await c.add_host("slow"), await c.add_host("fast")
        slow.gate = asyncio.Event()
        await c.reconciler.pass_once(wait=False)
        for _ in range(50):
            await asyncio.sleep(0)
        assert (await c.state("fast"))["state"] == "Up"
        assert (await c.state("slow"))["state"] == "Applying"
        await c.reconciler.pass_once(["slow"], wait=False)  # an event while it is visited
        assert len(slow.pushes) == 1
        slow.gate.set()
        await c.reconciler.drain()
        assert (await c.state("slow"))["state"] == "Up"
        looked = slow.caps_calls
        await c.reconciler.pass_once()
        assert slow.caps_calls == looked + 1  # the event seen during the visit is not lost
        assert len(fast.pushes) == 1

    run(t)


def test_a_host_that_answers_done_but_never_matches_is_not_pushed_in_a_loop() -> None:
    async def t(c: Cluster) -> None:
        await c.set_policy(POLICY)
        h1 = await c.add_host("h1")
        h1.hidden.add("vm2")  # e.g. a report the comparison cannot match
        await c.reconciler.pass_once()
        for _ in range(3):
            await c.reconciler.pass_once(["h1"])
        state = await c.state("h1")
        assert len(h1.pushes) == 1 and state["state"] == "Error"
        assert state["error"]["code"] == machine.ERR_NOT_CONVERGED
        assert "vm2: missing" in state["error"]["message"]
        await c.tick(5)
        await c.reconciler.pass_once()
        assert len(h1.pushes) == 2

    run(t)


def test_parallelism_is_bounded() -> None:
    async def go() -> None:
        c = Cluster(parallel=1)
        assert await c.leadership.step()
        await c.set_policy(POLICY)
        first, second = await c.add_host("a"), await c.add_host("b")
        first.gate = asyncio.Event()
        await c.reconciler.pass_once(wait=False)
        for _ in range(50):
            await asyncio.sleep(0)
        assert (len(first.pushes), second.caps_calls) == (1, 0)  # b waits for a's slot
        first.gate.set()
        await c.reconciler.drain()
        assert (await c.state("b"))["state"] == "Up"

    asyncio.run(go())


def test_a_registration_of_the_wrong_shape_is_refused_by_the_host_or_ignored() -> None:
    async def t(c: Cluster) -> None:
        await c.set_policy(POLICY)
        await c.add_host("ok")
        odd = await c.add_host("odd")
        doc = json.loads(registration("odd"))
        doc["mgmt"]["attrs"] = {"nic": "eth0", "mtu": {"not": "a number"}}
        await c.store.put(c.keys.host("odd"), json.dumps(doc).encode())
        await c.reconciler.pass_once()
        state = await c.state("odd")
        assert state["state"] == "Error" and state["error"]["code"] == 21
        assert set(caps(odd)["networks"]) == {"ovirtmgmt"}  # the host refused: nothing changed
        assert (await c.state("ok"))["state"] == "Up"
        doc["mgmt"] = ["not", "an", "object"]
        await c.store.put(c.keys.host("odd"), json.dumps(doc).encode())
        await c.reconciler.pass_once()  # unreadable: ignored as not registered
        assert (await c.state("odd"))["state"] == "NonResponsive"

    run(t)


def test_a_standby_manager_pushes_and_writes_nothing() -> None:
    async def t(c: Cluster) -> None:
        standby = Leadership(c.store, c.keys, "m2", 5, c.clock)
        assert not await standby.step()
        other = Reconciler(c.store, c.keys, c.hosts, standby, c.clock)
        await c.set_policy(POLICY)
        h1 = await c.add_host("h1")
        await other.pass_once()
        assert not h1.pushes and await c.store.get(c.keys.state("h1")) is None
        await c.reconciler.pass_once()
        assert len(h1.pushes) == 1

    run(t)


def test_a_lock_left_by_the_old_leader_is_tried_again_on_the_next_pass() -> None:
    async def t(c: Cluster) -> None:
        await c.set_policy(POLICY)
        h1 = await c.add_host("h1")
        await c.store.put(lock_key(c.keys, "h1"), b"the old leader")
        await c.reconciler.pass_once()
        assert not h1.pushes
        await c.store.delete(lock_key(c.keys, "h1"))  # its lease expired
        await c.reconciler.pass_once()  # no change in etcd, no resync due: the retry alone
        assert len(h1.pushes) == 1

    run(t)


def test_a_push_that_fails_unexpectedly_leaves_no_lock_and_is_pushed_again() -> None:
    async def t(c: Cluster) -> None:
        await c.set_policy(POLICY)
        h1 = await c.add_host("h1")
        h1.crash = 1
        await c.reconciler.pass_once()
        assert len(h1.pushes) == 1
        assert await c.store.get(lock_key(c.keys, "h1")) is None  # released, not left to block
        await c.tick(61)  # the resync, the leader alive
        await c.reconciler.pass_once()
        assert len(h1.pushes) == 2 and (await c.state("h1"))["state"] == "Up"

    run(t)


def test_a_refused_lock_with_the_leader_key_gone_stands_the_leader_down() -> None:
    async def t(c: Cluster) -> None:
        await c.set_policy(POLICY)
        h1 = await c.add_host("h1")
        await c.store.put(c.keys.leader(), b'{"id": "usurper"}')  # another leads now
        assert c.leadership.leading  # not noticed by a keepalive yet
        await c.reconciler.pass_once()
        assert not h1.pushes and not c.leadership.leading  # the fenced write told it

    run(t)
