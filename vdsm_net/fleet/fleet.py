"""Many simulated hosts in one process and one event loop (issue 16, as ovirt-vdsmfake did).

Host k is the agent's own pieces on a simulated kernel: a :class:`MemoryKernel` with the fleet's
NICs, an :class:`Engine`, the :class:`HostApi` verbs and a :class:`StompServer` on BASEPORT+k, all
the servers sharing one thread pool for their verbs. Each host has its own identity
(``<prefix><k>``, caps' ``uuid``), its own boot (the management network ``ovirtmgmt`` bridged on
the first NIC with 172.16.0.0/12 address ``10 + k``, applied as a boot spec) and, with etcd,
its own registration (``hosts/<id>``, the agent's Registrar over one shared client and lease:
fleet.shared_etcd). A :class:`~rpc.vhost.VhostServer` serves every host on one more port, by the
CONNECT ``host`` header (the host id). Per-host fault knobs are fleet.faults'.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import ipaddress
import logging
import ssl
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rpc.jsonrpc import CallContext, Dispatcher
from rpc.server import StompServer
from rpc.vhost import VhostServer
from vdsm_net.backends.memory.kernel import MemoryKernel
from vdsm_net.cluster.endpoints import Endpoint
from vdsm_net.cluster.hostside import BootInfo, HostRecord, format_address
from vdsm_net.cluster.keys import Keys
from vdsm_net.engine.engine import Engine
from vdsm_net.fleet.faults import FaultSpec, HostFaults, faults_for, faulty_setup
from vdsm_net.model.errors import KernelError
from vdsm_net.model.ops import DeleteLinks
from vdsm_net.verbs.api import HostApi
from vdsm_net.verbs.hostinfo import HostInfo

if TYPE_CHECKING:  # aetcd is optional: these are imported when the fleet registers
    from vdsm_net.cluster.registration import ClientFactory
    from vdsm_net.fleet.shared_etcd import SharedView

log = logging.getLogger("vdsm-netd.fleet")

MGMT = "ovirtmgmt"
MGMT_NET = ipaddress.ip_network("172.16.0.0/12")
INLINE = ("Host.ping", "Host.ping2", "Host.confirmConnectivity")


@dataclass(frozen=True)
class FleetConfig:
    hosts: int
    host: str  # listen address
    base_port: int
    nics: list[str]
    advertise: str  # the address put in the registrations
    prefix: str = "fleet-"
    vhost_port: int | None = None  # None: no shared port
    endpoints: tuple[Endpoint, ...] = ()
    cluster_prefix: str = "/vdsm-net/"
    ttl: int = 5
    workers: int = 64
    faults: tuple[FaultSpec, ...] = ()


def boot_spec(index: int, nic: str) -> dict[str, Any]:
    address = MGMT_NET.network_address + 10 + index
    return {"networks": {MGMT: {"nic": nic, "bridged": True, "ipaddr": str(address),
                                "netmask": str(MGMT_NET.netmask),
                                "gateway": str(MGMT_NET.network_address + 1),
                                "defaultRoute": True}},
            "bondings": {}}


class SimHost:
    """One simulated host of the fleet."""

    def __init__(self, index: int, config: FleetConfig, context: ssl.SSLContext | None,
                 executor: concurrent.futures.ThreadPoolExecutor) -> None:
        self.index = index
        self.host_id = f"{config.prefix}{index}"
        self.port = config.base_port + index
        self.kernel = MemoryKernel(nics=config.nics)
        self.engine = Engine(self.kernel)
        self.faults: HostFaults = faults_for(index, list(config.faults))
        self.dispatcher = Dispatcher(ready=False)
        self.server = StompServer(self.dispatcher, context, config.host, self.port,
                                  executor=executor, max_connections=64)
        self.api = HostApi(self.engine, publish=self.server.publish_event,
                           host=HostInfo(host_id=self.host_id))
        self.api.register(self._register)
        self.dispatcher.mark_inline(*INLINE)
        self.spec = boot_spec(index, config.nics[0])
        self.boot_id = str(uuid.uuid4())
        self.address = format_address(config.advertise, self.port)
        self.record: dict[str, Any] | None = None

    def _register(self, name: str, fn: Any, *, context: bool = False) -> None:
        if name == "Host.setupNetworks":
            wrapped = faulty_setup(fn, self.faults, self._drop, context=context)
            self.dispatcher.register(name, wrapped, context=True)
        else:
            self.dispatcher.register(name, fn, context=context)

    def _drop(self, ctx: CallContext) -> None:
        """From a verb's thread: abort (on the loop) the connection the call came on."""
        self.server.loop.call_soon_threadsafe(self._abort, ctx.connection_id)

    def _abort(self, session_id: int | None) -> None:
        for conn in list(self.server.connections):
            if conn.session is not None and conn.session.id == session_id and conn.transport:
                conn.transport.abort()

    def boot(self, cluster: list[str]) -> None:
        """The boot network, as the agent's boot spec (in a thread: the engine is sync)."""
        self.engine.setup(self.spec["networks"], self.spec["bondings"],
                          {"connectivityCheck": False})
        self.engine.set_safe()
        boot = BootInfo(self.spec, "fleet", MGMT, cluster)
        record = HostRecord(self.engine, self.host_id, boot, self.address, self.port).build()
        self.record = {**(record or {}), "bootId": self.boot_id}

    def drift(self) -> bool:
        """A device of a non-management network vanishes; True when one did."""
        for net in self.engine.running.networks.values():
            top = net.top
            if net.name == MGMT or top is None or top in (net.nic, net.bonding):
                continue
            try:
                self.kernel.apply(DeleteLinks((top,), "fleet drift"))
            except KernelError:
                continue
            self.faults.drifted += 1
            self.api.emit_host_conn()
            return True
        return False


def _always(view: SharedView) -> ClientFactory:
    """A Registrar's client factory that gives the host's view whatever the endpoint."""

    def factory(_endpoint: Endpoint) -> SharedView:
        return view

    return factory


class Fleet:
    def __init__(self, config: FleetConfig, context: ssl.SSLContext | None) -> None:
        self.config = config
        self.executor = concurrent.futures.ThreadPoolExecutor(config.workers, "fleet-verb")
        self.hosts = [SimHost(k, config, context, self.executor) for k in range(config.hosts)]
        self.by_id = {h.host_id: h for h in self.hosts}
        self.vhost: VhostServer | None = None
        if config.vhost_port is not None:
            self.vhost = VhostServer(self.route, context, config.host, config.vhost_port)
        self._tasks: list[asyncio.Task[None]] = []
        self._registrars: list[tuple[Any, asyncio.Task[None]]] = []
        self.shared: Any = None

    def route(self, name: str) -> StompServer | None:
        host = self.by_id.get(name)
        return host.server if host is not None else None

    async def start(self) -> None:
        """Boot every host, listen, then register them all at once."""
        loop = asyncio.get_running_loop()
        urls = [str(e) for e in self.config.endpoints]
        await loop.run_in_executor(self.executor, self._boot_all, urls)
        for host in self.hosts:
            await host.server.start()
            host.dispatcher.ready = True
        if self.vhost is not None:
            await self.vhost.start()
        if self.config.endpoints:
            self._register_all()
        drifting = [h for h in self.hosts if h.faults.drift > 0]
        if drifting:
            self._tasks.append(loop.create_task(self._drift(drifting)))
        log.info("fleet of %d hosts on %s:%d-%d%s", len(self.hosts), self.config.host,
                 self.config.base_port, self.config.base_port + len(self.hosts) - 1,
                 f", all of them on port {self.vhost.port}" if self.vhost else "")

    def _boot_all(self, urls: list[str]) -> None:
        for host in self.hosts:
            host.boot(urls)

    def _register_all(self) -> None:
        from vdsm_net.cluster.registration import Registrar  # aetcd is optional
        from vdsm_net.fleet.shared_etcd import SharedEtcd

        self.shared = shared = SharedEtcd(list(self.config.endpoints), self.config.ttl)
        keys = Keys(self.config.cluster_prefix)
        for host in self.hosts:
            view = shared.view(keys.host(host.host_id))
            record = host.record

            async def source(record: dict[str, Any] | None = record) -> dict[str, Any] | None:
                return record

            registrar = Registrar(list(self.config.endpoints), keys, host.host_id, source,
                                  ttl=self.config.ttl, client_factory=_always(view))
            self._registrars.append((registrar, asyncio.create_task(registrar.run())))

    async def _drift(self, hosts: list[SimHost]) -> None:
        loop = asyncio.get_running_loop()
        due = {h.host_id: loop.time() + h.faults.drift for h in hosts}
        while True:
            now = loop.time()
            for host in hosts:
                if now >= due[host.host_id]:
                    due[host.host_id] = now + host.faults.drift
                    await loop.run_in_executor(self.executor, host.drift)
            await asyncio.sleep(max(0.05, min(due.values()) - loop.time()))

    def registered(self) -> int:
        return sum(1 for r, _ in self._registrars if r.state == "registered")

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        if self.shared is not None:
            await self.shared.close()  # one revoke: every key goes
        for registrar, task in self._registrars:
            await registrar.stop(task)
        if self.vhost is not None:
            self.vhost.close()
        for host in self.hosts:
            host.server.close()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.executor.shutdown(wait=False, cancel_futures=True)
