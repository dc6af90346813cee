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

from rpc.jsonrpc import Dispatcher
from rpc.server import StompServer, server_ssl_context
from vdsm_net.backends.factory import make_backend
from vdsm_net.backends.killswitch import KillSwitch, kill_at_write
from vdsm_net.backends.netlink.backend import NetlinkBackend
from vdsm_net.backends.netlink.monitor import NetlinkMonitor
from vdsm_net.backends.ovs.backend import OvsBackend
from vdsm_net.backends.ovs.daemons import OvsStartError
from vdsm_net.drift.monitor import DriftMonitor
from vdsm_net.dynamic.dhcp import DEFAULT_RUN_DIR, DhcpManager
from vdsm_net.dynamic.resolv import host_nameservers
from vdsm_net.engine.adopt import adopt
from vdsm_net.engine.engine import Engine
from vdsm_net.model.errors import KernelError, NetworkError
from vdsm_net.verbs.api import HostApi, emit_host_conn
from vdsm_net.verbs.hooks import DEFAULT_TIMEOUT, Hooks

log = logging.getLogger("vdsm-netd")


HOOK_TIMEOUT_ENV = "VDSM_NET_HOOK_TIMEOUT"


def hook_timeout() -> float:
    """The per-script hook time limit: ``$VDSM_NET_HOOK_TIMEOUT`` seconds, else 30."""
    try:
        value = float(os.environ.get(HOOK_TIMEOUT_ENV, DEFAULT_TIMEOUT))
    except ValueError:
        return DEFAULT_TIMEOUT
    return value if value > 0 else DEFAULT_TIMEOUT


def parse_listen(value: str) -> tuple[str, int]:
    """``HOST:PORT``, ``[v6]:PORT`` or ``:PORT``."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"--listen wants HOST:PORT, not {value!r}")
    return host.strip("[]") or "::", int(port)


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


async def serve(args: argparse.Namespace, engine: Engine, spec: dict[str, Any] | None) -> int:
    host, port = parse_listen(args.listen)
    dispatcher = Dispatcher(ready=False)  # every verb answers 99 until the boot spec is in
    server = StompServer(dispatcher, server_ssl_context(args.pki), host=host, port=port)
    dhcp = make_dhcp(args)
    drift = make_drift(args, engine, lambda: emit_host_conn(server.publish_event))
    api = HostApi(engine, publish=server.publish_event, hooks=Hooks(args.hooks_dir, hook_timeout()),
                  dhcp=dhcp, drift=drift)
    api.register(dispatcher.register)
    # trivial verbs answer on the event loop; the rest run in the thread pool
    dispatcher.mark_inline("Host.ping", "Host.ping2", "Host.confirmConnectivity")
    await server.start()
    loop = asyncio.get_running_loop()
    if spec is not None:
        await loop.run_in_executor(None, apply_boot_spec, engine, spec)
    if dhcp is not None:  # adopted or boot-spec DHCP networks get their clients back
        await loop.run_in_executor(None, dhcp.apply, engine.running)
        dhcp.start_monitor(on_change=api.lease_changed)
    if drift is not None:
        await loop.run_in_executor(None, drift.start)
    dispatcher.ready = True
    log.info("ready")
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("stopping")
    if drift is not None:
        await loop.run_in_executor(None, drift.stop)
    server.close()
    await server.wait_closed()
    if dhcp is not None:  # no release: the host keeps its leased addresses across a restart
        await loop.run_in_executor(None, dhcp.close)
    return 0


def make_drift(
    args: argparse.Namespace, engine: Engine, host_conn: Callable[[], None]
) -> DriftMonitor | None:
    """--drift report|enforce: netlink events (real kernel) plus the periodic compare; a change
    of the report calls ``host_conn`` (the event that makes the engine re-read caps)."""
    if args.drift == "off":
        return None
    backend = engine.backend
    events = None
    if isinstance(backend, OvsBackend):
        backend = backend.netlink
    if isinstance(backend, NetlinkBackend):
        netns = backend.netns
        events = lambda sink: NetlinkMonitor(sink, netns)  # noqa: E731
    return DriftMonitor(engine, args.drift, lambda _report: host_conn(), events=events)


DHCP_RUN_DIR_ENV = "VDSM_NET_DHCP_RUN_DIR"


def make_dhcp(args: argparse.Namespace) -> DhcpManager | None:
    """DHCP clients for the real kernel only, in its namespace; state under /run (or /tmp)."""
    if args.backend != "netlink":
        return None
    return DhcpManager(os.environ.get(DHCP_RUN_DIR_ENV) or DEFAULT_RUN_DIR, netns=args.netns)


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        spec = load_boot_spec(args.boot_spec) if args.boot_spec else None
        parse_listen(args.listen)
        server_ssl_context(args.pki)  # fail early and clearly on a missing PKI
        kill_at = kill_at_write(os.environ)  # test-only hook, see backends/killswitch.py
        backend = make_backend(args.backend, args.nics, args.netns, args.ovsdb, args.ovs_rundir)
    except (OSError, ValueError, KernelError, OvsStartError) as exc:
        print(f"vdsm-netd: {exc}", file=sys.stderr)
        return 2
    if kill_at is not None:  # TEST ONLY: SIGKILL right before write kill_at (logs a WARNING)
        backend = KillSwitch(backend, kill_at)
    # After a restart (not a reboot) the kernel's ownership tags are the running config.
    running = adopt(backend.observe())
    if running.networks or running.bonds:
        log.info("adopted %d networks and %d bonds from the kernel's tags",
                 len(running.networks), len(running.bonds))
    engine = Engine(backend, running=running, host_nameservers=host_nameservers)
    if spec is not None:
        try:  # validate before listening: a bad boot spec stops the agent, kernel untouched
            engine.prepare(spec.get("networks", {}), spec.get("bondings", {}),
                           {"connectivityCheck": False})
        except NetworkError as exc:
            print(f"vdsm-netd: boot spec {args.boot_spec}: error {exc.code}: {exc.message}",
                  file=sys.stderr)
            return 2
    try:
        return asyncio.run(serve(args, engine, spec))
    except KeyboardInterrupt:
        return 0
