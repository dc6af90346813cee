"""OVS networks next to legacy ones on the real kernel (issue 14). Run inside the guest:
``tests/uml/run-tier.sh --bench bench/bench_ovs.py [--log] [N ...]`` (default N = 10 100 1000;
``--log`` prints each OVSDB transaction's build, commit, ovs-vswitchd and kernel-settle times).

For each N, in fresh namespaces: Engine.setup creating N networks with an IPv4 address over one
802.3ad bond of two dummies (the workload of ``bench_kernel``), then removing them all; once as
legacy VLAN+bridge networks (netlink backend), once as ``switch: ovs`` networks (one OVS bridge on
the bond, N internal ports with access tags) with ovs-vswitchd running in the namespace and its
database under /run. An identical re-apply of the OVS request must write nothing. The
baseline is one ``ovs-vsctl`` call doing the same OVS work (the bridge, the bond as its port, N
tagged internal ports; it waits for ovs-vswitchd too) and one ``del-br``, in a third namespace.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script by run-tier

from bench._kernel_work import BOND, fresh_netns, ip, removal, request
from tests.common.ovs_daemons import open_vswitch
from vdsm_net.backends.base import Backend
from vdsm_net.backends.netlink.backend import NetlinkBackend
from vdsm_net.backends.ovs.backend import OvsBackend
from vdsm_net.engine.engine import Engine

OPTIONS = {"connectivityCheck": False}


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def ovs_request(n: int) -> tuple[dict[str, Any], dict[str, Any]]:
    nets, bonds = request(n)
    return ({name: {**attrs, "switch": "ovs"} for name, attrs in nets.items()},
            {BOND: {**bonds[BOND], "switch": "ovs"}})


def vsctl(remote: str, *args: str) -> None:
    subprocess.run(["ovs-vsctl", f"--db={remote}", "--timeout=3600", *args], check=True,
                   capture_output=True)


def vsctl_create(remote: str, n: int) -> None:
    """One ovs-vsctl call: the bond (made with ip), its bridge and N tagged internal ports."""
    args = ["add-br", "vdsmbr_bench", "--", "add-port", "vdsmbr_bench", BOND]
    for i in range(n):
        args += ["--", "add-port", "vdsmbr_bench", f"net{i}", f"tag={i + 1}",
                 "--", "set", "Interface", f"net{i}", "type=internal"]
    vsctl(remote, *args)


def baseline(n: int) -> dict[str, float]:
    ns = f"bench_v{n}"
    fresh_netns(ns)
    try:
        ip("-n", ns, "link", "add", BOND, "type", "bond", "mode", "802.3ad")
        with open_vswitch(ns) as remote:
            return {"create": timed(lambda: vsctl_create(remote, n)),
                    "remove": timed(lambda: vsctl(remote, "del-br", "vdsmbr_bench"))}
    finally:
        ip("netns", "del", ns)


def life(backend: Backend, n: int, nets: dict[str, Any], bonds: dict[str, Any]
         ) -> dict[str, float]:
    engine = Engine(backend)
    out = {"create": timed(lambda: engine.setup(nets, bonds, OPTIONS))}
    before = backend.writes  # type: ignore[attr-defined]
    out["reapply"] = timed(lambda: engine.setup(nets, bonds, OPTIONS))
    out["reapply_writes"] = backend.writes - before  # type: ignore[attr-defined]
    gone_nets, gone_bonds = removal(n)
    out["remove"] = timed(lambda: engine.setup(gone_nets, gone_bonds, OPTIONS))
    left = [name for name, link in backend.observe().links.items() if link.tag]
    assert not left, left
    return out


def run(n: int) -> dict[str, dict[str, float]]:
    ns_l, ns_o = f"bench_l{n}", f"bench_o{n}"
    fresh_netns(ns_l)
    fresh_netns(ns_o)
    try:
        legacy = NetlinkBackend(ns_l)
        try:
            out = {"legacy": life(legacy, n, *request(n))}
        finally:
            legacy.close()
        with open_vswitch(ns_o) as remote:
            ovs = OvsBackend(remote, ns_o)
            try:
                out["ovs"] = life(ovs, n, *ovs_request(n))
            finally:
                ovs.close()
        out["vsctl"] = baseline(n)
        return out
    finally:
        ip("netns", "del", ns_l)
        ip("netns", "del", ns_o)


def main(argv: list[str]) -> None:
    if "--log" in argv:  # where an OVS apply's time goes: one line per OVSDB transaction
        logging.basicConfig(stream=sys.stdout, format="  %(message)s")
        logging.getLogger("vdsm_net.backends.ovs").setLevel(logging.DEBUG)
        argv = [a for a in argv if a != "--log"]
    sizes = [int(a) for a in argv] or [10, 100, 1000]
    print(f"{'N':>6} {'legacy create s':>15} {'ovs create s':>12} {'ovs-vsctl s':>11} "
          f"{'legacy remove s':>15} {'ovs remove s':>12} {'del-br s':>8} "
          f"{'ovs reapply s':>13} {'writes':>6}")
    for n in sizes:
        r = run(n)
        leg, ovs, base = r["legacy"], r["ovs"], r["vsctl"]
        print(f"{n:>6} {leg['create']:>15.3f} {ovs['create']:>12.3f} {base['create']:>11.3f} "
              f"{leg['remove']:>15.3f} {ovs['remove']:>12.3f} {base['remove']:>8.3f} "
              f"{ovs['reapply']:>13.3f} {int(ovs['reapply_writes']):>6}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
