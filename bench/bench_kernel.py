"""The engine against `ip -batch` on the real kernel (issue 3 benchmark). Run inside UML:
``tests/uml/run-tier.sh --bench bench/bench_kernel.py [N ...]`` (default N = 10 100 1000).

For each N, in fresh namespaces: (a) Engine.setup creating N VLAN+bridge networks with an IPv4
address over one 802.3ad bond of two dummies (no RPC); (b) `ip -batch` doing the same kernel work;
(c) removal of all N by the engine vs `ip -batch` deletes; (d) an identical re-apply (its kernel
writes must be 0; best of REPEAT). Prints a table with the ratios and the time of one observe(),
without and with the link counters (best of REPEAT). With --profile,
prints a cProfile of the engine's create and remove for the largest N: in UML every profiler clock
read is a trapped system call, so call counts are right but times are inflated many-fold (N=1000
takes minutes); profile at N=100.
"""

from __future__ import annotations

import cProfile
import pstats
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script by run-tier

from bench._kernel_work import (
    create_batch,
    delete_batch,
    fresh_netns,
    ip,
    removal,
    request,
)
from bench._results import record
from vdsm_net.backends.netlink.backend import NetlinkBackend
from vdsm_net.engine.engine import Engine

OPTIONS = {"connectivityCheck": False}
REPEAT = 5  # re-apply and observe: best of this many


def timed(fn: Callable[[], object], profile: bool = False) -> float:
    prof = cProfile.Profile() if profile else None
    start = time.perf_counter()
    if prof is not None:
        prof.enable()
    fn()
    if prof is not None:
        prof.disable()
    elapsed = time.perf_counter() - start
    if prof is not None:
        pstats.Stats(prof).sort_stats("cumulative").print_stats(25)
    return elapsed


def run(n: int, profile: bool) -> dict[str, float]:
    out: dict[str, float] = {}
    ns_e, ns_b = f"bench_e{n}", f"bench_b{n}"
    fresh_netns(ns_e)
    fresh_netns(ns_b)
    backend = NetlinkBackend(ns_e)
    try:
        engine = Engine(backend)
        nets, bonds = request(n)
        out["create"] = timed(lambda: engine.setup(nets, bonds, OPTIONS), profile)
        writes = backend.writes
        out["create_writes"] = writes
        # the best of a few (UML on a shared machine is noisy); the engine's own observe()
        # leaves the counters out, the statistics verbs' one reads them
        out["observe"] = min(timed(lambda: backend.observe(stats=False)) for _ in range(REPEAT))
        out["observe_stats"] = min(timed(backend.observe) for _ in range(REPEAT))
        out["reapply"] = min(timed(lambda: engine.setup(nets, bonds, OPTIONS))
                             for _ in range(REPEAT))
        out["reapply_writes"] = backend.writes - writes
        gone_nets, gone_bonds = removal(n)
        out["remove"] = timed(lambda: engine.setup(gone_nets, gone_bonds, OPTIONS), profile)
        left = [name for name, link in backend.observe().links.items() if link.tag]
        assert not left, left
    finally:
        backend.close()
    out["batch_create"] = timed(lambda: ip("-n", ns_b, "-batch", "-", stdin=create_batch(n)))
    out["batch_remove"] = timed(lambda: ip("-n", ns_b, "-batch", "-", stdin=delete_batch(n)))
    ip("netns", "del", ns_e)
    ip("netns", "del", ns_b)
    return out


def main(argv: list[str]) -> None:
    profile = "--profile" in argv
    sizes = [int(a) for a in argv if a != "--profile"] or [10, 100, 1000]
    rows = []
    for n in sizes:
        rows.append((n, run(n, profile=profile and n == sizes[-1])))
    print(f"{'N':>6} {'create s':>9} {'ip-batch s':>10} {'ratio':>6} {'remove s':>9} "
          f"{'ip-batch s':>10} {'ratio':>6} {'reapply s':>9} {'writes':>6} {'% create':>8}")
    for n, r in rows:
        print(f"{n:>6} {r['create']:>9.3f} {r['batch_create']:>10.3f} "
              f"{r['create'] / r['batch_create']:>6.2f} {r['remove']:>9.3f} "
              f"{r['batch_remove']:>10.3f} {r['remove'] / r['batch_remove']:>6.2f} "
              f"{r['reapply']:>9.3f} {int(r['reapply_writes']):>6} "
              f"{100 * r['reapply'] / r['create']:>7.1f}%")
    print("create writes:", {n: int(r["create_writes"]) for n, r in rows})
    print("one observe(stats=False) after create, s:",
          {n: round(r["observe"], 3) for n, r in rows})
    print("one observe() with counters, s:", {n: round(r["observe_stats"], 3) for n, r in rows})
    record("bench_kernel", {str(n): r for n, r in rows})


if __name__ == "__main__":
    main(sys.argv[1:])
