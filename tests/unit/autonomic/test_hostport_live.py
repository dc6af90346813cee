"""The wire adapter against a real vdsm-netd (simulated kernel, loopback mutual TLS): the push
is confirmed over its own connection, the host's event reaches the sink, a restarted agent is
reconnected to at once, and an unreachable one is told apart from a refusal."""

from __future__ import annotations

import asyncio
import signal
import threading

import pytest

from autonomic.hostport import HostRefused, HostUnreachable, WireHosts
from tests.cluster.etcd_server import free_port
from tests.unit.autonomic.live import WAIT, Live
from tests.unit.cluster.cluster_helpers import sync_until

NETS = {"vm2": {"nic": "eth3", "bridged": True}}
OPTIONS = {"fullState": False, "connectivityCheck": True, "connectivityTimeout": 4}


def test_a_confirmed_push_an_event_a_restart_and_a_refusal(live: Live) -> None:
    _, port = live.agent(0)
    address = f"127.0.0.1:{port}"
    events: list[str] = []
    got_event = threading.Event()

    def sink(host_id: str) -> None:
        events.append(host_id)
        got_event.set()

    async def go() -> None:
        hosts = WireHosts(live.pki, parallel=2, events=sink)
        try:
            await asyncio.wait_for(_until_up(hosts, address), WAIT)
            answer = await hosts.setup("h0", address, NETS, {}, OPTIONS)
            assert answer["code"] == 0  # not rolled back: the check was confirmed
            await hosts.set_safe("h0", address)
            assert "vm2" in (await hosts.capabilities("h0", address))["networks"]
            assert await asyncio.to_thread(got_event.wait, WAIT) and events[0] == "h0"
            with pytest.raises(HostRefused) as err:
                await hosts.setup("h0", address, {"bad": {"nic": "eth1", "vlan": 5000}}, {},
                                  OPTIONS)
            assert err.value.code == 26
            live.agents["h0"][0].stop(signal.SIGKILL)
            live.agent(0)  # the same port, a new process
            agent = live.agents["h0"][0]
            await asyncio.to_thread(sync_until, lambda: agent.log().count("listening on") == 2,
                                    WAIT, "the new agent listens")  # one log for both
            caps = await hosts.capabilities("h0", address)  # the old connection is gone
            assert "ovirtmgmt" in caps["networks"]
            with pytest.raises(HostUnreachable):
                await hosts.capabilities("h9", f"127.0.0.1:{free_port()}")
        finally:
            await hosts.close()

    asyncio.run(go())


async def _until_up(hosts: WireHosts, address: str) -> None:
    while True:
        try:
            caps = await hosts.capabilities("h0", address)
            if "ovirtmgmt" in caps.get("networks", {}):
                return
        except (HostUnreachable, HostRefused):
            pass
        await asyncio.sleep(0.2)
