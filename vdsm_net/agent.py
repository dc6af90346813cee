"""The vdsm-netd process: flags, start-up, the boot spec, signals and logging."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
from collections.abc import Callable
from typing import Any

from rpc.server import StompServer, parse_listen, server_ssl_context
from rpc.tls.context import PkiError
from vdsm_net.backends.factory import make_backend
from vdsm_net.backends.killswitch import KillSwitch, kill_at_write
from vdsm_net.backends.kinds import missing_kinds, without_ovsdb
from vdsm_net.backends.netlink.backend import NetlinkBackend
from vdsm_net.backends.netlink.monitor import NetlinkMonitor
from vdsm_net.backends.ovs.backend import OvsBackend
from vdsm_net.backends.ovs.daemons import OvsStartError
from vdsm_net.backends.ovs.monitor import OvsdbMonitor
from vdsm_net.cluster.endpoints import parse_endpoints, require_client_library
from vdsm_net.cluster.hostside import (
    ClusterPlan,
    cluster_plan,
    follow_writer,
    parse_advertise,
    read_boot_info,
    start_registration,
)
from vdsm_net.cluster.identity import IdentityError
from vdsm_net.drift.monitor import DriftMonitor, DriftReport, EventSource, Poke
from vdsm_net.dynamic.dhcp import DEFAULT_RUN_DIR, DhcpManager
from vdsm_net.dynamic.resolv import host_nameservers
from vdsm_net.engine.adopt import adopt
from vdsm_net.engine.engine import Engine
from vdsm_net.engine.validate import visible_nics
from vdsm_net.lldp.receiver import LldpReceiver
from vdsm_net.model.errors import KernelError, NetworkError
from vdsm_net.ops import service
from vdsm_net.ops.calllog import LoggedDispatcher
from vdsm_net.ops.logsetup import setup_logging
from vdsm_net.ops.metrics import Metrics, MetricsServer, parse_metrics_address
from vdsm_net.ops.sdnotify import Notifier
from vdsm_net.verbs.api import HostApi, emit_host_conn
from vdsm_net.verbs.hooks import DEFAULT_TIMEOUT, Hooks
from vdsm_net.verbs.hostinfo import HostInfo

log = logging.getLogger("vdsm-netd")


HOOK_TIMEOUT_ENV = "VDSM_NET_HOOK_TIMEOUT"


def hook_timeout() -> float:
    """The per-script hook time limit: ``$VDSM_NET_HOOK_TIMEOUT`` seconds, else 30."""
    try:
        value = float(os.environ.get(HOOK_TIMEOUT_ENV, DEFAULT_TIMEOUT))
    except ValueError:
        return DEFAULT_TIMEOUT
    return value if value > 0 else DEFAULT_TIMEOUT


def load_boot_spec(path: str) -> dict[str, Any]:
    with open(path, encoding="utf-8") as f:
        spec = json.load(f)
    if not isinstance(spec, dict) or not all(
        isinstance(spec.get(k, {}), dict) for k in ("networks", "bondings")
    ):
        raise ValueError("a boot spec is a JSON object {\"networks\": {..}, \"bondings\": {..}}")
    return spec


def apply_boot_spec(engine: Engine, spec: dict[str, Any]) -> None:
    """The known state after a reboot: the boot networks, adopted if already there."""
    result = engine.setup(
        spec.get("networks", {}), spec.get("bondings", {}), {"connectivityCheck": False}
    )
    engine.set_safe()
    log.info("boot spec applied with %d kernel writes", result.writes)


async def serve(args: argparse.Namespace, engine: Engine, spec: dict[str, Any] | None,
                metrics: Metrics | None = None, host_id: str | None = None,
                cluster: ClusterPlan | None = None) -> int:
    host, port = parse_listen(args.listen)
    # every verb answers 99 until the boot spec is in
    dispatcher = LoggedDispatcher(ready=False, observe=metrics.call if metrics else None)
    server = StompServer(dispatcher, server_ssl_context(args.pki), host=host, port=port)
    dispatcher.subject_of = service.subject_lookup(server)
    dhcp = make_dhcp(args)
    drift = make_drift(args, engine, lambda: emit_host_conn(server.publish_event), metrics)
    lldp = make_lldp(args, engine)
    follow = follow_writer(cluster) if cluster is not None else None
    api = HostApi(engine, publish=server.publish_event, hooks=make_hooks(args),
                  dhcp=dhcp, drift=drift, lldp=lldp, host=HostInfo(host_id=host_id),
                  follow=follow)
    api.register(dispatcher.register)
    follow_task = follow.start() if follow is not None else None  # before any verb is served
    # trivial verbs answer on the event loop; the rest run in the thread pool
    dispatcher.mark_inline("Host.ping", "Host.ping2", "Host.confirmConnectivity")
    try:
        await server.start()
        endpoint = start_metrics(args, metrics, server, dispatcher, engine)
    except OSError as exc:  # the port is taken: nothing was written yet
        server.close()
        raise service.StartError(
            f"cannot listen on {args.listen}: {exc.strerror or exc}") from None
    loop = asyncio.get_running_loop()
    stop = install_signals(loop, lambda: service.reload(server, args.pki, api,
                                                        lambda: make_hooks(args)))
    if spec is not None:
        await loop.run_in_executor(None, apply_boot_spec, engine, spec)
    await _start_watchers(api, metrics)
    dispatcher.ready = True
    notifier = Notifier()
    log.info("ready")
    notifier.ready(f"listening on {args.listen}")
    notifier.start_watchdog()
    registration = start_registration(engine, cluster, port) if cluster is not None else None
    await stop.wait()
    log.info("stopping")
    notifier.stopping()
    if registration is not None:  # deregister first: the manager stops pushing to us
        await registration[0].stop(registration[1])
    if follow is not None and follow_task is not None:
        await follow.stop(follow_task)
    if endpoint is not None:
        endpoint.close()
    await _stop_watchers(api, server)
    return 0


async def _start_watchers(api: HostApi, metrics: Metrics | None) -> None:
    """DHCP clients back for adopted or boot-spec networks, then the drift and LLDP watchers."""
    loop = asyncio.get_running_loop()
    dhcp = api.dhcp
    if dhcp is not None:
        await loop.run_in_executor(None, dhcp.apply, api.engine.running)
        dhcp.start_monitor(on_change=lambda: lease_changed(api, dhcp, metrics))
    if api.drift is not None:
        await loop.run_in_executor(None, api.drift.start)
    if api.lldp is not None:
        api.lldp.start()


async def _stop_watchers(api: HostApi, server: StompServer) -> None:
    """The watchers stop, then the server; DHCP clients last, without a release (the host keeps
    its leased addresses across a restart)."""
    loop = asyncio.get_running_loop()
    if api.drift is not None:
        await loop.run_in_executor(None, api.drift.stop)
    if api.lldp is not None:
        await loop.run_in_executor(None, api.lldp.stop)
    server.close()
    await server.wait_closed()
    if api.dhcp is not None:
        await loop.run_in_executor(None, api.dhcp.close)


def install_signals(loop: asyncio.AbstractEventLoop, reload: Callable[[], object]
                    ) -> asyncio.Event:
    """SIGINT and SIGTERM set the returned event (a stop asked for during the boot spec takes
    effect once it is applied); SIGHUP calls ``reload``."""
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    loop.add_signal_handler(signal.SIGHUP, reload)
    return stop


def make_hooks(args: argparse.Namespace) -> Hooks:
    return Hooks(args.hooks_dir, hook_timeout())


def lease_changed(api: HostApi, dhcp: DhcpManager, metrics: Metrics | None) -> None:
    service.lease_seen(dhcp.leases, metrics)
    api.lease_changed()


def start_metrics(args: argparse.Namespace, metrics: Metrics | None, server: StompServer,
                  dispatcher: LoggedDispatcher, engine: Engine) -> MetricsServer | None:
    """--metrics: the endpoint, bound now (its address was checked before start)."""
    if metrics is None:
        return None
    metrics.clients.set_function(lambda: len(server.connections))

    def health() -> dict[str, Any]:
        try:
            engine.backend.observe(stats=False)
            backend: bool | str = True
        except Exception as exc:  # the answer says why
            backend = str(exc) or type(exc).__name__
        return {"ready": dispatcher.ready, "backend": backend is True,
                **({"error": backend} if backend is not True else {})}

    mhost, mport = parse_metrics_address(args.metrics)
    try:
        endpoint = MetricsServer(mhost, mport, metrics, health)
    except OSError as exc:
        raise service.StartError(
            f"cannot listen on {args.metrics} (--metrics): {exc.strerror or exc}") from None
    endpoint.start()
    log.info("metrics on http://%s:%d/metrics", f"[{mhost}]" if ":" in mhost else mhost,
             endpoint.port)
    return endpoint


def make_drift(
    args: argparse.Namespace, engine: Engine, host_conn: Callable[[], None],
    metrics: Metrics | None = None,
) -> DriftMonitor | None:
    """--drift report|enforce: netlink events (real kernel) and OVSDB's (with OVS) plus the
    periodic compare; a change of the report calls ``host_conn`` (the event that makes the
    engine re-read caps)."""
    if args.drift == "off":
        return None
    backend = engine.backend
    events: Callable[[Poke], EventSource] | None = None
    remote = backend.ovsdb.remote if isinstance(backend, OvsBackend) else None
    if isinstance(backend, OvsBackend):
        backend = backend.netlink
    if isinstance(backend, NetlinkBackend):
        netns = backend.netns

        def events(sink: Poke) -> EventSource:  # OVSDB's changes too, when there is one
            links = NetlinkMonitor(sink, netns)
            return OvsdbMonitor(sink, remote, links) if remote else links
    seen = service.drift_seen(metrics)

    def on_change(report: DriftReport) -> None:
        seen(report)
        host_conn()

    return DriftMonitor(engine, args.drift, on_change, events=events)


def make_lldp(args: argparse.Namespace, engine: Engine) -> LldpReceiver | None:
    """--lldp on (the default on the real kernel): the receive-only LLDP receiver on the NICs,
    in the agent's namespace; none on the simulated kernel (every device enabled: false)."""
    if args.backend != "netlink" or args.lldp == "off":
        return None
    return LldpReceiver(lambda: visible_nics(engine.backend.observe(stats=False)), args.netns)


DHCP_RUN_DIR_ENV = "VDSM_NET_DHCP_RUN_DIR"


def make_dhcp(args: argparse.Namespace) -> DhcpManager | None:
    """DHCP clients for the real kernel only, in its namespace; state under /run (or /tmp)."""
    if args.backend != "netlink":
        return None
    return DhcpManager(os.environ.get(DHCP_RUN_DIR_ENV) or DEFAULT_RUN_DIR, netns=args.netns)


def run(args: argparse.Namespace) -> int:
    setup_logging(args.log_format, args.verbose)
    try:
        boot = read_boot_info(args, load_boot_spec(args.boot_spec) if args.boot_spec else None)
        endpoints = parse_endpoints(boot.cluster) if boot.cluster else []
        if endpoints:
            require_client_library()
        advertise = parse_advertise(args.advertise)
        parse_listen(args.listen)
        if args.metrics:
            parse_metrics_address(args.metrics)
        server_ssl_context(args.pki)  # fail early and clearly on a missing PKI
        kill_at = kill_at_write(os.environ)  # test-only hook, see backends/killswitch.py
        backend = make_backend(args.backend, args.nics, args.netns, args.ovsdb, args.ovs_rundir)
    except (OSError, ValueError, PkiError, KernelError, OvsStartError) as exc:
        return fail(str(exc))
    spec = boot.spec
    no_ovsdb = args.backend == "netlink" and not isinstance(backend, OvsBackend)
    if kill_at is not None:  # TEST ONLY: SIGKILL right before write kill_at (logs a WARNING)
        backend = KillSwitch(backend, kill_at)
    # After a restart (not a reboot) the kernel's ownership tags are the running config.
    observed = backend.observe()
    running = adopt(observed)
    if running.networks or running.bonds:
        log.info("adopted %d networks and %d bonds from the kernel's tags",
                 len(running.networks), len(running.bonds))
    metrics = Metrics() if args.metrics else None
    engine = Engine(backend, running=running, host_nameservers=host_nameservers,
                    on_setup=service.setup_counter(metrics),
                    missing_kinds=kernel_lacks(args, no_ovsdb))
    if spec is not None:
        try:  # validate before listening: a bad boot spec stops the agent, kernel untouched
            engine.prepare(spec.get("networks", {}), spec.get("bondings", {}),
                           {"connectivityCheck": False})
        except NetworkError as exc:
            return fail(f"{boot.origin}: error {exc.code}: {exc.message}")
    try:
        hid, cluster = cluster_plan(args, boot, observed, endpoints, advertise)
    except IdentityError as exc:
        return fail(str(exc))
    try:
        return asyncio.run(serve(args, engine, spec, metrics, hid, cluster))
    except KeyboardInterrupt:
        return 0
    except service.StartError as exc:
        return fail(str(exc))


def kernel_lacks(args: argparse.Namespace, no_ovsdb: bool) -> dict[str, str]:
    """The link kinds this kernel cannot make (netlink backend only), and OVS's without an
    OVSDB; logged once."""
    lacking = missing_kinds() if args.backend == "netlink" else {}
    if lacking:
        log.warning("this kernel lacks link kinds %s (modules %s): requests that need them "
                    "are refused", ", ".join(sorted(lacking)),
                    ", ".join(lacking[k] for k in sorted(lacking)))
    if no_ovsdb:
        log.info("no OVSDB (--ovs-rundir or --ovsdb): switch=ovs networks are refused")
        lacking = without_ovsdb(lacking)
    return lacking


def fail(message: str) -> int:
    """A failure at start: one line on stderr, exit status 2."""
    print(f"vdsm-netd: {message}", file=sys.stderr)
    return 2
