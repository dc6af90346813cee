"""The agent's half of engine-follower mode: an engine's commit (setSafeNetworkConfig or
commitOnSuccess) writes ``safe/<hostid>``, its setupNetworks ``follow/<hostid>``; a plain setup
writes no safe config, the manager's flow id writes nothing, and a lost etcd never fails the
verb."""

from __future__ import annotations

import asyncio
import logging
import signal
from pathlib import Path
from typing import Any

import pytest

from rpc.jsonrpc import CallContext
from tests.cluster.etcd_server import EtcdCluster, free_port
from tests.unit.cluster.agents import CMDLINE, WAIT, Starter
from tests.unit.cluster.cluster_helpers import etcd_get, sync_until
from vdsm_net.backends.memory.kernel import MemoryKernel
from vdsm_net.cluster.endpoints import Endpoint
from vdsm_net.cluster.follow import FollowWriter
from vdsm_net.cluster.keys import MANAGER_FLOW_PREFIX, Keys
from vdsm_net.engine.engine import Engine
from vdsm_net.verbs.api import HostApi

VM = {"vmnet": {"nic": "eth1", "bridged": True, "mtu": 1400}}
NO_CHECK = {"connectivityCheck": False}
ENGINE = CallContext(flow_id="engine-flow-1")
MANAGER = CallContext(flow_id=f"{MANAGER_FLOW_PREFIX}x")


class FlakyEtcd:
    """A put-only etcd in memory that refuses the first ``failures`` puts."""

    def __init__(self, failures: int = 0) -> None:
        self.data: dict[str, bytes] = {}
        self.failures = failures
        self.clients = 0

    def __call__(self, _endpoint: Endpoint) -> FlakyEtcd:
        self.clients += 1
        return self

    async def put(self, key: bytes, value: bytes) -> None:
        if self.failures:
            self.failures -= 1
            raise OSError("connection refused")
        self.data[key.decode()] = value

    async def close(self) -> None:
        return None


async def with_api(etcd: FlakyEtcd, work: Any) -> FollowWriter:
    writer = FollowWriter([Endpoint("127.0.0.1", 1)], Keys(), "h1", "boot-1", etcd)
    task = writer.start()
    api = HostApi(Engine(MemoryKernel(nics=["eth0", "eth1"])), follow=writer)
    await asyncio.get_running_loop().run_in_executor(None, work, api)
    for _ in range(200):  # the writer's retries, a capped backoff
        if not writer._pending:
            break
        await asyncio.sleep(0.05)
    await writer.stop(task)
    return writer


def test_only_the_engines_commits_write_a_safe_config() -> None:
    etcd = FlakyEtcd()

    def plain(api: HostApi) -> None:
        api.setup_networks_call(MANAGER, VM, {}, {**NO_CHECK, "commitOnSuccess": True})
        api.set_safe_network_config_call(MANAGER)
        assert api.setup_networks_call(ENGINE, VM, {}, NO_CHECK)["code"] == 0

    asyncio.run(with_api(etcd, plain))
    assert set(etcd.data) == {"/vdsm-net/follow/h1"}  # applied, never made safe
    assert b'"flowId": "engine-flow-1"' in etcd.data["/vdsm-net/follow/h1"]

    def commit(api: HostApi) -> None:
        api.setup_networks_call(ENGINE, VM, {}, {**NO_CHECK, "commitOnSuccess": True})

    asyncio.run(with_api(etcd := FlakyEtcd(), commit))
    assert b'"mtu": 1400' in etcd.data["/vdsm-net/safe/h1"]

    def set_safe(api: HostApi) -> None:
        api.setup_networks(VM, {}, NO_CHECK)  # in-process: no flow id, an engine's call
        api.set_safe_network_config_call(ENGINE)

    asyncio.run(with_api(etcd := FlakyEtcd(), set_safe))
    assert b'"bootId": "boot-1"' in etcd.data["/vdsm-net/safe/h1"]


def test_an_unreachable_etcd_never_fails_the_verb_and_is_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    etcd = FlakyEtcd(failures=4)

    def commit(api: HostApi) -> None:
        done = api.setup_networks_call(ENGINE, VM, {}, {**NO_CHECK, "commitOnSuccess": True})
        assert done == {"code": 0, "message": "Done"}

    with caplog.at_level(logging.INFO, logger="vdsm-netd.cluster"):
        writer = asyncio.run(with_api(etcd, commit))
    warnings = [r for r in caplog.records if "cannot write the engine's" in r.getMessage()]
    assert len(warnings) == 1 and not writer.failing
    assert "/vdsm-net/safe/h1" in etcd.data and etcd.clients >= 2  # a fresh client each time


def test_the_agent_writes_the_engines_safe_config_to_etcd(
    etcd: EtcdCluster, start: Starter, tmp_path: Path,
) -> None:
    agent, port = start(CMDLINE, "--cluster", etcd.url, "--host-id", "n1", "--boot-id", "b-1")
    agent.wait_log("cluster registration registered")
    with start.client(port) as client:
        client.call("Host.setupNetworks", {"networks": VM, "bondings": {}, "options": NO_CHECK},
                    flow_id="engine-42")
        sync_until(lambda: asyncio.run(etcd_get(etcd.url, "/vdsm-net/follow/n1"))[0]
                   is not None, WAIT, "follow written")
        assert asyncio.run(etcd_get(etcd.url, "/vdsm-net/safe/n1"))[0] is None
        client.call("Host.setSafeNetworkConfig", {}, flow_id="engine-43")
        sync_until(lambda: asyncio.run(etcd_get(etcd.url, "/vdsm-net/safe/n1"))[0]
                   is not None, WAIT, "safe written")
    follow, lease = asyncio.run(etcd_get(etcd.url, "/vdsm-net/follow/n1"))
    safe, safe_lease = asyncio.run(etcd_get(etcd.url, "/vdsm-net/safe/n1"))
    assert follow is not None and safe is not None
    assert (follow["bootId"], follow["flowId"], lease) == ("b-1", "engine-42", 0)
    assert (safe["bootId"], safe_lease) == ("b-1", 0)  # no lease: it outlives the boot
    assert safe["networks"]["vmnet"]["mtu"] == 1400 and safe["networks"]["vmnet"]["nic"] == "eth1"
    assert safe["networks"]["ovirtmgmt"]["ipaddr"] == "192.0.2.10"  # the whole host
    record, _ = asyncio.run(etcd_get(etcd.url, "/vdsm-net/hosts/n1"))
    assert record is not None and record["bootId"] == "b-1"
    assert agent.stop(signal.SIGTERM) == 0
    assert "Traceback" not in agent.log()


def test_an_engine_commit_while_etcd_is_away_answers_done(start: Starter) -> None:
    agent, port = start(CMDLINE, "--cluster", f"127.0.0.1:{free_port()}", "--host-id", "n3")
    agent.wait_log("cluster registration unreachable")
    with start.client(port) as client:
        done = client.call("Host.setupNetworks", {"networks": VM, "bondings": {},
                                                  "options": {**NO_CHECK,
                                                              "commitOnSuccess": True}})
    assert done["code"] == 0
    agent.wait_log("retrying in the background")
    assert agent.log().count("cannot write the engine's configuration") == 1
