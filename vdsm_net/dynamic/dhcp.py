"""DHCP clients and IPv6 autoconf for the networks that ask for them (vdsm-wire §4.4-§4.5).

One busybox ``udhcpc`` per DHCPv4 network, on its top device, in the backend's namespace. It keeps
its lease in memory; its event script (``dhcp_hook``) configures the kernel and records
the lease as JSON under the run directory (/run or /tmp only: nothing persists a reboot). One
``dhcp6_client`` per DHCPv6 network does the same for IPv6 (why our own: see there).
SLAAC is the kernel's: per-interface ``autoconf``/``accept_ra`` sysctls, which are runtime only;
a link that leaves SLAAC gets them off and loses its autoconf addresses and RA routes.

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
from concurrent.futures import BrokenExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vdsm_net.backends.netns import enter_netns
from vdsm_net.dynamic.dhcp_hook import ENV_STATE, ENV_TABLE, START_SUFFIX, read_lease
from vdsm_net.engine.render import source_tables
from vdsm_net.model.desired import RunningConfig
from vdsm_net.model.kernel import MAIN_TABLE

log = logging.getLogger(__name__)

DEFAULT_RUN_DIR = "/run/vdsm-net/dhcp"
RUNTIME_ROOTS = ("/run/", "/tmp/")
IPV6_CONF = Path("/proc/sys/net/ipv6/conf")


@dataclass(frozen=True)
class ClientSpec:
    network: str
    ifname: str
    table: int  # 254 for the default-route network, else its source-routing table
    family: int = 4


def client6_specs(config: RunningConfig) -> dict[str, ClientSpec]:
    """The DHCPv6 clients a config needs, by top device."""
    return {net.top: ClientSpec(name, net.top, MAIN_TABLE, 6)
            for name, net in sorted(config.networks.items()) if net.dhcpv6 and net.top}


def client_specs(config: RunningConfig) -> dict[str, ClientSpec]:
    """The DHCPv4 clients a config needs, by top device."""
    tables = source_tables(config)
    out: dict[str, ClientSpec] = {}
    for name, net in sorted(config.networks.items()):
        if net.bootproto == "dhcp" and net.top is not None:
            table = MAIN_TABLE if net.default_route else tables[name]
            out[net.top] = ClientSpec(name, net.top, table)
    return out


def write_sysctls(writes: dict[tuple[str, str], int], root: Path = IPV6_CONF) -> list[str]:
    """Write ``root/<ifname>/<key>`` where the file holds another value now (a recreated link is
    back at the kernel's defaults, so only the file itself says what is there). Returns the
    ``ifname/key`` names written; a link that is gone is skipped, another failure logged.
    Plain descriptors, not Python's file objects: a thousand networks are two thousand reads
    at every setup, and a file object costs several more system calls and allocations each."""
    written = []
    base = str(root)
    for (ifname, key), value in sorted(writes.items()):
        path = f"{base}/{ifname}/{key}"
        want = b"%d" % value
        try:
            if _read_small(path).strip() != want:
                fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
                try:
                    os.write(fd, want + b"\n")
                finally:
                    os.close(fd)
                written.append(f"{ifname}/{key}")
        except FileNotFoundError:
            log.debug("dhcp: no sysctl %s (the link is gone)", path)
        except OSError as exc:
            log.warning("dhcp: cannot set %s to %d: %s", path, value, exc)
    return written


def _read_small(path: str) -> bytes:
    fd = os.open(path, os.O_RDONLY)
    try:
        return os.read(fd, 64)
    finally:
        os.close(fd)


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
        sysctl_root: Path = IPV6_CONF,
    ) -> None:
        real = os.path.realpath(run_dir) + "/"
        if not real.startswith(RUNTIME_ROOTS):
            raise ValueError(f"the DHCP run directory must be under /run or /tmp, not {run_dir}")
        self.run_dir = Path(run_dir)
        self.netns = netns
        self.on_change = on_change
        self.client = client
        self._procs: dict[tuple[int, str], tuple[ClientSpec, subprocess.Popen[bytes]]] = {}
        self._seen: dict[tuple[int, str], tuple[str, str | None]] = {}
        self._slaac: set[str] = set()  # links this manager gave accept_ra=2
        # client starts and stops, deconfigs and flushes: what can change addresses and routes
        # behind the engine (a sysctl write cannot); the engine looks again only after one
        self.kernel_touches = 0
        self.sysctl_root = sysctl_root
        self._sysctl_thread: ThreadPoolExecutor | None = None  # in the netns; made on first use
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._monitor: threading.Thread | None = None

    # -- paths and processes -----------------------------------------------------------
    def _prefix(self) -> list[str]:
        return ["ip", "netns", "exec", self.netns] if self.netns else []

    def state_file(self, ifname: str, family: int = 4) -> Path:
        return self.run_dir / f"{ifname}.lease{family}.json"

    def _env(self, ifname: str, family: int, table: int) -> dict[str, str]:
        env = dict(os.environ)
        env[ENV_STATE] = str(self.state_file(ifname, family))
        env[ENV_TABLE] = str(table)
        pythonpath = str(Path(__file__).resolve().parent.parent)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (pythonpath, env.get("PYTHONPATH")) if p)
        return env

    def _client6(self, *args: str) -> list[str]:
        return [*self._prefix(), sys.executable, "-m", "vdsm_net.dynamic.dhcp6_client", *args]

    def _script(self) -> Path:
        script = self.run_dir / "udhcpc-hook"
        if not script.exists():
            script.write_text(
                f'#!/bin/sh\nexec {sys.executable} -m vdsm_net.dynamic.dhcp_hook "$@"\n',
                encoding="utf-8",
            )
            script.chmod(0o755)
        return script

    def _start(self, spec: ClientSpec) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        if spec.family == 6:
            self._spawn(spec, self._client6(spec.ifname))
            return
        state = self.state_file(spec.ifname)
        argv = [*self._prefix(), *self.client, "-f", "-i", spec.ifname, "-s", str(self._script()),
                "-t", "5", "-T", "2", "-A", "3"]
        old = read_lease(state)
        if old is not None and old.get("table") == spec.table:
            argv += ["-r", str(old["address"]).split("/")[0]]
            state.with_name(state.name + START_SUFFIX).touch()  # keep it through the 1st deconfig
        elif old is not None:  # the table moved: the new client re-adds the lease there
            self._run_hook("deconfig", spec.ifname, int(old["table"]))
        self._spawn(spec, argv)

    def _spawn(self, spec: ClientSpec, argv: list[str]) -> None:
        self.kernel_touches += 1
        proc = subprocess.Popen(argv, env=self._env(spec.ifname, spec.family, spec.table),
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        self._procs[(spec.family, spec.ifname)] = (spec, proc)
        log.info("dhcp: v%d client on %s (table %d), pid %d", spec.family, spec.ifname,
                 spec.table, proc.pid)

    def _run_hook(self, action: str, ifname: str, table: int, family: int = 4) -> None:
        self.kernel_touches += 1
        argv = ([*self._prefix(), str(self._script()), action] if family == 4
                else self._client6("--deconfig", ifname))
        subprocess.run(argv, env=self._env(ifname, family, table), check=False,
                       capture_output=True)

    def _stop_client(self, key: tuple[int, str], release: bool) -> None:
        spec, proc = self._procs.pop(key)
        self.kernel_touches += 1
        family, ifname = key
        state = self.state_file(ifname, family)
        if release and proc.poll() is None:
            proc.send_signal(signal.SIGUSR2)  # release: the client deconfigures its lease
            deadline = time.monotonic() + 3
            while state.exists() and time.monotonic() < deadline:
                time.sleep(0.05)
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if release and state.exists():  # the client died early
            self._run_hook("deconfig", ifname, spec.table, family)
        self._seen.pop(key, None)
        log.info("dhcp: v%d client on %s stopped%s", family, ifname,
                 " (released)" if release else "")

    # -- the interface -----------------------------------------------------------------
    def apply(self, config: RunningConfig, blocking: Iterable[str] = (),
              timeout: float = 0.0) -> bool:
        """Make the clients and sysctls match ``config``; with ``blocking`` network names, wait
        up to ``timeout`` s for their leases (vdsm's blockingdhcp). True when all arrived."""
        specs = {(4, n): s for n, s in client_specs(config).items()}
        specs.update({(6, n): s for n, s in client6_specs(config).items()})
        with self._lock:
            for key in sorted(self._procs):
                spec, proc = self._procs[key]
                if specs.get(key) != spec or proc.poll() is not None:
                    self._stop_client(key, release=key not in specs)
            for key, spec in sorted(specs.items()):
                if key not in self._procs:
                    self._start(spec)
            self._apply_slaac(slaac_settings(config))
        wanted = [(s.ifname, s.family) for s in specs.values() if s.network in set(blocking)]
        return self.wait_for_leases(wanted, timeout)

    def _apply_slaac(self, settings: dict[str, tuple[int, int]]) -> None:
        """Set the sysctls; a link that leaves SLAAC (its network removed, or autoconf off)
        gets them off and its autoconf addresses and RA routes flushed, so an RA that came
        between the plan and now leaves nothing behind."""
        leaving = sorted(self._slaac - {n for n, (_, ra) in settings.items() if ra})
        # RAs off first, then flush: the other way round an RA between the two brings the
        # autoconf address and route straight back
        self._write_sysctls({(n, key): 0 for n in leaving for key in ("autoconf", "accept_ra")})
        for ifname in leaving:
            if (6, ifname) not in self._procs:
                self._ip("-6", "addr", "flush", "dev", ifname, "scope", "global", "dynamic")
            self._ip("-6", "route", "flush", "dev", ifname, "proto", "ra")
            self._slaac.discard(ifname)
        writes: dict[tuple[str, str], int] = {}
        for ifname, (autoconf, accept_ra) in sorted(settings.items()):
            writes[ifname, "autoconf"] = autoconf
            writes[ifname, "accept_ra"] = accept_ra
            if accept_ra:
                self._slaac.add(ifname)
        self._write_sysctls(writes)

    def _ip(self, *args: str) -> None:
        self.kernel_touches += 1
        subprocess.run([*self._prefix(), "ip", *args], capture_output=True, check=False)

    def _write_sysctls(self, writes: dict[tuple[str, str], int]) -> list[str]:
        """Write the IPv6 sysctls that differ, from a thread that lives in the namespace
        (/proc/sys/net shows the namespace of the task that opens it): no process per apply,
        which cost a slow process start in UML at every setup. Without a netns, write here."""
        if not writes:
            return []
        if self.netns is None:
            return write_sysctls(writes, self.sysctl_root)
        if self._sysctl_thread is None:
            self._sysctl_thread = ThreadPoolExecutor(
                max_workers=1, thread_name_prefix="dhcp-sysctl",
                initializer=enter_netns, initargs=(self.netns,))
        try:
            return self._sysctl_thread.submit(write_sysctls, writes, self.sysctl_root).result()
        except BrokenExecutor:  # the thread could not enter the namespace: try anew next time
            log.error("dhcp: cannot enter netns %s to set the IPv6 sysctls", self.netns)
            self._sysctl_thread.shutdown(wait=True)
            self._sysctl_thread = None
            return []

    def wait_for_leases(self, wanted: Iterable[tuple[str, int]], timeout: float) -> bool:
        """Wait for the ``(ifname, family)`` leases; True when all are there."""
        files = [self.state_file(n, f) for n, f in wanted]
        deadline = time.monotonic() + timeout
        while True:
            if all(f.exists() for f in files):
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.1)

    def leases(self, family: int = 4) -> dict[str, dict[str, Any]]:
        """The current leases of one family, by interface."""
        out = {}
        for fam, ifname in sorted(self._procs):
            lease = read_lease(self.state_file(ifname, fam)) if fam == family else None
            if lease is not None:
                out[ifname] = lease
        return out

    def clients(self, family: int = 4) -> dict[str, int]:
        """The running clients' pids of one family, by interface."""
        return {n: p.pid for (f, n), (_, p) in sorted(self._procs.items())
                if f == family and p.poll() is None}

    def poll(self) -> bool:
        """True (and ``on_change`` called) when a lease is new or its address/router changed."""
        with self._lock:
            now = {(f, n): (str(v["address"]), v.get("router"))
                   for f in (4, 6) for n, v in self.leases(f).items()}
            changed = any(self._seen.get(n) != v for n, v in now.items())
            self._seen = now
        if changed and self.on_change is not None:
            self.on_change()
        return changed

    def start_monitor(
        self, interval: float = 1.0, on_change: Callable[[], None] | None = None
    ) -> None:
        """Poll the leases every ``interval`` s; ``on_change`` (else the constructor's) is called
        on a new or changed lease."""
        if on_change is not None:
            self.on_change = on_change
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
            for key in sorted(self._procs):
                self._stop_client(key, release)
            if self._sysctl_thread is not None:
                self._sysctl_thread.shutdown(wait=True)
                self._sysctl_thread = None
