"""DHCPv4 clients and IPv6 autoconf for the networks that ask for them (vdsm-wire §4.4-§4.5).

One busybox ``udhcpc`` per DHCPv4 network, on its top device, in the backend's namespace. It keeps
its lease in memory; its event script (``vdsm_net.dhcp_hook``) configures the kernel and records
the lease as JSON under the run directory (/run or /tmp only: nothing persists a reboot). SLAAC is
the kernel's: per-interface ``autoconf``/``accept_ra`` sysctls, which are runtime only.

``DhcpManager.apply(config)`` is called after every successful setup: it starts the clients that
are missing, restarts those whose table changed (the default-route role moved), and stops with a
release those whose network is gone or no longer DHCP. ``poll()`` reports a new or changed lease
(the agent then emits ``|net|host_conn|no_id``). ``close()`` stops the clients without a release,
so an agent restart keeps the host's addresses.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vdsm_net.dhcp_hook import ENV_STATE, ENV_TABLE, START_SUFFIX, read_lease
from vdsm_net.kernel import MAIN_TABLE
from vdsm_net.model import RunningConfig
from vdsm_net.render import source_tables

log = logging.getLogger(__name__)

DEFAULT_RUN_DIR = "/run/vdsm-net/dhcp"
RUNTIME_ROOTS = ("/run/", "/tmp/")


@dataclass(frozen=True)
class ClientSpec:
    network: str
    ifname: str
    table: int  # 254 for the default-route network, else its source-routing table


def client_specs(config: RunningConfig) -> dict[str, ClientSpec]:
    """The DHCPv4 clients a config needs, by top device."""
    tables = source_tables(config)
    out: dict[str, ClientSpec] = {}
    for name, net in sorted(config.networks.items()):
        if net.bootproto == "dhcp" and net.top is not None:
            table = MAIN_TABLE if net.default_route else tables[name]
            out[net.top] = ClientSpec(name, net.top, table)
    return out


def slaac_settings(config: RunningConfig) -> dict[str, tuple[int, int]]:
    """``(autoconf, accept_ra)`` for every top device: RAs only where IPv6 is dynamic."""
    out: dict[str, tuple[int, int]] = {}
    for net in config.networks.values():
        if net.top is not None:
            dynamic = net.ipv6autoconf or net.dhcpv6
            out[net.top] = (int(net.ipv6autoconf), 2 if dynamic else 0)
    return out


class DhcpManager:
    def __init__(
        self,
        run_dir: str = DEFAULT_RUN_DIR,
        netns: str | None = None,
        on_change: Callable[[], None] | None = None,
        client: tuple[str, ...] = ("busybox", "udhcpc"),
    ) -> None:
        real = os.path.realpath(run_dir) + "/"
        if not real.startswith(RUNTIME_ROOTS):
            raise ValueError(f"the DHCP run directory must be under /run or /tmp, not {run_dir}")
        self.run_dir = Path(run_dir)
        self.netns = netns
        self.on_change = on_change
        self.client = client
        self._procs: dict[str, tuple[ClientSpec, subprocess.Popen[bytes]]] = {}
        self._seen: dict[str, tuple[str, str | None]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._monitor: threading.Thread | None = None

    # -- paths and processes -----------------------------------------------------------
    def _prefix(self) -> list[str]:
        return ["ip", "netns", "exec", self.netns] if self.netns else []

    def state_file(self, ifname: str) -> Path:
        return self.run_dir / f"{ifname}.lease4.json"

    def _script(self) -> Path:
        script = self.run_dir / "udhcpc-hook"
        if not script.exists():
            script.write_text(
                f'#!/bin/sh\nexec {sys.executable} -m vdsm_net.dhcp_hook "$@"\n', encoding="utf-8"
            )
            script.chmod(0o755)
        return script

    def _start(self, spec: ClientSpec) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        state = self.state_file(spec.ifname)
        argv = [*self._prefix(), *self.client, "-f", "-i", spec.ifname, "-s", str(self._script()),
                "-t", "5", "-T", "2", "-A", "3"]
        old = read_lease(state)
        if old is not None and old.get("table") == spec.table:
            argv += ["-r", str(old["address"]).split("/")[0]]
            state.with_name(state.name + START_SUFFIX).touch()  # keep it through the 1st deconfig
        elif old is not None:  # the table moved: the new client re-adds the lease there
            self._run_hook("deconfig", spec.ifname, int(old["table"]))
        env = dict(os.environ)
        env[ENV_STATE] = str(state)
        env[ENV_TABLE] = str(spec.table)
        pythonpath = str(Path(__file__).resolve().parent.parent)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (pythonpath, env.get("PYTHONPATH")) if p)
        proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self._procs[spec.ifname] = (spec, proc)
        log.info("dhcp: client on %s (table %d), pid %d", spec.ifname, spec.table, proc.pid)

    def _run_hook(self, action: str, ifname: str, table: int) -> None:
        env = dict(os.environ)
        env[ENV_STATE] = str(self.state_file(ifname))
        env[ENV_TABLE] = str(table)
        subprocess.run([*self._prefix(), str(self._script()), action], env=env, check=False,
                       capture_output=True)

    def _stop_client(self, ifname: str, release: bool) -> None:
        spec, proc = self._procs.pop(ifname)
        if release and proc.poll() is None:
            proc.send_signal(signal.SIGUSR2)  # release: udhcpc runs the deconfig hook
            deadline = time.monotonic() + 3
            while self.state_file(ifname).exists() and time.monotonic() < deadline:
                time.sleep(0.05)
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if release and self.state_file(ifname).exists():  # the client died early
            self._run_hook("deconfig", ifname, spec.table)
        self._seen.pop(ifname, None)
        log.info("dhcp: client on %s stopped%s", ifname, " (released)" if release else "")

    # -- the interface -----------------------------------------------------------------
    def apply(self, config: RunningConfig, blocking: Iterable[str] = (),
              timeout: float = 0.0) -> bool:
        """Make the clients and sysctls match ``config``; with ``blocking`` network names, wait
        up to ``timeout`` s for their leases (vdsm's blockingdhcp). True when all arrived."""
        specs = client_specs(config)
        with self._lock:
            for ifname in sorted(self._procs):
                spec, proc = self._procs[ifname]
                if specs.get(ifname) != spec or proc.poll() is not None:
                    self._stop_client(ifname, release=ifname not in specs)
            for ifname, spec in sorted(specs.items()):
                if ifname not in self._procs:
                    self._start(spec)
            for ifname, (autoconf, accept_ra) in sorted(slaac_settings(config).items()):
                self._sysctl(ifname, "autoconf", autoconf)
                self._sysctl(ifname, "accept_ra", accept_ra)
        wanted = [s.ifname for s in specs.values() if s.network in set(blocking)]
        return self.wait_for_leases(wanted, timeout)

    def _sysctl(self, ifname: str, key: str, value: int) -> None:
        path = f"/proc/sys/net/ipv6/conf/{ifname}/{key}"
        subprocess.run([*self._prefix(), "sh", "-c", 'echo "$1" > "$2"', "sh", str(value), path],
                       capture_output=True, check=False)

    def wait_for_leases(self, ifnames: Iterable[str], timeout: float) -> bool:
        names = list(ifnames)
        deadline = time.monotonic() + timeout
        while True:
            if all(self.state_file(n).exists() for n in names):
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.1)

    def leases(self) -> dict[str, dict[str, Any]]:
        """The current DHCPv4 leases, by interface."""
        out = {}
        for ifname in sorted(self._procs):
            lease = read_lease(self.state_file(ifname))
            if lease is not None:
                out[ifname] = lease
        return out

    def clients(self) -> dict[str, int]:
        """The running clients' pids, by interface."""
        return {n: p.pid for n, (_, p) in sorted(self._procs.items()) if p.poll() is None}

    def poll(self) -> bool:
        """True (and ``on_change`` called) when a lease is new or its address/router changed."""
        with self._lock:
            now = {n: (str(v["address"]), v.get("router")) for n, v in self.leases().items()}
            changed = any(self._seen.get(n) != v for n, v in now.items())
            self._seen = now
        if changed and self.on_change is not None:
            self.on_change()
        return changed

    def start_monitor(self, interval: float = 1.0) -> None:
        def loop() -> None:
            while not self._stop.wait(interval):
                try:
                    self.poll()
                except Exception:  # the monitor must outlive a bad state file
                    log.exception("dhcp monitor")

        self._monitor = threading.Thread(target=loop, name="dhcp-monitor", daemon=True)
        self._monitor.start()

    def close(self, release: bool = False) -> None:
        """Stop every client (by default without a release: the addresses stay leased)."""
        self._stop.set()
        if self._monitor is not None:
            self._monitor.join()
        with self._lock:
            for ifname in sorted(self._procs):
                self._stop_client(ifname, release)
