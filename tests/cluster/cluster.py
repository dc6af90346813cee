"""One whole cluster for the tier: etcd (three members, data under /run), a switch namespace,
three host namespaces each with its own vdsm-netd, and two managers.

Checks read the hosts' kernels directly (``ip -j`` in each namespace) and the managers' view
through ``vdsm-net-manager hosts --json``; nothing looks inside the manager.
"""

from __future__ import annotations

import copy
import ipaddress
import json
import os
import shutil
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rpc.tls.pki import init_pki
from tests.cluster.etcd_server import EtcdCluster, free_port
from tests.cluster.netns import HostNet, Switch
from tests.cluster.procs import Agent, Manager, hosts_json, manager_cli

RUN = Path("/run/vdsm-net-cluster-tier")
HOSTS = ("h1", "h2", "h3")
MANAGERS = ("m1", "m2")
LEASE_TTL = 5  # the managers' leader lease (their default)
RESYNC = 5.0  # the managers' periodic resync
POLL = 0.25

POOL = "10.88.0.0/24"
BASE_POLICY: dict[str, Any] = {
    "networks": {
        "data": {"bonding": "bond0", "vlan": 100, "bridged": False, "ipv4pool": POOL,
                 "required": True},
        "vmnet": {"bonding": "bond0", "vlan": 200, "bridged": True},
    },
    "bondings": {"bond0": {"nics": ["eth1", "eth2"], "options": "mode=active-backup miimon=100"}},
}

MEASURED: dict[str, list[float]] = {}


def measure(name: str, seconds: float) -> None:
    MEASURED.setdefault(name, []).append(seconds)
    print(f"MEASURED {name}: {seconds:.2f} s")


def wait_for(check: Callable[[], bool], timeout: float, what: str) -> float:
    """Seconds until ``check()`` holds; fails after ``timeout`` (a liveness bound, generous)."""
    start = time.monotonic()
    while True:
        if check():
            return time.monotonic() - start
        if time.monotonic() - start > timeout:
            raise AssertionError(f"not within {timeout:.0f} s: {what}")
        time.sleep(POLL)


def with_network(name: str, vlan: int, drop: tuple[str, ...] = ()) -> dict[str, Any]:
    """The base policy plus a bridgeless VLAN network on the bond, less ``drop``."""
    policy = copy.deepcopy(BASE_POLICY)
    policy["networks"][name] = {"bonding": "bond0", "vlan": vlan, "bridged": False}
    for gone in drop:
        del policy["networks"][gone]
    return policy


def top_device(name: str, attrs: dict[str, Any]) -> str:
    if attrs.get("bridged", True):
        return name
    base = attrs.get("bonding") or attrs["nic"]
    return f"{base}.{attrs['vlan']}" if "vlan" in attrs else str(base)


class Host:
    def __init__(self, name: str, index: int, switch: Switch, etcd: str, pki: Path) -> None:
        self.name = name
        self.net = HostNet(name, f"vnc-{name}-{os.getpid()}", switch)
        self.mgmt_ip = f"10.77.0.{10 + index}"
        self.cmdline = RUN / f"cmdline-{name}"
        self.cmdline.write_text(
            "BOOT_IMAGE=/vmlinuz ro quiet bridge=ovirtmgmt:eth0 "
            f"ip={self.mgmt_ip}:::24::ovirtmgmt:none vdsm_net.cluster={etcd}\n")
        self.agent = Agent(name, self.net.ns, free_port(), self.cmdline, pki, RUN)

    def has_network(self, name: str, attrs: dict[str, Any]) -> bool:
        """The network's devices are in the kernel (and its pool address, if it has a pool)."""
        top = top_device(name, attrs)
        if not self.net.has(top):
            return False
        if "ipv4pool" in attrs:
            return self.pool_address(name, attrs) is not None
        return True

    def pool_address(self, name: str, attrs: dict[str, Any]) -> str | None:
        pool = ipaddress.ip_network(attrs["ipv4pool"])
        for cidr in self.net.addresses(top_device(name, attrs)):
            if ipaddress.ip_interface(cidr).ip in pool:
                return cidr
        return None

    def matches(self, policy: dict[str, Any], absent: tuple[str, ...] = ()) -> bool:
        nets = policy["networks"]
        present = all(self.has_network(n, a) for n, a in nets.items())
        return present and not any(self.net.has(n) for n in absent)


class Cluster:
    def __init__(self) -> None:
        shutil.rmtree(RUN, ignore_errors=True)
        RUN.mkdir(parents=True)
        self.pki = RUN / "pki"
        init_pki(self.pki, host_cn="localhost")
        # raft timing for an emulated guest on a busy machine (etcd's defaults are 100/1000 ms)
        self.etcd = EtcdCluster(RUN / "etcd", n=3, heartbeat_ms=250, election_ms=2500)
        (RUN / "etcd").mkdir()
        self.switch = Switch(f"vnc-sw-{os.getpid()}")
        self.hosts = {name: Host(name, i + 1, self.switch, self.etcd.url, self.pki)
                      for i, name in enumerate(HOSTS)}
        self.managers = {name: Manager(name, self.etcd.url, self.pki, RUN, LEASE_TTL, RESYNC)
                         for name in MANAGERS}
        self.policy: dict[str, Any] = {}

    # -- life ------------------------------------------------------------------------------
    def start(self) -> None:
        self.switch.create()
        for host in self.hosts.values():
            host.net.create()
        self.etcd.start()
        for mgr in self.managers.values():
            mgr.start()
        self.set_policy(BASE_POLICY)

    def stop(self) -> None:
        for proc in [*self.managers.values(), *(h.agent for h in self.hosts.values())]:
            proc.stop()
        self.etcd.stop()
        for host in self.hosts.values():
            host.net.delete()
        self.switch.delete()

    def logs(self) -> dict[str, str]:
        out = {f"manager {m.name}": m.log() for m in self.managers.values()}
        out.update({f"agent {h.name}": h.agent.log() for h in self.hosts.values()})
        return out

    # -- the manager's command line ----------------------------------------------------------
    def set_policy(self, policy: dict[str, Any]) -> None:
        manager_cli(self.etcd.url, "policy", "set", "-f", "-", stdin=json.dumps(policy))
        self.policy = copy.deepcopy(policy)

    def states(self) -> dict[str, dict[str, Any]]:
        return hosts_json(self.etcd.url)

    def state(self, host: str) -> str | None:
        row = self.states().get(host)
        return None if row is None else row.get("state")

    def leader(self) -> str | None:
        done = manager_cli(self.etcd.url, "leader", check=False)
        if done.returncode:
            return None
        return done.stdout.strip() or None

    # -- waiting -------------------------------------------------------------------------------
    def converged(self, host: str, policy: dict[str, Any] | None = None,
                  absent: tuple[str, ...] = ()) -> bool:
        return (self.state(host) == "Up"
                and self.hosts[host].matches(policy or self.policy, absent))

    def wait_converged(self, hosts: tuple[str, ...] = HOSTS, timeout: float = 120.0,
                       absent: tuple[str, ...] = (), what: str = "converged") -> float:
        return wait_for(lambda: all(self.converged(h, absent=absent) for h in hosts),
                        timeout, f"{', '.join(hosts)} {what}")

    def wait_joined(self, hosts: tuple[str, ...] = HOSTS, timeout: float = 180.0,
                    ) -> dict[str, float]:
        """Seconds from each host's agent start until it is Up with the policy in its kernel."""
        joined: dict[str, float] = {}

        def all_joined() -> bool:
            for name in hosts:
                if name not in joined and self.converged(name):
                    joined[name] = time.monotonic() - self.hosts[name].agent.started_at
            return len(joined) == len(hosts)

        wait_for(all_joined, timeout, f"{', '.join(hosts)} joined")
        return joined

    def wait_state(self, host: str, state: str, timeout: float = 90.0) -> float:
        try:
            return wait_for(lambda: self.state(host) == state, timeout, f"{host} {state}")
        except AssertionError as exc:
            raise AssertionError(f"{exc}; {self.describe(host)}") from None

    def describe(self, host: str) -> str:
        """What the manager says of the host and what its kernel has, for a failure message."""
        links = self.hosts[host].net.links()
        kernel = {n: (lk.get("operstate"), lk.get("master")) for n, lk in sorted(links.items())}
        return f"manager: {self.states().get(host)}; kernel (operstate, master): {kernel}"

    def baseline(self) -> None:
        """Every test starts here: the base policy, no maintenance, every process running, all
        hosts Up with it."""
        for name, mgr in self.managers.items():
            if not mgr.alive:
                self.managers[name].start()
        self.etcd.start()  # any member a test stopped
        for host in self.hosts.values():
            host.agent.send(signal.SIGCONT)  # in case a test left it stopped
            for i in range(host.net.nics):
                self.switch.port(host.net.port_of(f"eth{i}"), up=True)
            if not host.agent.alive:
                host.agent.start()
            manager_cli(self.etcd.url, "maintenance", host.name, "off")
        if self.policy != BASE_POLICY:
            self.set_policy(BASE_POLICY)
        self.wait_converged(what="back at the base policy")
