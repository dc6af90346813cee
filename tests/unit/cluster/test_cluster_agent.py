"""vdsm-netd as a process (simulated kernel, loopback, no root) booted from a dracut command
line file and registering in a real etcd."""

from __future__ import annotations

import asyncio
import signal

import pytest

from tests.cluster.etcd_server import EtcdCluster, free_port
from tests.unit.cluster.agents import CMDLINE, WAIT, Starter
from tests.unit.cluster.cluster_helpers import etcd_get, sync_until
from vdsm_net.cluster.identity import boot_id


def host_key(url: str) -> str | None:
    async def find() -> str | None:
        from vdsm_net.cluster.endpoints import parse_endpoint
        from vdsm_net.cluster.etcd import make_client

        client = make_client(parse_endpoint(url))
        try:
            keys = [kv.key.decode() for kv in await client.get_prefix(b"/vdsm-net/hosts/")]
        finally:
            await client.close()
        return keys[0] if keys else None

    return asyncio.run(find())


def test_registers_from_the_command_line_and_deregisters_on_sigterm(
    etcd: EtcdCluster, start: Starter,
) -> None:
    agent, port = start(f"{CMDLINE} vdsm_net.cluster={etcd.url}")
    agent.wait_log("cluster registration registered")
    key = host_key(etcd.url)
    assert key is not None
    record, lease = asyncio.run(etcd_get(etcd.url, key))
    assert record is not None and lease != 0
    with start.client(port) as client:
        caps = client.call("Host.getCapabilities", {})
    assert key == f"/vdsm-net/hosts/{caps['uuid']}"
    assert record["id"] == caps["uuid"]
    assert record["address"] == f"192.0.2.10:{port}"  # the management address, listen port
    assert record["bootId"] == boot_id()
    assert record["mgmt"] == {
        "network": "ovirtmgmt", "bondings": {},
        "attrs": {"bootproto": "none", "defaultRoute": True, "bridged": True, "nic": "eth0",
                  "ipaddr": "192.0.2.10", "netmask": "255.255.255.0", "gateway": "192.0.2.1"}}
    assert sorted(record["nics"]) == ["eth0", "eth1", "eth2"]
    assert set(record["nics"]["eth0"]) == {"mac", "permMac", "speed"}
    assert agent.stop() == 0
    assert asyncio.run(etcd_get(etcd.url, key))[0] is None  # revoked, not left to expire
    assert "Traceback" not in agent.log()


def test_sigkill_leaves_the_key_to_its_ttl(etcd: EtcdCluster, start: Starter) -> None:
    agent, _port = start(CMDLINE, "--cluster", etcd.url, "--cluster-ttl", "2",
                         "--host-id", "node-1", "--advertise", "agent.example:9999")
    agent.wait_log("cluster registration registered")
    record, _ = asyncio.run(etcd_get(etcd.url, "/vdsm-net/hosts/node-1"))
    assert record is not None and record["address"] == "agent.example:9999"
    agent.stop(signal.SIGKILL)
    sync_until(lambda: asyncio.run(etcd_get(etcd.url, "/vdsm-net/hosts/node-1"))[0] is None,
               WAIT, "the key gone with the lease")


def test_verbs_are_served_while_etcd_is_unreachable(start: Starter) -> None:
    agent, port = start(CMDLINE, "--cluster", f"127.0.0.1:{free_port()}", "--host-id", "n2")
    agent.wait_log("cluster registration unreachable")
    with start.client(port) as client:
        client.call("Host.ping2", {})  # raises on an error answer
        caps = client.call("Host.getCapabilities", {})
    assert caps["uuid"] == "n2"
    assert "ovirtmgmt" in caps["networks"]
    assert agent.log().count("cluster registration unreachable") == 1
    assert agent.stop() == 0


@pytest.mark.parametrize(("cmdline", "extra", "message"), [
    ("ip=eth0:bogus", [], "kernel command line {cmdfile}: ip=eth0:bogus: unknown method 'bogus'"),
    ("ip=192.0.2.10::192.0.2.1:24::eth9:none", [],
     "kernel command line {cmdfile}: error "),
    (CMDLINE, ["--cluster", "https://10.0.0.1:2379"], "only http:// is supported"),
    (CMDLINE, ["--cluster", "h:1", "--advertise", "[::]:54321"], "a wildcard address"),
    (CMDLINE, ["--cluster", "h:1", "--advertise", "nohost"], "--advertise wants HOST:PORT"),
    (CMDLINE, ["--cluster", "h:1", "--host-id", "a/b"], "no '/' in a host id"),
])
def test_bad_boot_information_stops_the_agent_before_anything(
    start: Starter, cmdline: str, extra: list[str], message: str,
) -> None:
    agent, _port = start(cmdline, *extra)
    assert agent.proc.wait(WAIT) == 2
    log = agent.log()
    assert message.format(cmdfile=start.tmp / f"cmdline{len(start.procs) - 1}") in log, log
    assert "Traceback" not in log
    assert "listening on" not in log and "kernel writes" not in log
