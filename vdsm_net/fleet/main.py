"""``vdsm-netd fleet``: start a fleet, serve until SIGTERM/SIGINT, stop it cleanly."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys

from rpc.server import parse_listen, server_ssl_context
from rpc.tls.context import PkiError
from vdsm_net.cluster.endpoints import parse_endpoints, require_client_library
from vdsm_net.fleet.faults import parse_fault
from vdsm_net.fleet.fleet import Fleet, FleetConfig
from vdsm_net.ops.logsetup import setup_logging

log = logging.getLogger("vdsm-netd.fleet")


def config_of(args: argparse.Namespace) -> FleetConfig:
    """The fleet's configuration from its flags; ValueError with the reason."""
    host, base = parse_listen(args.listen)
    vhost: int | None = base + args.hosts if args.vhost_port is None else args.vhost_port
    if args.hosts < 1 or base < 1 or not 0 <= (vhost or 0) <= 65535 or base + args.hosts > 65536:
        raise ValueError(f"--hosts {args.hosts} from port {base} (and the shared port) does "
                         "not fit in 1..65535")
    if vhost == 0:
        vhost = None
    endpoints = parse_endpoints(args.cluster) if args.cluster else []
    if endpoints:
        require_client_library()
    nics = [n for n in args.nics.split(",") if n]
    if not nics:
        raise ValueError("--nics names at least one NIC")
    advertise = args.advertise or ("127.0.0.1" if host in ("::", "0.0.0.0") else host)
    return FleetConfig(
        hosts=args.hosts, host=host, base_port=base, nics=nics, advertise=advertise,
        prefix=args.host_prefix, vhost_port=vhost, endpoints=tuple(endpoints),
        cluster_prefix=args.cluster_prefix, ttl=args.cluster_ttl, workers=args.workers,
        faults=tuple(parse_fault(f) for f in args.fault))


async def serve(fleet: Fleet) -> int:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await fleet.start()
    except OSError as exc:
        await fleet.stop()
        print(f"vdsm-netd fleet: cannot listen: {exc.strerror or exc}", file=sys.stderr)
        return 2
    log.info("ready")
    await stop.wait()
    log.info("stopping")
    await fleet.stop()
    return 0


def run(args: argparse.Namespace) -> int:
    setup_logging(args.log_format, args.verbose)
    if not args.verbose:  # a line per host and state change is too many
        for name in ("vdsm-netd.cluster", "vdsm_net.engine.engine", "rpc.server"):
            logging.getLogger(name).setLevel(logging.WARNING)
    try:
        config = config_of(args)
        context = server_ssl_context(args.pki)
    except (ValueError, PkiError, OSError) as exc:
        print(f"vdsm-netd fleet: {exc}", file=sys.stderr)
        return 2
    return asyncio.run(serve(Fleet(config, context)))
