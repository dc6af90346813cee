"""Issue 16 item 2: the manager with a fleet of simulated hosts, on this machine (no guest).

    .venv/bin/python bench/bench_fleet.py [--hosts 1000] [--parallel 32] [--rate 50]

A real etcd on loopback, ``vdsm-netd fleet`` (one process) and two ``vdsm-net-manager run``
processes, all as this user. Measured, in this order:

1. join: the policy is set and the managers run; the fleet starts and every host registers at
   once. Time from the fleet's start to its ``ready`` (every host booted and listening), to
   all registered, and to all ``Up``;
2. change: a policy change (one more VLAN network) until every host is ``Up`` for it;
3. failover: another change, and the leader SIGKILLed once a third of the hosts have it; the
   time from the kill until the standby finished the rollout (and until it led).

The managers' CPU (user + system seconds, from /proc) and peak RSS, the fleet's CPU, and etcd's
traffic for each phase (requests and bytes received/sent by its gRPC server, from its /metrics
on loopback; this script's own polling, one range read of ``state/`` every half second, is
counted in) are printed with the load average. Goals (issue 16): join ≤ 60 s, change ≤ 30 s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from autonomic.etcd import EtcdStore
from autonomic.leader import leader_id
from tests.cluster.etcd_server import EtcdCluster
from vdsm_net.cluster.keys import Keys

BIN = Path(sys.executable).parent
POLL = 0.5
LIMIT = 600.0  # give up on a phase after this long


def policy(vlans: int) -> dict[str, Any]:
    nets = {f"vlan{100 + i}": {"nic": "eth1", "vlan": 100 + i, "bridged": True}
            for i in range(vlans)}
    nets["vmnet"] = {"nic": "eth2", "vlan": 10, "bridged": True, "ipv4pool": "10.20.0.0/20"}
    return {"networks": nets, "bondings": {}}


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mb(pid: int) -> float:
    text = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"VmHWM:\s+(\d+) kB", text)
    return int(match.group(1)) / 1024 if match else 0.0


def etcd_traffic(url: str) -> tuple[int, int, int]:
    """(requests handled, bytes received, bytes sent) by etcd's gRPC server so far."""
    text = urllib.request.urlopen(url + "/metrics", timeout=5).read().decode()
    handled = sum(float(m) for m in re.findall(
        r'^grpc_server_handled_total\{[^}]*\} (\S+)', text, re.M))
    received = sum(float(m) for m in re.findall(
        r'^etcd_network_client_grpc_received_bytes_total (\S+)', text, re.M))
    sent = sum(float(m) for m in re.findall(
        r'^etcd_network_client_grpc_sent_bytes_total (\S+)', text, re.M))
    return int(handled), int(received), int(sent)


class World:
    def __init__(self, tmp: Path, args: argparse.Namespace) -> None:
        self.tmp = tmp
        self.args = args
        (tmp / "etcd").mkdir()
        self.etcd = EtcdCluster(tmp / "etcd")
        self.pki = tmp / "pki"
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.store: EtcdStore | None = None
        self.keys = Keys()

    def start(self, name: str, argv: list[str]) -> subprocess.Popen[bytes]:
        with open(self.tmp / f"{name}.log", "ab") as out:
            proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
        self.procs[name] = proc
        return proc

    def manager(self, name: str) -> subprocess.Popen[bytes]:
        return self.start(name, [str(BIN / "vdsm-net-manager"), "run", "--etcd", self.etcd.url,
                                 "--id", name, "--pki", str(self.pki), "--lease-ttl", "5",
                                 "--parallel", str(self.args.parallel),
                                 "--rate", str(self.args.rate)])

    async def fleet(self) -> subprocess.Popen[bytes]:
        """The fleet, on a port range below the ephemeral ports (another range when one of
        its ports is taken: the fleet then exits at once)."""
        for _ in range(5):
            base = random.randrange(20000, 32000 - self.args.hosts)
            proc = self.start("fleet", [str(BIN / "vdsm-netd"), "fleet", "--hosts",
                                        str(self.args.hosts), "--listen", f"127.0.0.1:{base}",
                                        "--pki", str(self.pki), "--cluster", self.etcd.url,
                                        "--vhost-port", "0", "--workers", "64"])
            while proc.poll() is None and "ready" not in (self.tmp / "fleet.log").read_text():
                await asyncio.sleep(0.1)
            if proc.poll() is None:
                return proc
        raise RuntimeError("the fleet could not listen: " + (self.tmp / "fleet.log").read_text())

    async def set_policy(self, doc: dict[str, Any]) -> int:
        assert self.store is not None
        await self.store.put(self.keys.policy(), json.dumps(doc, sort_keys=True).encode())
        entry = await self.store.get(self.keys.policy())
        assert entry is not None
        return entry.mod_revision

    async def count(self, prefix: str, check: Any = None) -> int:
        assert self.store is not None
        entries, _ = await self.store.range(prefix)
        if check is None:
            return len(entries)
        return sum(1 for e in entries if check(json.loads(e.value)))

    async def until(self, what: str, prefix: str, check: Any, want: int,
                    during: Any = None) -> float:
        start = time.monotonic()
        while True:
            done = await self.count(prefix, check)
            if done >= want:
                return time.monotonic() - start
            if during is not None:
                await during(done)
            if time.monotonic() - start > LIMIT:
                raise RuntimeError(f"{what}: {done} of {want} after {LIMIT} s")
            await asyncio.sleep(POLL)

    async def leader(self) -> str | None:
        assert self.store is not None
        entry = await self.store.get(self.keys.leader())
        return leader_id(entry.value if entry else None)


def up_for(rev: int) -> Any:
    return lambda doc: doc.get("state") == "Up" and str(doc.get("generation", "")).startswith(
        f"{rev}/")


class Meter:
    """CPU, RSS and etcd traffic over one phase."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.cpu = self._cpu()
        self.etcd = etcd_traffic(world.etcd.urls[0])

    def _cpu(self) -> dict[str, float]:
        return {n: cpu_seconds(p.pid) for n, p in self.world.procs.items() if p.poll() is None}

    def report(self, phase: str, seconds: float) -> dict[str, Any]:
        now = self._cpu()
        handled, received, sent = (b - a for a, b in zip(self.etcd, etcd_traffic(
            self.world.etcd.urls[0]), strict=True))
        row = {"phase": phase, "seconds": round(seconds, 1),
               "cpu": {n: round(now[n] - self.cpu.get(n, 0.0), 1) for n in now},
               "rss_mb": {n: round(peak_rss_mb(p.pid), 1) for n, p in self.world.procs.items()
                          if p.poll() is None},
               "etcd": {"requests": handled, "received_mb": round(received / 1e6, 2),
                        "sent_mb": round(sent / 1e6, 2)},
               "load": [round(x, 2) for x in os.getloadavg()]}
        print(json.dumps(row), flush=True)
        return row


async def scenario(world: World) -> list[dict[str, Any]]:
    n = world.args.hosts
    keys = world.keys
    rows = []
    rev = await world.set_policy(policy(1))
    world.manager("m1")
    world.manager("m2")
    while await world.leader() is None:
        await asyncio.sleep(0.2)
    meter = Meter(world)
    started = time.monotonic()
    await world.fleet()
    booted = time.monotonic() - started
    await world.until("register", keys.hosts_prefix(), None, n)
    registered = time.monotonic() - started
    up = await world.until("join", keys.state_prefix(), up_for(rev), n)
    rows.append(meter.report(f"join: fleet up in {booted:.1f} s, all registered in "
                             f"{registered:.1f} s, all Up", time.monotonic() - started))

    meter = Meter(world)
    rev = await world.set_policy(policy(2))
    up = await world.until("change", keys.state_prefix(), up_for(rev), n)
    rows.append(meter.report("policy change to all", up))

    leader = await world.leader()
    meter = Meter(world)
    rev = await world.set_policy(policy(3))
    killed: list[float] = []

    async def kill_at_a_third(done: int) -> None:
        if not killed and done >= n // 3 and leader in world.procs:
            world.procs[leader].send_signal(signal.SIGKILL)
            world.procs[leader].wait()
            del world.procs[leader]
            killed.append(time.monotonic())

    total = await world.until("failover", keys.state_prefix(), up_for(rev), n,
                              during=kill_at_a_third)
    after = time.monotonic() - killed[0] if killed else float("nan")
    rows.append(meter.report(f"change with leader {leader} killed at 1/3: {after:.1f} s "
                             f"from the kill, standby {await world.leader()}", total))
    return rows


async def amain(world: World) -> list[dict[str, Any]]:
    world.store = EtcdStore(world.etcd.url)
    try:
        return await scenario(world)
    finally:
        await world.store.close()


def cleanup(world: World) -> None:
    for name, proc in world.procs.items():
        proc.send_signal(signal.SIGTERM if name == "fleet" else signal.SIGKILL)
    for proc in world.procs.values():
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
    world.etcd.stop()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--hosts", type=int, default=1000)
    p.add_argument("--parallel", type=int, default=32)
    p.add_argument("--rate", type=float, default=50.0)
    p.add_argument("--keep-logs", default=None, help="copy the processes' logs to this dir")
    args = p.parse_args()
    from rpc.tls.pki import init_pki

    with tempfile.TemporaryDirectory(prefix="bench-fleet-") as tmp:
        world = World(Path(tmp), args)
        init_pki(world.pki, host_cn="localhost")
        world.etcd.start()
        try:  # whatever ends the run (^C included), nothing is left running
            rows = asyncio.run(amain(world))
        finally:
            cleanup(world)
            if args.keep_logs:
                for log in Path(tmp).glob("*.log"):
                    (Path(args.keep_logs) / log.name).write_bytes(log.read_bytes())
    print(json.dumps({"hosts": args.hosts, "parallel": args.parallel, "rate": args.rate,
                      "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
