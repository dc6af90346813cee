"""The agent's cluster glue: where the boot network comes from, who the host is, what it
registers.

The boot spec is ``--boot-spec FILE`` when given, else the kernel command line when it has
``ip=``. The command line is ``--cmdline FILE``, else /proc/cmdline for the netlink backend in
the agent's own namespace (with ``--netns`` or the simulated kernel /proc/cmdline describes
another machine than the one managed, so it is not read). With ``--boot-spec`` only the
``vdsm_net.*`` parameters are read from it.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vdsm_net import __version__
from vdsm_net.cluster.cmdline import BootCmdline
from vdsm_net.cluster.cmdline_spec import parse_cmdline
from vdsm_net.cluster.endpoints import Endpoint
from vdsm_net.cluster.follow import FollowWriter
from vdsm_net.cluster.identity import IdentityError, boot_id, host_id, mgmt_nic, nic_facts
from vdsm_net.cluster.keys import Keys
from vdsm_net.engine.engine import Engine
from vdsm_net.model.kernel import KernelState
from vdsm_net.verbs.caps import HIDDEN_NIC_PREFIXES

if TYPE_CHECKING:  # the etcd client is imported only when the agent registers
    from vdsm_net.cluster.registration import Registrar

PROC_CMDLINE = "/proc/cmdline"


@dataclass(frozen=True)
class BootInfo:
    spec: dict[str, Any] | None
    origin: str  # where the spec came from, for messages
    mgmt: str  # the management network's name
    cluster: list[str]  # etcd URLs; empty: no registration


def _cmdline_path(args: argparse.Namespace) -> str | None:
    if args.cmdline:
        return str(args.cmdline)
    if args.backend == "netlink" and not args.netns:
        return PROC_CMDLINE
    return None


def _vdsm_net_only(text: str) -> str:
    return " ".join(t for t in text.split() if t.startswith("vdsm_net."))


def read_boot_info(args: argparse.Namespace, spec: dict[str, Any] | None) -> BootInfo:
    """Raises ``OSError`` for an unreadable --cmdline and ``ValueError`` (``CmdlineError``) for
    a bad one; ``spec`` is the --boot-spec file's content, if any."""
    path = _cmdline_path(args)
    text = ""
    if path is not None:
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                text = f.read()
        except OSError as exc:
            if args.cmdline:
                raise OSError(f"--cmdline {path}: {exc.strerror}") from None
    try:
        cmd = parse_cmdline(text if spec is None else _vdsm_net_only(text))
    except ValueError as exc:
        raise ValueError(f"kernel command line {path}: {exc}") from None
    cluster = [u for u in (args.cluster or "").split(",") if u] or cmd.cluster
    if spec is not None:
        return BootInfo(spec, f"boot spec {args.boot_spec}", _mgmt_of(spec, cmd), cluster)
    return BootInfo(cmd.spec, f"kernel command line {path}", cmd.mgmt, cluster)


def _mgmt_of(spec: dict[str, Any], cmd: BootCmdline) -> str:
    """The boot spec's management network: vdsm_net.mgmt's name when the spec has it, else its
    only network, else its default-route network."""
    networks = spec.get("networks", {})
    if cmd.mgmt in networks:
        return cmd.mgmt
    if len(networks) == 1:
        return str(next(iter(networks)))
    defaults = [n for n, a in networks.items() if isinstance(a, dict) and a.get("defaultRoute")]
    return str(defaults[0]) if len(defaults) == 1 else cmd.mgmt


def mgmt_record(spec: dict[str, Any] | None, mgmt: str) -> dict[str, Any]:
    """``{"network", "attrs", "bondings"}``: the boot management network as the spec has it."""
    attrs = dict((spec or {}).get("networks", {}).get(mgmt) or {})
    bond = attrs.get("bonding")
    bondings = (spec or {}).get("bondings", {})
    return {"network": mgmt, "attrs": attrs,
            "bondings": {bond: bondings[bond]} if bond in bondings else {}}


def format_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def mgmt_address(engine: Engine, mgmt: str) -> str | None:
    """The management network's address in the kernel: IPv4 first, else a global IPv6."""
    net = engine.running.networks.get(mgmt)
    top = net.top if net is not None else None
    if top is None:
        return None
    addrs = engine.backend.observe(stats=False).addresses_of(top)
    for family in (4, 6):
        for addr in addrs:
            ip = ipaddress.ip_address(addr.address.split("/")[0])
            if addr.family == family and not ip.is_link_local:
                return str(ip)
    return None


@dataclass(frozen=True)
class ClusterPlan:
    """What the agent registers with, decided before it serves."""

    boot: BootInfo
    host_id: str
    endpoints: list[Endpoint]
    advertise: str | None
    prefix: str
    ttl: int
    boot_id: str  # --boot-id, else the kernel's


def cluster_plan(
    args: argparse.Namespace, boot: BootInfo, observed: KernelState, endpoints: list[Endpoint],
    advertise: str | None, root: Path = Path("/"),
) -> tuple[str | None, ClusterPlan | None]:
    """The host id (None when none is found: caps fall back to machine-id) and, with etcd
    endpoints, the registration plan. ``observed`` is the kernel before the boot spec, so a
    NIC still has its own MAC. Raises ``IdentityError`` when registering without an id."""
    try:
        hid = host_id(args.host_id, root, observed, mgmt_nic(boot.spec, boot.mgmt))
    except IdentityError:
        if endpoints or args.host_id:
            raise
        return None, None
    if not endpoints:
        return hid, None
    return hid, ClusterPlan(boot, hid, endpoints, advertise, args.cluster_prefix,
                            args.cluster_ttl, getattr(args, "boot_id", None) or boot_id(root))


class HostRecord:
    """Builds the ``hosts/<id>`` record (vdsm_net.cluster.keys) from the live agent."""

    def __init__(self, engine: Engine, host_id: str, boot: BootInfo, advertise: str | None,
                 listen_port: int, boot_id_value: str = "") -> None:
        self.engine = engine
        self.host_id = host_id
        self.boot = boot
        self.advertise = advertise
        self.port = listen_port
        self.boot_id = boot_id_value or boot_id()
        self.started_at = time.time()

    def build(self) -> dict[str, Any] | None:
        """The record, or None while no address can be advertised."""
        address = self.advertise
        if address is None:
            ip = mgmt_address(self.engine, self.boot.mgmt)
            if ip is None:
                return None
            address = format_address(ip, self.port)
        state = self.engine.backend.observe(stats=False)
        nics = nic_facts(state, lambda n: self.engine.backend.nic_facts(n).speed)
        return {
            "id": self.host_id,
            "address": address,
            "bootId": self.boot_id,
            "startedAt": self.started_at,
            "mgmt": mgmt_record(self.boot.spec, self.boot.mgmt),
            "nics": {n: f for n, f in nics.items() if not n.startswith(HIDDEN_NIC_PREFIXES)},
            "version": __version__,
        }


def parse_advertise(value: str | None) -> str | None:
    """``--advertise HOST:PORT`` as the "host:port" the record carries; a wildcard is refused."""
    if value is None:
        return None
    host, sep, port = value.rpartition(":")
    host = host.strip("[]")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536 or not host:
        raise ValueError(f"--advertise wants HOST:PORT, not {value!r}")
    if host in ("::", "0.0.0.0"):
        raise ValueError(f"--advertise {value}: a wildcard address cannot be connected to")
    return format_address(host, int(port))


def start_registration(
    engine: Engine, plan: ClusterPlan, listen_port: int
) -> tuple[Registrar, asyncio.Task[None]]:
    """The registration loop as a task of the running loop; the record is built in a thread
    (it observes the kernel)."""
    from vdsm_net.cluster.registration import Registrar  # here: aetcd is optional (endpoints.py)

    loop = asyncio.get_running_loop()
    record = HostRecord(engine, plan.host_id, plan.boot, plan.advertise, listen_port,
                        plan.boot_id)

    async def source() -> dict[str, Any] | None:
        return await loop.run_in_executor(None, record.build)

    registrar = Registrar(plan.endpoints, Keys(plan.prefix), plan.host_id, source, ttl=plan.ttl)
    return registrar, loop.create_task(registrar.run())


def follow_writer(plan: ClusterPlan) -> FollowWriter:
    """The engine-follower records' writer (not started: ``start()`` in the running loop)."""
    return FollowWriter(plan.endpoints, Keys(plan.prefix), plan.host_id, plan.boot_id)
