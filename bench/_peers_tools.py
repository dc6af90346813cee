"""The peer tools run from the unpacked Debian packages (bench/fetch_peers.sh, .cache/peers/root)
inside a namespace the bench made: ifupdown2's ``ifup``/``ifdown`` and NetworkManager with its own
dbus-daemon. Each runs under ``ip netns exec``, whose private mount namespace gets tmpfs over the
fixed paths the tool writes (/etc/network, /run/network, /var/lib), so nothing reaches the files or
the networking of the machine the guest's root comes from."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from bench._peers_config import dbus_conf, ifupdown2_conf, interfaces_file, nm_conf

REPO = Path(__file__).resolve().parent.parent
CACHE = REPO / ".cache" / "peers" / "root"
FETCH = "bench/fetch_peers.sh"
IFUPDOWN2 = CACHE / "usr" / "share" / "ifupdown2" / "__main__.py"
ETC_IFUPDOWN2 = CACHE / "etc" / "network" / "ifupdown2"
# in the tool's own mount namespace: fresh tmpfs over each path, then the command
_PRIVATE = ('for d in $PRIVATE_DIRS; do mkdir -p "$d" && mount -t tmpfs none "$d" || exit 97; '
            'done; [ -z "${SETUP:-}" ] || sh -c "$SETUP" || exit 98; exec "$@"')


def available() -> str | None:
    """Why the peers cannot run (None when they can)."""
    for need in (IFUPDOWN2, CACHE / "usr/sbin/NetworkManager", CACHE / "usr/bin/nmcli"):
        if not need.exists():
            return f"{need} is missing: run {FETCH} (make bench does)"
    return None


def peer_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{CACHE}/usr/sbin:{CACHE}/usr/bin:{env.get('PATH', '/usr/sbin:/usr/bin')}"
    env["LD_LIBRARY_PATH"] = f"{CACHE}/usr/lib/x86_64-linux-gnu"
    env.update(extra)
    return env


def in_ns(ns: str, private: list[str], argv: list[str], setup: str = "") -> list[str]:
    """``argv`` in namespace ``ns``, with tmpfs over ``private`` and ``setup`` (sh) run first."""
    return ["env", f"PRIVATE_DIRS={' '.join(private)}", f"SETUP={setup}",
            "ip", "netns", "exec", ns, "sh", "-c", _PRIVATE, "sh", *argv]


def bridges_up(ns: str) -> int:
    """How many bridges of the namespace have their IPv4 address (the outcome check)."""
    out = subprocess.run(["ip", "-n", ns, "-j", "addr", "show", "type", "bridge"],
                         capture_output=True, text=True, check=True).stdout
    return sum(1 for link in json.loads(out or "[]")
               if any(a.get("family") == "inet" for a in link.get("addr_info", [])))


class Ifupdown2:
    """``ifup -a -i FILE`` / ``ifdown -a -i FILE`` on the workload's interfaces file."""

    def __init__(self, ns: str, work: Path, n: int) -> None:
        self.ns, self.work = ns, work
        self.state = work / "state"
        self.state.mkdir(parents=True, exist_ok=True)
        self.file = work / "interfaces"
        self.file.write_text(interfaces_file(n))
        (work / "ifupdown2.conf").write_text(ifupdown2_conf(self.state))
        (work / "bin").mkdir(exist_ok=True)
        for op in ("ifup", "ifdown"):
            link = work / "bin" / op
            if not link.exists():
                link.symlink_to(IFUPDOWN2)

    def argv(self, op: str) -> list[str]:
        etc = "/etc/network/ifupdown2"
        setup = (f"mkdir -p {etc} && cp {ETC_IFUPDOWN2}/addons.conf {etc}/ && "
                 f"cp {self.work}/ifupdown2.conf {etc}/")
        return in_ns(self.ns, ["/etc/network", "/run/network"],
                     ["/usr/bin/python3", str(self.work / "bin" / op), "-a", "-i", str(self.file)],
                     setup=setup)

    def run(self, op: str, timeout: float) -> tuple[float, bool]:
        """Seconds ``op`` took and whether it finished within ``timeout``."""
        return timed_run(self.argv(op), peer_env(PYTHONPATH=str(IFUPDOWN2.parent)),
                         timeout, self.work / f"{op}.log")


def timed_run(argv: list[str], env: dict[str, str], timeout: float,
              log: Path) -> tuple[float, bool]:
    """Run to the end or kill at ``timeout``: (seconds, finished). Failure raises with the log."""
    start = time.perf_counter()
    with open(log, "ab") as out:
        proc = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            rc = proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait()
            return time.perf_counter() - start, False
    if rc:
        raise RuntimeError(f"{argv[-4:]} exited {rc}: {log.read_text()[-2000:]}")
    return time.perf_counter() - start, True


def link_count(ns: str, kind: str) -> int:
    out = subprocess.run(["ip", "-n", ns, "-j", "link", "show", "type", kind],
                         capture_output=True, text=True, check=True).stdout
    return len(json.loads(out or "[]"))


def wait_for(check: Callable[[], bool], deadline: float, step: float = 0.2) -> bool:
    """Poll ``check`` until it holds (True) or ``deadline`` (time.monotonic) passes (False)."""
    while not check():
        if time.monotonic() >= deadline:
            return False
        time.sleep(step)
    return True


class NetworkManager:
    """NetworkManager and its own dbus-daemon in namespace ``ns``; ``nmcli`` per connection."""

    def __init__(self, ns: str, work: Path) -> None:
        self.ns, self.work = ns, work
        work.mkdir(parents=True, exist_ok=True)
        (work / "keyfiles").mkdir(exist_ok=True)
        (work / "conf.d").mkdir(exist_ok=True)
        self.bus = work / "bus"
        (work / "dbus.conf").write_text(dbus_conf(self.bus))
        (work / "nm.conf").write_text(nm_conf(work / "keyfiles"))
        self.env = peer_env(DBUS_SYSTEM_BUS_ADDRESS=f"unix:path={self.bus}")
        self.procs: list[subprocess.Popen[bytes]] = []

    def _spawn(self, argv: list[str], private: list[str], log: str) -> None:
        with open(self.work / log, "ab") as out:
            self.procs.append(subprocess.Popen(
                in_ns(self.ns, private, argv), env=self.env, stdout=out,
                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True))

    def start(self, timeout: float = 300.0) -> None:
        deadline = time.monotonic() + timeout
        self._spawn(["dbus-daemon", "--nofork", "--nopidfile",
                     f"--config-file={self.work / 'dbus.conf'}"], [], "dbus.log")
        if not wait_for(self.bus.exists, deadline):
            raise RuntimeError(f"dbus-daemon: no socket: {(self.work / 'dbus.log').read_text()}")
        self._spawn(["NetworkManager", "--no-daemon", f"--config={self.work / 'nm.conf'}",
                     f"--config-dir={self.work / 'conf.d'}"],
                    ["/var/lib", "/run/NetworkManager"], "nm.log")
        if not wait_for(self._running, deadline, step=0.5):
            raise RuntimeError(f"NetworkManager not running: {self.log()}")

    def _running(self) -> bool:
        if any(p.poll() is not None for p in self.procs):
            raise RuntimeError(f"NetworkManager or its dbus-daemon exited: {self.log()}")
        done = subprocess.run(["nmcli", "-t", "-f", "RUNNING", "general"], env=self.env,
                              capture_output=True, text=True, check=False)
        return done.returncode == 0 and done.stdout.strip() == "running"

    def log(self) -> str:
        return (self.work / "nm.log").read_text(errors="replace")[-3000:]

    def nmcli(self, args: list[str]) -> None:
        done = subprocess.run(["nmcli", *args], env=self.env, capture_output=True, text=True,
                              check=False)
        if done.returncode:
            raise RuntimeError(f"nmcli {' '.join(args[:6])}: {done.stderr.strip()}")

    def apply(self, commands: list[list[str]], done: Callable[[], bool],
              timeout: float) -> tuple[float, bool]:
        """Run the nmcli commands, then wait until ``done``: (seconds, within ``timeout``)."""
        start = time.perf_counter()
        deadline = time.monotonic() + timeout
        for args in commands:
            if time.monotonic() >= deadline:
                return time.perf_counter() - start, False
            self.nmcli(args)
        finished = wait_for(done, deadline)
        return time.perf_counter() - start, finished

    def stop(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                os.killpg(proc.pid, 15)
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, 9)
                    proc.wait()
        self.procs = []
