"""``vdsm-netd``: the agent, and its ``plan`` dry-run subcommand.

    vdsm-netd [--listen HOST:PORT] [--pki DIR] [--backend netlink|memory] [--nics a,b]
              [--boot-spec FILE] [--cmdline FILE] [--hooks-dir DIR] [--drift off|report|enforce]
              [--lldp on|off] [--ovs-rundir DIR | --ovsdb REMOTE] [--host-id ID]
              [--cluster URL[,URL]] [--advertise HOST:PORT] [--boot-id ID]
    vdsm-netd plan [--backend memory|netlink] [--nics a,b] [--format json|text|dot] -f REQUEST.json
    vdsm-netd fleet --hosts N --listen HOST:BASEPORT [--cluster URL[,URL]] [--nics a,b]
                    [--vhost-port PORT] [--fault HOSTSPEC:KIND[=VALUE]]...
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from vdsm_net import __version__
from vdsm_net.backends.factory import make_backend
from vdsm_net.backends.kinds import without_ovsdb
from vdsm_net.cluster.keys import DEFAULT_HOST_TTL, DEFAULT_PREFIX
from vdsm_net.engine.plan.show import plan_dot, plan_text
from vdsm_net.model.errors import NetworkError
from vdsm_net.model.ops import plan_to_json


def _add_backend_args(parser: argparse.ArgumentParser, default: str) -> None:
    parser.add_argument("--backend", choices=("netlink", "memory"), default=default,
                        help="netlink: the real kernel; memory: a simulated one")
    parser.add_argument(
        "--nics", default="eth0,eth1,eth2,eth3",
        help="NIC names of the simulated kernel (memory backend only)",
    )
    parser.add_argument("--netns", default=None, help="work in this named network namespace")
    parser.add_argument(
        "--ovsdb", default=None, metavar="REMOTE",
        help="OVSDB of the Open vSwitch that carries switch=ovs networks, e.g. "
        "unix:/run/openvswitch/db.sock (netlink backend only; without it OVS networks fail)",
    )
    parser.add_argument(
        "--ovs-rundir", default=None, metavar="DIR",
        help="start (or reuse) ovsdb-server and ovs-vswitchd with everything under DIR, a "
        "tmpfs such as /run/vdsm-net/ovs (the database is created there when missing)",
    )


def read_request(path: str) -> dict[str, Any]:
    """A request body ``{"networks": .., "bondings": .., "options": ..}`` from a file or '-'."""
    if path == "-":
        text = sys.stdin.read()
    else:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    body = json.loads(text)
    if not isinstance(body, dict):
        raise ValueError("the request must be a JSON object")
    for key in ("networks", "bondings", "options"):
        if not isinstance(body.get(key, {}), dict):
            raise ValueError(f"'{key}' must be a JSON object")
    return body


def plan_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="vdsm-netd plan", description="Print the ordered plan for a setupNetworks request."
    )
    _add_backend_args(parser, default="memory")
    parser.add_argument("-f", "--file", required=True, help="request JSON file, or - for stdin")
    parser.add_argument("--format", choices=("json", "text", "dot"), default="json",
                        help="json (as Host.planNetworks answers), text, or dot (the device "
                             "graph for Graphviz: dot -Tsvg)")
    return parser


def plan_main(argv: Sequence[str]) -> int:
    args = plan_parser().parse_args(argv)
    from vdsm_net.engine.engine import Engine

    try:
        body = read_request(args.file)
        backend = make_backend(args.backend, args.nics, args.netns, args.ovsdb, args.ovs_rundir)
        no_ovs = args.backend == "netlink" and not (args.ovsdb or args.ovs_rundir)
        prepared = Engine(backend, missing_kinds=without_ovsdb({}) if no_ovs else None).prepare(
            body.get("networks", {}), body.get("bondings", {}), body.get("options", {})
        )
    except NetworkError as exc:
        print(f"vdsm-netd: error {exc.code}: {exc.message}", file=sys.stderr)
        return 1
    except (OSError, ValueError) as exc:
        print(f"vdsm-netd: {exc}", file=sys.stderr)
        return 1
    plan = prepared.plan
    if args.format == "json":  # the shape Host.planNetworks answers
        print(json.dumps({"plan": plan_to_json(plan)}, indent=2))
    elif args.format == "dot":
        sys.stdout.write(plan_dot(plan, prepared.observed, prepared.target))
    else:
        sys.stdout.write(plan_text(plan))
    return 0


FLEET_DESCRIPTION = (
    "Many simulated hosts (memory backend) in one process and one event loop: host k answers "
    "vdsm's verbs on BASEPORT+k as host id PREFIXk, boots ovirtmgmt on the first NIC, registers "
    "in etcd with --cluster, and every host also answers on one port by the host header of "
    "STOMP CONNECT."
)
FLEET_EPILOG = """faults (--fault HOSTSPEC:KIND[=VALUE], repeatable; HOSTSPEC all, K, A-B, a list):
  slow[=S]      every setupNetworks waits S seconds first (default 5)
  refuse[=CODE] every setupNetworks is refused with vdsm's code CODE (default 21)
  drop[=N]      the next N setupNetworks drop the caller's connection (default 1)
  drift[=S]     every S seconds a device of a network vanishes and the host sends
                |net|host_conn|no_id (default 10)"""


def fleet_parser() -> argparse.ArgumentParser:
    from vdsm_net.fleet.faults import KINDS

    parser = OneLineParser(prog="vdsm-netd fleet", description=FLEET_DESCRIPTION,
                           epilog=FLEET_EPILOG,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hosts", type=int, required=True, help="how many hosts")
    parser.add_argument("--listen", required=True, help="HOST:BASEPORT; host k on BASEPORT+k")
    parser.add_argument("--pki", default="/etc/pki/vdsm", help="vdsm's PKI layout directory")
    parser.add_argument("--nics", default="eth0,eth1,eth2,eth3",
                        help="each host's simulated NICs (the first carries ovirtmgmt)")
    parser.add_argument("--host-prefix", default="fleet-",
                        help="host k's id is PREFIXk (default fleet-)")
    parser.add_argument("--vhost-port", type=int, default=None,
                        help="the port serving every host by CONNECT's host header (default "
                             "BASEPORT+N; 0: none)")
    parser.add_argument("--advertise", default=None,
                        help="the address the registrations carry (default the listen "
                             "address, 127.0.0.1 for a wildcard)")
    parser.add_argument("--cluster", default=None, help="etcd URL[,URL]: register every host")
    _add_lease_args(parser)
    parser.add_argument("--workers", type=int, default=64,
                        help="threads running the verbs of every host (default 64)")
    parser.add_argument("--fault", action="append", default=[],
                        metavar="HOSTSPEC:KIND[=VALUE]",
                        help=f"a fault knob, KIND one of {', '.join(KINDS)} (see below)")
    parser.add_argument("--log-format", choices=("text", "json"), default="text",
                        help="text or json")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug lines")
    return parser


class OneLineParser(argparse.ArgumentParser):
    """A bad flag is one line on stderr and exit status 2 (argparse adds the whole usage)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


AGENT_DESCRIPTION = (
    "The host network agent: vdsm's network verbs (JSON-RPC 2.0 in STOMP 1.2 over mutual TLS, "
    "port 54321) applied to the kernel over netlink, with no state on disk."
)
AGENT_EPILOG = """commands:
  vdsm-netd plan -f REQUEST.json [--format text|json|dot]
                        print what a setupNetworks request would do, changing nothing
                        (see vdsm-netd plan --help)
  vdsm-netd fleet --hosts N --listen HOST:BASEPORT [--cluster URL]
                        N simulated hosts in one process, host k on BASEPORT+k, for a
                        manager at scale (see vdsm-netd fleet --help)

signals: SIGHUP reloads the PKI (for new connections) and the hooks; SIGTERM and SIGINT stop."""


def agent_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="vdsm-netd", description=AGENT_DESCRIPTION, epilog=AGENT_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--listen", default="[::]:54321", help="HOST:PORT (default [::]:54321)")
    parser.add_argument("--pki", default="/etc/pki/vdsm", help="vdsm's PKI layout directory")
    _add_backend_args(parser, default="netlink")
    parser.add_argument("--boot-spec", default=None, help="read-only JSON of the boot networks")
    parser.add_argument("--hooks-dir", default=None, help="directory of vdsm-style hooks")
    parser.add_argument("--drift", choices=("off", "report", "enforce"), default="report",
                        help="watch the kernel for changes behind our back: off, report them "
                             "in the capabilities, or repair them")
    parser.add_argument("--lldp", choices=("on", "off"), default="on",
                        help="receive LLDP on the NICs for Host.getLldp (real kernel only)")
    parser.add_argument("--metrics", default=None, metavar="HOST:PORT",
                        help="serve Prometheus /metrics and /healthz here (loopback only; off)")
    parser.add_argument("--log-format", choices=("text", "json"), default="text",
                        help="text (journald priorities when stderr is the journal) or json")
    _add_cluster_args(parser)
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="debug lines from vdsm-netd itself (not from its libraries)")
    return parser


def _add_cluster_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--cmdline", default=None,
        help="kernel command line in dracut's syntax (default /proc/cmdline, netlink backend "
             "without --netns only); its ip= is the boot spec when --boot-spec is not given")
    parser.add_argument("--host-id", default=None,
                        help="host id (default: DMI product UUID, else the mgmt NIC's MAC)")
    parser.add_argument("--cluster", default=None,
                        help="etcd URL[,URL]: register there (or vdsm_net.cluster= on the "
                             "command line)")
    parser.add_argument("--advertise", default=None,
                        help="HOST:PORT the manager connects to (default: the management "
                             "address and the listen port)")
    parser.add_argument("--boot-id", default=None,
                        help="the boot id registered (default: the kernel's; for simulated "
                             "hosts and tests that stand for a reboot)")
    _add_lease_args(parser)


def _add_lease_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cluster-prefix", default=DEFAULT_PREFIX, help="etcd key prefix")
    parser.add_argument("--cluster-ttl", type=int, default=DEFAULT_HOST_TTL,
                        help="registration lease TTL in seconds")


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list[:1] == ["plan"]:
        return plan_main(args_list[1:])
    if args_list[:1] == ["fleet"]:
        from vdsm_net.fleet.main import run as run_fleet

        return run_fleet(fleet_parser().parse_args(args_list[1:]))
    args = agent_parser().parse_args(args_list)
    from vdsm_net.agent import run

    return run(args)


if __name__ == "__main__":
    sys.exit(main())
