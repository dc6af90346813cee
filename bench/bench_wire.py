"""Issue 5 benchmarks P1, P2 and P4: the agent over the wire against `ip -batch` / `ip -j`.
Run inside UML: ``tests/uml/run-tier.sh --bench bench/bench_wire.py [N ...] [options]``
(default N = 10 100 1000).

For each N, in one boot and a fresh netns per N: a ``vdsm-netd --backend netlink --netns NS``
subprocess on 127.0.0.1:0; Host.setupNetworks over mutual TLS (connectivityCheck "false")
creating N VLAN+bridge networks with an IPv4 address over one 802.3ad bond of two dummies
(bench/_kernel_work.py), then removing all N and the bond; against `ip -batch` doing the same
kernel work in another fresh netns. At the largest N, with the networks in place (P4):
Host.getCapabilities over the wire (median of --repeat calls) against `ip -j link show` plus
`ip -j addr show` in the same netns (median of --repeat). After each create the same request
is sent again (the identical re-apply): its time, and the kernel writes it made (the agent's
"plan applied" lines; none is 0 writes).

Every call starts with the agent idle (no CPU for 0.5 s); the table shows the agent's CPU during
the call and after the answer until idle (the drift monitor's compare). Options:
  --rounds R   alternate agent and ip -batch R times per N, keep the best of each (default 1);
  --repeat K   calls per median for P4 (default 5);
  --drift M    the agent's --drift (default report, the agent's own default);
  --profile    sample the agent with py-spy during the largest N's create, re-apply and remove,
               and print the top functions (bench/_wire_profile.py);
  --base DIR   first measure, at each N, the agent run from the vdsm_net and rpc in DIR (another
               revision: git archive main vdsm_net rpc | tar -x -C DIR), then this tree's:
               before and after in one boot (rows marked "base");
  --phases     also time Engine.setup and HostApi.setup_networks in this process (no wire) and
               the pieces of getCapabilities, to show where the time goes.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script by run-tier

from bench._kernel_work import create_batch, delete_batch, fresh_netns, ip, removal, request
from bench._results import record, wire_figures
from bench._wire_agent import BenchAgent, Timed, timed_call
from bench._wire_phases import WIRE_OPTIONS, caps_phases, drift_phases, median_time, setup_phases
from bench._wire_proc import settle
from bench._wire_profile import sampled, summary
from bench.bench_kernel import timed
from rpc.tls.pki import init_pki

DONE = {"code": 0, "message": "Done"}
GOALS = {"create": 0.5, "remove": 0.5, "caps": 0.5, "reapply": 0.05}  # issue 17


@dataclass
class Row:
    n: int
    label: str = ""  # "base": the agent from --base
    create: list[Timed] = field(default_factory=list)
    remove: list[Timed] = field(default_factory=list)
    reapply: list[Timed] = field(default_factory=list)
    reapply_writes: int = 0
    batch_create: list[float] = field(default_factory=list)
    batch_remove: list[float] = field(default_factory=list)
    caps: list[Timed] = field(default_factory=list)
    ip_show: float = 0.0
    phases: dict[str, float] = field(default_factory=dict)
    caps_phases: dict[str, float] = field(default_factory=dict)
    profiles: dict[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"{self.n} {self.label}".strip()
    drift_phases: dict[str, float] = field(default_factory=dict)


def bridges(ns: str) -> int:
    """How many bridges the namespace has (the outcome check of each create and remove)."""
    out = subprocess.run(["ip", "-n", ns, "-j", "link", "show", "type", "bridge"],
                         capture_output=True, text=True, check=True).stdout
    return len(json.loads(out or "[]"))


def ip_show(ns: str) -> None:
    ip("-n", ns, "-j", "link", "show")
    ip("-n", ns, "-j", "addr", "show")


def call_checked(agent: BenchAgent, cli: Any, params: dict[str, Any], ns: str, want: int) -> Timed:
    done = timed_call(agent, cli, "Host.setupNetworks", params)
    if done.result != DONE:
        raise RuntimeError(f"setupNetworks answered {done.result!r}")
    if (got := bridges(ns)) != want:
        raise RuntimeError(f"{got} bridges in {ns} after setupNetworks, expected {want}")
    return done


def writes_logged(log: str) -> int:
    """The kernel writes of the agent's "plan applied: K ops, W writes" lines in ``log``."""
    return sum(int(w) for w in re.findall(r"plan applied: \d+ ops, (\d+) writes", log))


def profiled(row: Row, key: str, work: Path, agent: BenchAgent, on: bool,
             call: Callable[[], Timed]) -> Timed:
    """``call()``, sampled by py-spy when ``on``; its summary in ``row.profiles[key]``."""
    if not on:
        return call()
    out = work / f"profile_{key}_{row.n}{row.label}.txt"
    with sampled(agent.pid, out):
        done = call()
        settle(agent.pid)  # the after-work counts too
    row.profiles[key] = summary(out)
    return done


def run(n: int, args: argparse.Namespace, pki: Path, work: Path, caps: bool,
        code: Path | None = None) -> Row:
    row = Row(n, "base" if code else "")
    ns_a, ns_b = f"wire_a{n}", f"wire_b{n}"
    nets, bonds = request(n)
    gone_nets, gone_bonds = removal(n)
    create = {"networks": nets, "bondings": bonds, "options": WIRE_OPTIONS}
    remove = {"networks": gone_nets, "bondings": gone_bonds, "options": WIRE_OPTIONS}
    fresh_netns(ns_a)
    fresh_netns(ns_b)
    agent = BenchAgent(pki, ns_a, work / f"agent_{n}{row.label}.log", args.drift, code)
    try:
        agent.start()
        with agent.client(timeout=60.0) as cli:
            for rnd in range(args.rounds):
                prof = args.profile and caps and rnd == 0
                row.create.append(profiled(row, "create", work, agent, prof,
                                           lambda: call_checked(agent, cli, create, ns_a, n)))
                before = writes_logged(agent.log())
                row.reapply.append(profiled(row, "reapply", work, agent, prof,
                                            lambda: call_checked(agent, cli, create, ns_a, n)))
                row.reapply_writes = max(row.reapply_writes, writes_logged(agent.log()) - before)
                if caps and rnd == 0:
                    row.caps = [timed_call(agent, cli, "Host.getCapabilities", {})
                                for _ in range(args.repeat)]
                    if len(row.caps[0].result["networks"]) != n:
                        raise RuntimeError("getCapabilities does not show every network")
                    row.ip_show = median_time(lambda: ip_show(ns_a), args.repeat)
                    if args.phases and code is None:  # (in this process: this tree's code)
                        row.caps_phases = caps_phases(ns_a, args.repeat)
                row.remove.append(profiled(row, "remove", work, agent, prof,
                                           lambda: call_checked(agent, cli, remove, ns_a, 0)))
                row.batch_create.append(
                    timed(lambda: ip("-n", ns_b, "-batch", "-", stdin=create_batch(n))))
                row.batch_remove.append(
                    timed(lambda: ip("-n", ns_b, "-batch", "-", stdin=delete_batch(n))))
        if (status := agent.stop()) != 0:
            raise RuntimeError(f"vdsm-netd exited with {status}\n{agent.log()[-4000:]}")
    finally:
        agent.stop()
        ip("netns", "del", ns_a)
        ip("netns", "del", ns_b)
    if args.phases and caps and code is None:
        row.drift_phases = drift_phases(n, args.repeat)
    for _ in range(args.rounds if args.phases and code is None else 0):  # best of rounds, as above
        for key, value in setup_phases(n, str(work / "dhcp")).items():
            row.phases[key] = min(value, row.phases.get(key, value))
    return row


def best(calls: list[Timed]) -> Timed:
    return min(calls, key=lambda t: t.wall)


def mid(calls: list[Timed]) -> Timed:
    return sorted(calls, key=lambda t: t.wall)[len(calls) // 2]


def verdict(ratio: float, goal: float) -> str:
    return f"{'ok' if ratio <= goal else 'MISS':>4}"


def print_tables(rows: list[Row]) -> None:
    print("\nP1/P2 setupNetworks over mutual TLS vs ip -batch (s; best of rounds; agent CPU s)")
    print(f"{'N':>9} {'create':>7} {'batch':>7} {'ratio':>6} {'<=0.5':>6} {'cpu':>6} "
          f"{'after':>6} {'remove':>7} {'batch':>7} {'ratio':>6} {'<=0.5':>6} {'cpu':>6} "
          f"{'after':>6}")
    for r in rows:
        c, d = best(r.create), best(r.remove)
        rc, rd = c.wall / min(r.batch_create), d.wall / min(r.batch_remove)
        print(f"{r.name:>9} {c.wall:>7.3f} {min(r.batch_create):>7.3f} {rc:>6.2f} "
              f"{verdict(rc, GOALS['create']):>6} {c.cpu:>6.2f} {c.tail_cpu:>6.2f} "
              f"{d.wall:>7.3f} {min(r.batch_remove):>7.3f} {rd:>6.2f} "
              f"{verdict(rd, GOALS['remove']):>6} {d.cpu:>6.2f} {d.tail_cpu:>6.2f}")
    print(f"\nidentical re-apply over the wire (best of rounds): s, share of the same create, "
          f"kernel writes (goal <= {GOALS['reapply']:.0%} of create, 0 writes)")
    for r in rows:
        c, a = best(r.create), best(r.reapply)
        share = a.wall / c.wall
        print(f"{r.name:>9} {a.wall:>7.3f} {100 * share:>6.1f}% {r.reapply_writes:>6} writes "
              f"{verdict(share, GOALS['reapply']) if not r.reapply_writes else 'MISS':>6} "
              f"cpu {a.cpu:.2f} after {a.tail_cpu:.2f}")
    for r in rows:
        if r.phases:
            p = r.phases
            print(f"  N={r.name} in-process (no wire), s: engine create {p['engine_create']:.3f}, "
                  f"verb create {p['api_create']:.3f}, engine remove {p['engine_remove']:.3f}, "
                  f"verb remove {p['api_remove']:.3f}")
    for r in rows:
        if r.drift_phases:
            p = r.drift_phases
            print(f"  N={r.name} --drift report, in-process: the create sends {int(p['events'])} "
                  f"netlink events, the monitor thread spends {p['monitor_cpu']:.2f} s CPU on "
                  f"them; one drift compare {p['compare']:.3f} s")
    for r in rows:
        for key, text in r.profiles.items():
            print(f"\nprofile of the agent, N={r.name} {key} (py-spy):\n{text}", end="")
    for r in rows:
        if not r.caps:
            continue
        m = mid(r.caps)
        ratio = m.wall / r.ip_show
        print(f"\nP4 getCapabilities with {r.n} networks vs ip -j link show + ip -j addr show "
              f"(median of {len(r.caps)})")
        print(f"{'N':>9} {'caps s':>7} {'ip -j s':>7} {'ratio':>6} {'<=0.5':>6} {'cpu':>6} "
              f"{'after':>6}")
        print(f"{r.name:>9} {m.wall:>7.3f} {r.ip_show:>7.3f} {ratio:>6.2f} "
              f"{verdict(ratio, GOALS['caps']):>6} {m.cpu:>6.2f} {m.tail_cpu:>6.2f}")
        if r.caps_phases:
            p = r.caps_phases
            print(f"  in-process, s: observe {p['observe']:.3f}, network caps "
                  f"{p['network_caps']:.3f}, host caps {p['host']:.3f}, whole verb "
                  f"{p['verb']:.3f}, json.dumps {p['json']:.3f}, client json.loads "
                  f"{p['loads']:.3f}; answer {int(p['bytes'])} bytes")


def isolate(work: Path) -> None:
    """The agent and the in-process verbs write the resolver file and DHCP state here, never
    to the host's (the UML guest's root is the host's filesystem)."""
    resolv = work / "resolv.conf"
    try:
        resolv.write_text(Path("/etc/resolv.conf").read_text())
    except OSError:
        resolv.write_text("nameserver 127.0.0.53\n")
    os.environ["VDSM_NET_RESOLV_CONF"] = str(resolv)
    os.environ["VDSM_NET_DHCP_RUN_DIR"] = str(work / "dhcp")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", nargs="*", type=int, default=[10, 100, 1000])
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--drift", choices=("off", "report", "enforce"), default="report")
    parser.add_argument("--phases", action="store_true")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--base", type=Path)
    args = parser.parse_args(argv)
    if os.environ.get("VDSM_NET_UML") != "1":
        print("bench_wire runs inside UML: tests/uml/run-tier.sh --bench bench/bench_wire.py",
              file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="bench_wire.") as tmp:
        work = Path(tmp)
        isolate(work)
        pki = work / "pki"
        init_pki(pki, host_cn="localhost")
        rows: list[Row] = []
        try:
            for n in args.sizes:
                for code in ([args.base.resolve()] if args.base else []) + [None]:
                    rows.append(run(n, args, pki, work, n == max(args.sizes), code))
                    print(f"N={n}{' base' if code else ''} done", flush=True)
        finally:  # what was measured is shown even when a later size fails
            print_tables(rows)
        record("bench_wire", wire_figures([r for r in rows if not r.label]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
