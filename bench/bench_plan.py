"""P7: the planner's cost. Run by hand: ``.venv/bin/python -m bench.bench_plan``.

- render + diff for N VLAN+bridge networks over a few bonds, from an empty observed state
  (goal: <= 1 s for 10 000 networks);
- the simulated apply of 1 000 such networks (time, writes), and the write count of an
  identical re-apply (must be 0).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from typing import TypeVar

from vdsm_net.backends.memory.kernel import MemoryKernel
from vdsm_net.engine.plan.planner import diff
from vdsm_net.engine.render import render, source_table
from vdsm_net.model.desired import Bond, Network, RunningConfig

T = TypeVar("T")
BONDS = 4
NICS_PER_BOND = 2


def config(networks: int, with_ip: bool = True) -> RunningConfig:
    bonds = {
        f"bond{b}": Bond(
            f"bond{b}", tuple(f"eth{b * NICS_PER_BOND + i}" for i in range(NICS_PER_BOND)),
            (("mode", "4"), ("miimon", "100")),
        )
        for b in range(BONDS)
    }
    nets: dict[str, Network] = {}
    tables: set[int] = set()
    for i in range(networks):
        name = f"net{i}"
        net = Network(
            name, bonding=f"bond{i % BONDS}", vlan=1 + i // BONDS, mtu=1500 + (i % 3) * 100,
        )
        if with_ip:
            subnet = f"10.{i // 250}.{i % 250}"
            net = replace(net, ipaddr=f"{subnet}.5", netmask="255.255.255.0")
            table = source_table(name)
            if table not in tables:  # adler32 collides on short names: skip those gateways
                tables.add(table)
                net = replace(net, gateway=f"{subnet}.1", default_route=(i == 0))
        nets[name] = net
    return RunningConfig(networks=nets, bonds=bonds)


def nics() -> list[str]:
    return [f"eth{i}" for i in range(BONDS * NICS_PER_BOND)]


def best_of(runs: int, fn: Callable[[], T]) -> tuple[float, float, T]:
    """The lowest wall and CPU seconds of ``runs`` calls (the machine is shared), and a result."""
    walls: list[float] = []
    cpus: list[float] = []
    for _ in range(runs):
        wall, cpu = time.perf_counter(), time.process_time()
        result = fn()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return min(walls), min(cpus), result


def bench_plan(networks: int) -> tuple[float, float, int]:
    cfg = config(networks)
    observed = MemoryKernel(nics()).observe()
    wall, cpu, plan = best_of(3, lambda: diff(render(cfg, observed), observed))
    return wall, cpu, len(plan)


def bench_apply(networks: int) -> tuple[int, int]:
    """Writes of a plan+apply from scratch, and of an identical re-apply right after."""
    cfg = config(networks)
    kernel = MemoryKernel(nics())
    observed = kernel.observe()
    for op in diff(render(cfg, observed), observed):
        kernel.apply(op)
    writes = kernel.writes
    observed = kernel.observe()
    for op in diff(render(cfg, observed), observed):
        kernel.apply(op)
    return writes, kernel.writes - writes


def main() -> None:
    print(f"{'what':<30}{'N':>7}{'wall s':>9}{'cpu s':>9}{'ops/writes':>12}")
    for n in (100, 1000, 10000):
        wall, cpu, ops = bench_plan(n)
        print(f"{'render+diff from empty':<30}{n:>7}{wall:>9.3f}{cpu:>9.3f}{ops:>12}")
    for n in (100, 1000):
        wall, cpu, (writes, again) = best_of(1, lambda n=n: bench_apply(n))  # type: ignore[misc]
        print(f"{'plan+simulated apply':<30}{n:>7}{wall:>9.3f}{cpu:>9.3f}{writes:>12}")
        print(f"{'identical re-apply (writes)':<30}{n:>7}{'':>9}{'':>9}{again:>12}")


if __name__ == "__main__":
    main()
