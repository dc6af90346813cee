"""A fleet in a thread of its own (its own event loop), for tests that call it over the wire
and look into its hosts' simulated kernels."""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path
from typing import Any

from rpc.server import server_ssl_context
from tests.cluster.etcd_server import free_port
from vdsm_net.cluster.endpoints import parse_endpoints
from vdsm_net.fleet.faults import parse_fault
from vdsm_net.fleet.fleet import Fleet, FleetConfig, SimHost

START = 120.0  # a generous bound for booting a few hundred hosts on a busy machine


def free_base(hosts: int) -> int:
    """A base port with room for ``hosts`` + 1 ports after it (probably free)."""
    base = free_port()
    return base if base + hosts + 1 < 65000 else free_base(hosts)


class FleetThread:
    def __init__(self, pki: Path, hosts: int, etcd_url: str | None = None,
                 faults: tuple[str, ...] = (), vhost: bool = False) -> None:
        base = free_base(hosts)
        config = FleetConfig(
            hosts=hosts, host="127.0.0.1", base_port=base, nics=["eth0", "eth1", "eth2"],
            advertise="127.0.0.1", vhost_port=base + hosts if vhost else None,
            endpoints=tuple(parse_endpoints(etcd_url)) if etcd_url else (), ttl=3,
            workers=32, faults=tuple(parse_fault(f) for f in faults))
        self.fleet = Fleet(config, server_ssl_context(pki))
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="fleet", daemon=True)

    def start(self) -> FleetThread:
        self.thread.start()
        self.run(self.fleet.start())
        return self

    def run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(START)

    def stop(self) -> None:
        self.run(self.fleet.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(START)
        self.loop.close()

    def host(self, index: int) -> SimHost:
        return self.fleet.hosts[index]

    def links(self, index: int) -> set[str]:
        """The link names in host ``index``'s kernel, read on the fleet's loop."""
        async def read() -> set[str]:
            return set(self.host(index).kernel.observe(stats=False).links)

        names: set[str] = self.run(read())
        return names


def states(url: str) -> dict[str, dict[str, Any]]:
    """The manager's ``state/<id>`` records, by host id."""
    from autonomic.etcd import EtcdStore
    from vdsm_net.cluster.keys import Keys

    async def read() -> dict[str, dict[str, Any]]:
        store = EtcdStore(url)
        try:
            entries, _ = await store.range(Keys().state_prefix())
        finally:
            await store.close()
        return {e.key.rsplit("/", 1)[1]: json.loads(e.value) for e in entries}

    return asyncio.run(read())


def registered(url: str) -> set[str]:
    from autonomic.etcd import EtcdStore
    from vdsm_net.cluster.keys import Keys

    async def read() -> set[str]:
        store = EtcdStore(url)
        try:
            entries, _ = await store.range(Keys().hosts_prefix())
        finally:
            await store.close()
        return {e.key.rsplit("/", 1)[1] for e in entries}

    return asyncio.run(read())
