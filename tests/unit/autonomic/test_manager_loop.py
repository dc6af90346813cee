"""The run loop in-process: two managers on one store (wall clock), in-process agents. One leads
and keeps leading; the hosts converge; a policy change and a host event are acted on; a clean
stop hands the leadership over at once."""

from __future__ import annotations

import asyncio
import copy
import json
import time
from collections.abc import Callable

from autonomic.manager import Manager
from autonomic.store import MemoryStore, WallClock
from tests.unit.autonomic.fakes import FakeHosts, make_host, registration
from tests.unit.autonomic.test_reconcile import POLICY
from vdsm_net.cluster.keys import Keys

WAIT = 20.0
TTL = 2


async def until(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not check():
        assert time.monotonic() < deadline, f"not within {WAIT} s: {what}"
        await asyncio.sleep(0.02)


def test_two_run_loops_one_leader_convergence_and_a_clean_handover() -> None:
    async def go() -> None:
        store, keys, hosts = MemoryStore(WallClock()), Keys(), FakeHosts()
        managers = {n: Manager(store, keys, hosts, n, TTL, WallClock(), resync=300)
                    for n in ("m1", "m2")}
        tasks = {n: asyncio.create_task(m.run()) for n, m in managers.items()}
        await store.put(keys.policy(), json.dumps(POLICY).encode())
        hosts.hosts["h1"] = make_host()
        await store.put(keys.host("h1"), registration("h1"))
        h1 = hosts.hosts["h1"]
        await until(lambda: "vmnet" in h1.api.get_network_capabilities()["networks"], "join")
        leaders = [n for n, m in managers.items() if m.leadership.leading]
        assert len(leaders) == 1
        first = leaders[0]
        await asyncio.sleep(3 * TTL)  # kept alive: nobody takes over a live leader
        assert [n for n, m in managers.items() if m.leadership.leading] == [first]

        changed = copy.deepcopy(POLICY)
        changed["networks"]["vm2"]["mtu"] = 1400
        await store.put(keys.policy(), json.dumps(changed).encode())
        await until(lambda: h1.api.get_network_capabilities()["networks"]["vm2"]["mtu"]
                    == "1400", "the policy change")

        h1.api.setup_networks({"vm2": {"remove": True}}, {}, {"connectivityCheck": False})
        managers[first].host_event("h1")  # what the wire adapter does on |net|host_conn|no_id
        await until(lambda: "vm2" in h1.api.get_network_capabilities()["networks"], "drift")

        managers[first].stopping.set()
        await tasks[first]
        other = "m2" if first == "m1" else "m1"
        await until(lambda: managers[other].leadership.leading, "the handover")
        changed["networks"]["vm2"]["mtu"] = 1300
        await store.put(keys.policy(), json.dumps(changed).encode())
        await until(lambda: h1.api.get_network_capabilities()["networks"]["vm2"]["mtu"]
                    == "1300", "a change after the handover")
        managers[other].stopping.set()
        await tasks[other]
        assert await store.get(keys.leader()) is None  # resigned: the key went with the lease

    asyncio.run(go())
