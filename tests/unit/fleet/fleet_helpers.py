"""A fleet in a thread of its own (its own event loop), for tests that call it over the wire
and look into its hosts' simulated kernels."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import random
import threading
from pathlib import Path
from typing import Any

from rpc.server import server_ssl_context
from vdsm_net.cluster.endpoints import parse_endpoints
from vdsm_net.fleet.faults import parse_fault
from vdsm_net.fleet.fleet import Fleet, FleetConfig, SimHost

START = 120.0  # a generous bound for booting a few hundred hosts on a busy machine


ATTEMPTS = 5


def free_base(hosts: int) -> int:
    """A base port for ``hosts`` + 1 ports, below the ephemeral range (where other tests'
    listeners and every outgoing connection take theirs); a start that finds one taken tries
    another base."""
    return random.randrange(20000, 32000 - hosts - 1)


class FleetThread:
    def __init__(self, pki: Path, hosts: int, etcd_url: str | None = None,
                 faults: tuple[str, ...] = (), vhost: bool = False) -> None:
        self.pki = pki
        self.config = FleetConfig(
            hosts=hosts, host="127.0.0.1", base_port=0, nics=["eth0", "eth1", "eth2"],
            advertise="127.0.0.1", vhost_port=None,
            endpoints=tuple(parse_endpoints(etcd_url)) if etcd_url else (), ttl=3,
            workers=32, faults=tuple(parse_fault(f) for f in faults))
        self.vhost = vhost
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="fleet", daemon=True)

    def _fleet(self) -> Fleet:
        base = free_base(self.config.hosts)
        config = dataclasses.replace(
            self.config, base_port=base,
            vhost_port=base + self.config.hosts if self.vhost else None)
        return Fleet(config, server_ssl_context(self.pki))

    def start(self) -> FleetThread:
        self.thread.start()
        for attempt in range(ATTEMPTS):
            self.fleet = self._fleet()
            try:
                self.run(self.fleet.start())
                return self
            except OSError:  # a port of the range is taken
                self.run(self.fleet.stop())
                if attempt == ATTEMPTS - 1:
                    raise
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
