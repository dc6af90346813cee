"""Test doubles for the manager: hosts that are the agent's real verb layer (``HostApi`` on the
simulated kernel) behind the HostPort, and a registration helper for the fake store."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from autonomic.hostport import HostRefused, HostUnreachable
from autonomic.leader import Leadership
from autonomic.reconcile import Reconciler
from autonomic.store import FakeClock, MemoryStore
from vdsm_net.backends.memory.kernel import MemoryKernel
from vdsm_net.cluster.keys import Keys
from vdsm_net.engine.engine import Engine
from vdsm_net.model.errors import NetworkError
from vdsm_net.verbs.api import Connectivity, HostApi

NICS = ("eth0", "eth1", "eth2", "eth3")
MGMT_ATTRS = {"nic": "eth0", "bridged": True, "ipaddr": "192.168.50.11",
              "netmask": "255.255.255.0", "defaultRoute": True}


class Confirmed(Connectivity):
    """The manager's confirmations arrive over the wire; here every check is confirmed."""

    def wait(self, since: float, timeout: float) -> bool:
        return True


@dataclass
class FakeHost:
    api: HostApi
    kernel: MemoryKernel
    reachable: bool = True
    busy: int = 0  # answer 40 to this many setupNetworks calls
    links_down: set[str] = field(default_factory=set)
    pushes: list[dict[str, Any]] = field(default_factory=list)
    safe_calls: int = 0
    caps_calls: int = 0
    gate: asyncio.Event | None = None  # a slow host: setupNetworks waits for it
    hidden: set[str] = field(default_factory=set)  # networks its caps never report
    crash: int = 0  # setupNetworks raises an unexpected error this many times


def make_host(nics: tuple[str, ...] = NICS, mgmt: Mapping[str, Any] | None = None) -> FakeHost:
    kernel = MemoryKernel(nics=nics)
    api = HostApi(Engine(kernel))
    api.connectivity = Confirmed()
    api.setup_networks({"ovirtmgmt": dict(mgmt or MGMT_ATTRS)}, {},
                       {"connectivityCheck": False})
    api.set_safe_network_config()
    return FakeHost(api, kernel)


def wire(answer: object) -> dict[str, Any]:
    """An answer as the manager gets it: JSON over the wire, not the agent's typed shape."""
    out: dict[str, Any] = json.loads(json.dumps(answer))
    return out


class FakeHosts:
    """HostPort over in-process agents, keyed by host id."""

    def __init__(self) -> None:
        self.hosts: dict[str, FakeHost] = {}

    def _host(self, host_id: str) -> FakeHost:
        host = self.hosts[host_id]
        if not host.reachable:
            raise HostUnreachable(f"{host_id}: connection timed out")
        return host

    async def capabilities(self, host_id: str, address: str) -> dict[str, Any]:
        host = self._host(host_id)
        host.caps_calls += 1
        caps = wire(host.api.get_network_capabilities())
        for name in host.hidden:
            caps["networks"].pop(name, None)
        return caps

    async def statistics(self, host_id: str, address: str) -> dict[str, Any]:
        host = self._host(host_id)
        stats = wire(host.api.get_network_statistics())
        for name in host.links_down:
            stats["network"][name]["state"] = "down"
        return stats

    async def setup(self, host_id: str, address: str, networks: Mapping[str, Any],
                    bondings: Mapping[str, Any], options: Mapping[str, Any]) -> dict[str, Any]:
        host = self._host(host_id)
        host.pushes.append({"networks": dict(networks), "bondings": dict(bondings),
                            "options": dict(options)})
        if host.gate is not None:
            await host.gate.wait()
        if host.busy:
            host.busy -= 1
            raise HostRefused(40, "Resource unavailable")
        if host.crash:
            host.crash -= 1
            raise RuntimeError("a failure the host port does not know")
        try:
            return wire(host.api.setup_networks(dict(networks), dict(bondings), dict(options)))
        except NetworkError as exc:
            raise HostRefused(exc.code, exc.message) from None

    async def set_safe(self, host_id: str, address: str) -> None:
        self._host(host_id).safe_calls += 1
        self._host(host_id).api.set_safe_network_config()

    async def close(self) -> None:
        return None


def registration(host_id: str, boot_id: str = "boot-1", started_at: float = 1.0,
                 mgmt: Mapping[str, Any] | None = None) -> bytes:
    return json.dumps({
        "id": host_id, "address": f"{host_id}:54321", "bootId": boot_id,
        "startedAt": started_at,
        "mgmt": {"network": "ovirtmgmt", "attrs": dict(mgmt or MGMT_ATTRS), "bondings": {}},
        "nics": {n: {"mac": "", "permMac": "", "speed": 1000} for n in NICS},
    }).encode()


class Cluster:
    """A fake store on a fake clock, fake hosts, and one leading manager's reconciler."""

    def __init__(self, manager_id: str = "m1", ttl: int = 5, parallel: int = 4) -> None:
        self.clock = FakeClock()
        self.store = MemoryStore(self.clock)
        self.keys = Keys()
        self.hosts = FakeHosts()
        self.leadership = Leadership(self.store, self.keys, manager_id, ttl, self.clock)
        self.reconciler = Reconciler(self.store, self.keys, self.hosts, self.leadership,
                                     self.clock, parallel=parallel, resync=60.0)

    async def tick(self, seconds: float) -> None:
        """Let time pass with the leader alive (its lease kept alive every second)."""
        for _ in range(int(seconds)):
            self.clock.advance(1.0)
            assert await self.leadership.step()
        self.clock.advance(seconds - int(seconds))

    async def add_host(self, host_id: str, boot_id: str = "boot-1", started_at: float = 1.0,
                       host: FakeHost | None = None) -> FakeHost:
        self.hosts.hosts[host_id] = host or make_host()
        await self.store.put(self.keys.host(host_id),
                             registration(host_id, boot_id, started_at))
        return self.hosts.hosts[host_id]

    async def set_policy(self, policy: Mapping[str, Any]) -> None:
        await self.store.put(self.keys.policy(), json.dumps(policy).encode())

    async def state(self, host_id: str) -> dict[str, Any]:
        entry = await self.store.get(self.keys.state(host_id))
        assert entry is not None, f"no state for {host_id}"
        doc: dict[str, Any] = json.loads(entry.value)
        return doc

    async def alloc(self, network: str, host_id: str) -> dict[str, str]:
        entry = await self.store.get(self.keys.alloc(network, host_id))
        assert entry is not None
        doc: dict[str, str] = json.loads(entry.value)
        return doc
