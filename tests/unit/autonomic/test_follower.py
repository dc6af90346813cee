"""Engine-follower mode on a fake store and a fake clock, with in-process agents: no policy is
pushed; a rebooted host gets its last safe configuration after the grace, unless an engine
applied something first."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from autonomic.follower import (
    ENGINE_APPLIED,
    NO_SAFE,
    RESTORED,
    WAITING,
    EngineFacts,
    SafeConfig,
    decide,
)
from autonomic.leader import lock_key
from autonomic.policy import PolicyError, validate_policy
from tests.unit.autonomic.fakes import MGMT_ATTRS, Cluster, FakeHost, make_host, wire

ENGINE_POLICY = {"master": "engine", "restoreGrace": 10}
SAFE_NETWORKS = {"ovirtmgmt": MGMT_ATTRS, "vm2": {"nic": "eth3", "bridged": True, "mtu": 1400}}
SAFE_BONDINGS = {"bond0": {"nics": ["eth1", "eth2"], "options": "mode=4"}}


def run(test: Callable[[Cluster], Awaitable[None]]) -> None:
    async def go() -> None:
        cluster = Cluster()
        assert await cluster.leadership.step()
        await cluster.set_policy(ENGINE_POLICY)
        await test(cluster)

    asyncio.run(go())


async def save(c: Cluster, host_id: str, boot_id: str) -> None:
    """What the agent writes when an engine commits during boot ``boot_id``."""
    doc = {"networks": SAFE_NETWORKS, "bondings": SAFE_BONDINGS, "bootId": boot_id,
           "savedAt": c.clock.now()}
    await c.store.put(c.keys.safe(host_id), json.dumps(doc).encode())


async def engine_applied(c: Cluster, host_id: str, boot_id: str) -> None:
    doc = {"bootId": boot_id, "appliedAt": c.clock.now(), "flowId": "engine-1"}
    await c.store.put(c.keys.follow(host_id), json.dumps(doc).encode())


async def follower(c: Cluster, host_id: str) -> dict[str, Any]:
    entry = await c.store.get(c.keys.restore(host_id))
    assert entry is not None, f"no restore record for {host_id}"
    doc: dict[str, Any] = json.loads(entry.value)
    return doc


async def rebooted(c: Cluster, host_id: str, boot_id: str) -> FakeHost:
    """The host comes back with only its boot network, under a new boot id."""
    return await c.add_host(host_id, boot_id=boot_id, started_at=2.0, host=make_host())


def test_engine_mode_never_pushes_the_policy() -> None:
    async def t(c: Cluster) -> None:
        h1 = await c.add_host("h1")
        await c.reconciler.pass_once()
        await c.tick(61)  # the periodic resync, and a grace long gone
        await c.reconciler.pass_once(["h1"])
        assert h1.pushes == [] and h1.safe_calls == 0
        assert (await follower(c, "h1"))["state"] == NO_SAFE
        assert await c.store.get(c.keys.state("h1")) is None  # no policy state either

    run(t)


def test_a_rebooted_host_gets_its_safe_config_after_the_grace() -> None:
    async def t(c: Cluster) -> None:
        await save(c, "h1", "boot-1")
        await c.add_host("h1", boot_id="boot-1")
        await c.reconciler.pass_once()
        assert (await follower(c, "h1"))["state"] == ENGINE_APPLIED  # as the engine left it
        host = await rebooted(c, "h1", "boot-2")
        _, due = await c.reconciler.pass_once()
        record = await follower(c, "h1")
        assert (record["state"], record["bootId"], host.pushes) == (WAITING, "boot-2", [])
        assert due == pytest.approx(c.clock.now() + 10)  # the next pass comes at the grace's end
        await c.tick(9)
        await c.reconciler.pass_once()
        assert host.pushes == []  # still within the grace
        await c.tick(1)
        await c.reconciler.pass_once()
        assert [p["options"]["fullState"] for p in host.pushes] == [True]
        assert host.safe_calls == 1
        nets = wire(host.api.get_network_capabilities())
        assert nets["networks"]["vm2"]["mtu"] == "1400" and nets["bondings"]["bond0"]["slaves"]
        assert (await follower(c, "h1"))["state"] == RESTORED
        assert await c.store.get(lock_key(c.keys, "h1")) is None
        await c.tick(61)
        await c.reconciler.pass_once(["h1"])
        assert len(host.pushes) == 1  # restored once per boot

    run(t)


def test_an_engine_that_applies_within_the_grace_keeps_the_manager_out() -> None:
    async def t(c: Cluster) -> None:
        await save(c, "h1", "boot-1")
        host = await rebooted(c, "h1", "boot-2")
        await c.reconciler.pass_once()
        assert (await follower(c, "h1"))["state"] == WAITING
        await c.tick(4)
        await engine_applied(c, "h1", "boot-2")
        await c.tick(20)
        await c.reconciler.pass_once(["h1"])
        assert host.pushes == []
        assert (await follower(c, "h1"))["state"] == ENGINE_APPLIED

    run(t)


def test_a_failed_restore_is_an_error_and_tried_again() -> None:
    async def t(c: Cluster) -> None:
        await save(c, "h1", "boot-1")
        host = await rebooted(c, "h1", "boot-2")
        host.reachable = False
        await c.reconciler.pass_once()
        await c.tick(10)
        await c.reconciler.pass_once()
        record = await follower(c, "h1")
        assert record["state"] == "error" and record["error"]["code"] == 1002
        host.reachable = True
        await c.tick(10)
        await c.reconciler.pass_once()
        assert (await follower(c, "h1"))["state"] == RESTORED and len(host.pushes) == 1

    run(t)


def test_decide_counts_only_this_boot() -> None:
    safe = SafeConfig(SAFE_NETWORKS, {}, "boot-1")
    first, restore = decide(None, "boot-2", EngineFacts(safe, "boot-1"), 100.0, 10.0)
    assert (first.state, first.since, first.retry_at, restore) == (WAITING, 100.0, 110.0, False)
    later, restore = decide(first, "boot-2", EngineFacts(safe, "boot-1"), 110.0, 10.0)
    assert (later.state, restore) == (WAITING, True)
    same, restore = decide(None, "boot-1", EngineFacts(safe), 100.0, 10.0)
    assert (same.state, restore) == (ENGINE_APPLIED, False)
    none, restore = decide(None, "boot-2", EngineFacts(), 200.0, 0.0)
    assert (none.state, restore) == (NO_SAFE, False)


@pytest.mark.parametrize(("doc", "why"), [
    ({"master": "vdsm"}, "master must be one of manager, engine"),
    ({"master": "engine", "networks": {"x": {"nic": "eth1"}}}, "names no networks"),
    ({"master": "engine", "restoreGrace": -1}, "restoreGrace must be"),
    ({"master": "engine", "restoreGrace": True}, "restoreGrace must be"),
])
def test_bad_follower_policies_are_refused(doc: dict[str, Any], why: str) -> None:
    with pytest.raises(PolicyError, match=why) as info:
        validate_policy(doc)
    assert info.value.code == 21


def test_a_follower_policy_keeps_its_keys() -> None:
    policy = validate_policy({"master": "engine", "restoreGrace": 3})
    assert policy.engine_master and policy.restore_grace == 3.0
    assert policy.to_json() == {"networks": {}, "bondings": {}, "master": "engine",
                                "restoreGrace": 3.0}
    assert not validate_policy({}).engine_master
