"""Issue 17 items 2 and 3: the agent against the tools a user would otherwise pick, and its
restart adoption at scale. Run inside the guest:
``tests/uml/run-tier.sh --bench bench/bench_peers.py [N ...] [--cap S] [--tools T,...]``
(default N = 10 100 1000; needs bench/fetch_peers.sh, which make bench runs).

For each N, in one boot, each tool in a fresh namespace with the same workload
(bench/_kernel_work.py: N VLAN+bridge networks with IPv4 over an 802.3ad bond of two dummies):
`ip -batch` (the floor); the agent over mutual TLS (connectivity check off); ifupdown2
(``ifup -a -i FILE`` / ``ifdown -a -i FILE``, state in a fresh dir, bridge waits 0);
NetworkManager with its own dbus-daemon (one ``nmcli connection add`` per connection; created =
every bridge has its address; removed = one ``nmcli connection delete`` of all, no bridge left).
Create and remove are each capped at --cap seconds (default 900): a capped run reports how many
bridges were up. At the largest N the agent is restarted with the networks in the kernel
(adoption): seconds from its start to the first answered ping2 and to a getCapabilities showing
every network, and its RSS then. Figures go to bench/out/bench_peers.json (bench/_results.py).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script by run-tier

from bench._kernel_work import create_batch, delete_batch, fresh_netns, ip, removal, request
from bench._peers_config import nmcli_commands, nmcli_removal
from bench._peers_report import TOOLS, print_table
from bench._peers_tools import Ifupdown2, NetworkManager, available, bridges_up, link_count
from bench._results import record
from bench._wire_agent import BenchAgent, timed_call
from bench._wire_phases import WIRE_OPTIONS
from bench.bench_kernel import timed
from bench.bench_wire import call_checked, isolate
from rpc.tls.pki import init_pki

Figures = dict[str, Any]


def ip_batch(n: int, ns: str, work: Path, cap: float) -> Figures:
    return {"create": timed(lambda: ip("-n", ns, "-batch", "-", stdin=create_batch(n))),
            "remove": timed(lambda: ip("-n", ns, "-batch", "-", stdin=delete_batch(n)))}


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        kb = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
    return kb / 1024


def agent(n: int, ns: str, work: Path, cap: float, adopt: bool = False) -> Figures:
    """Create over the wire; with ``adopt``, restart the agent on the networks (timed), then
    remove through the new one."""
    nets, bonds = request(n)
    gone_nets, gone_bonds = removal(n)
    pki = work.parent / "pki"
    out: Figures = {}
    first = BenchAgent(pki, ns, work / "agent.log")
    first.start()
    with first.client(timeout=60.0) as cli:
        params = {"networks": nets, "bondings": bonds, "options": WIRE_OPTIONS}
        out["create"] = call_checked(first, cli, params, ns, n).wall
    current = first
    if adopt:
        first.stop()
        current = BenchAgent(pki, ns, work / "agent.log")
        start = time.perf_counter()
        current.start()  # returns once ping2 answers True
        out["adopt_ready"] = time.perf_counter() - start
        with current.client(timeout=60.0) as cli:
            caps = timed_call(current, cli, "Host.getCapabilities", {})
            if len(caps.result["networks"]) != n:
                raise RuntimeError("the restarted agent does not show every network")
            out["adopt_caps"] = out["adopt_ready"] + caps.wall
            out["rss_mb"] = rss_mb(current.pid)
    with current.client(timeout=60.0) as cli:
        params = {"networks": gone_nets, "bondings": gone_bonds, "options": WIRE_OPTIONS}
        out["remove"] = call_checked(current, cli, params, ns, 0).wall
    current.stop()
    return out


def ifupdown2(n: int, ns: str, work: Path, cap: float) -> Figures:
    tool = Ifupdown2(ns, work, n)
    out: Figures = {}
    out["create"], finished = tool.run("ifup", cap)
    out["created"] = bridges_up(ns)
    if finished and out["created"] == n:
        out["remove"], finished = tool.run("ifdown", cap)
        out["left"] = link_count(ns, "bridge")
    out["capped"] = not finished
    return out


def network_manager(n: int, ns: str, work: Path, cap: float) -> Figures:
    nm = NetworkManager(ns, work)
    out: Figures = {}
    try:
        nm.start()
        out["create"], finished = nm.apply(nmcli_commands(n), lambda: bridges_up(ns) == n, cap)
        out["created"] = bridges_up(ns)
        if finished:
            out["remove"], finished = nm.apply(
                nmcli_removal(n), lambda: link_count(ns, "bridge") == 0, cap)
            out["left"] = link_count(ns, "bridge")
        out["capped"] = not finished
    finally:
        nm.stop()
    return out


RUNS: dict[str, Callable[..., Figures]] = {
    "ip_batch": ip_batch, "agent": agent, "ifupdown2": ifupdown2,
    "network_manager": network_manager}


def one(tool: str, n: int, work: Path, cap: float, adopt: bool) -> Figures:
    ns = f"peer_{tool[:6]}{n}"
    tool_work = work / f"{tool}_{n}"
    tool_work.mkdir()
    fresh_netns(ns)
    try:
        if tool == "agent":
            return agent(n, ns, tool_work, cap, adopt=adopt)
        return RUNS[tool](n, ns, tool_work, cap)
    except (RuntimeError, OSError, TimeoutError) as exc:  # one tool's failure ends its run only
        print(f"N={n} {tool} failed: {exc}", file=sys.stderr)
        return {"error": str(exc)[-500:]}
    finally:
        ip("netns", "del", ns)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", nargs="*", type=int, default=[10, 100, 1000])
    parser.add_argument("--cap", type=float, default=900.0)
    parser.add_argument("--tools", default=",".join(TOOLS))
    args = parser.parse_args(argv)
    tools = args.tools.split(",")
    if os.environ.get("VDSM_NET_UML") != "1":
        print("bench_peers runs inside the guest: tests/uml/run-tier.sh --bench "
              "bench/bench_peers.py", file=sys.stderr)
        return 2
    if (why := available()) is not None and {"ifupdown2", "network_manager"} & set(tools):
        print(f"bench_peers: {why}", file=sys.stderr)
        return 2
    results: dict[str, dict[str, Figures]] = {t: {} for t in tools}
    with tempfile.TemporaryDirectory(prefix="bench_peers.") as tmp:
        work = Path(tmp)
        isolate(work)
        init_pki(work / "pki", host_cn="localhost")
        for n in args.sizes:
            for tool in tools:
                results[tool][str(n)] = one(tool, n, work, args.cap, n == max(args.sizes))
                print(f"N={n} {tool}: {results[tool][str(n)]}", flush=True)
                record("bench_peers", {"cap": args.cap, "tools": results})
    print_table(results, args.cap)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
