"""What every runner's guest must offer the kernel, e2e and cluster tiers (the modules are checked
by the guest's init before any test runs): several
network namespaces passing traffic over bonds, VLANs and bridges, daemons (dnsmasq handing out a
lease, ovsdb-server and ovs-vswitchd making a bridge, etcd answering), unix sockets and FIFOs in
TMPDIR, and the tiers' environment."""

from __future__ import annotations

import base64
import json
import os
import re
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.common.ovs_daemons import Daemon, open_vswitch


def sh(*argv: str) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=60)
    assert done.returncode == 0, f"{' '.join(argv)}: {done.stderr.strip()}"
    return done.stdout


def test_the_environment_names_the_runner() -> None:
    assert os.environ["VDSM_NET_GUEST"] in ("uml", "uml-xstate", "qemu-kvm", "qemu-tcg")
    assert os.environ["TMPDIR"] == "/run/tmp"


def test_sockets_and_fifos_live_in_tmpdir(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    assert fifo.is_fifo()
    path = str(tmp_path / "sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind(path)
        server.listen(1)
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.connect(path)
            conn, _ = server.accept()
            with conn:
                client.sendall(b"ping")
                assert conn.recv(4) == b"ping"


@pytest.fixture
def hosts() -> Iterator[tuple[str, str, str]]:
    """A switch namespace with a bridge, and two hosts with a bond of two veth NICs each, a VLAN
    100 on the bond and an address on it."""
    tag = f"s{os.getpid()}"
    sw, h1, h2 = f"{tag}sw", f"{tag}h1", f"{tag}h2"
    for ns in (sw, h1, h2):
        sh("ip", "netns", "add", ns)
    try:
        sh("ip", "-n", sw, "link", "add", "br0", "type", "bridge", "vlan_filtering", "0")
        sh("ip", "-n", sw, "link", "set", "br0", "up")
        for i, ns in enumerate((h1, h2), 1):
            sh("ip", "-n", ns, "link", "add", "bond0", "type", "bond", "mode", "active-backup")
            for nic in (1, 2):
                peer = f"p{i}{nic}"
                sh("ip", "link", "add", f"nic{nic}", "netns", ns, "type", "veth",
                   "peer", "name", peer, "netns", sw)
                sh("ip", "-n", sw, "link", "set", peer, "master", "br0", "up")
                sh("ip", "-n", ns, "link", "set", f"nic{nic}", "master", "bond0")
            sh("ip", "-n", ns, "link", "add", "link", "bond0", "name", "bond0.100",
               "type", "vlan", "id", "100")
            sh("ip", "-n", ns, "addr", "add", f"192.0.2.{i}/24", "dev", "bond0.100")
            for dev in ("bond0", "bond0.100"):
                sh("ip", "-n", ns, "link", "set", dev, "up")
        yield sw, h1, h2
    finally:
        for ns in (sw, h1, h2):
            subprocess.run(["ip", "netns", "del", ns], check=False)


def test_traffic_passes_between_namespaces_over_bond_and_vlan(hosts: tuple[str, str, str]) -> None:
    _, h1, _ = hosts
    deadline = time.monotonic() + 30
    while True:  # the bond's active port and the bridge's learning take a moment
        done = subprocess.run(["ip", "netns", "exec", h1, "busybox", "ping", "-c", "1", "-W", "1",
                               "192.0.2.2"],
                              capture_output=True, text=True, check=False)
        if done.returncode == 0 or time.monotonic() > deadline:
            break
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_daemon_in_one_namespace_serves_another(
    hosts: tuple[str, str, str], tmp_path: Path
) -> None:
    _, h1, h2 = hosts
    leases = tmp_path / "leases"
    pidfile = tmp_path / "pid"
    dnsmasq = Daemon("dnsmasq", [
        "ip", "netns", "exec", h1, "dnsmasq", "--keep-in-foreground", "--port=0",
        "--interface=bond0.100", "--bind-interfaces", "--dhcp-range=192.0.2.50,192.0.2.60,1h",
        f"--dhcp-leasefile={leases}", f"--pid-file={pidfile}"])
    try:
        dnsmasq.wait_for(pidfile.exists)  # written once its sockets are bound
        sh("ip", "-n", h2, "addr", "flush", "dev", "bond0.100")
        done = subprocess.run(
            ["ip", "netns", "exec", h2, "busybox", "udhcpc", "-i", "bond0.100", "-n", "-q",
             "-t", "10", "-T", "1", "-s", "/bin/true"],
            capture_output=True, text=True, check=False, timeout=60,
        )
        out = done.stdout + done.stderr
        got = re.search(r"lease of (192\.0\.2\.\d+) obtained", out)
        # dnsmasq picks the address from the client's MAC: any one of the range
        assert done.returncode == 0 and got is not None, out
        assert 50 <= int(got.group(1).rsplit(".", 1)[1]) <= 60, out
        assert got.group(1) in leases.read_text(encoding="utf-8").split()
    finally:
        dnsmasq.stop()


def test_open_vswitch_daemons_run_with_their_database_under_run() -> None:
    with open_vswitch() as remote:
        vsctl = ("ovs-vsctl", f"--db={remote}")
        sh(*vsctl, "--timeout=120", "add-br", "smokebr")
        deadline = time.monotonic() + 120
        while not Path("/sys/class/net/smokebr").exists():
            assert time.monotonic() < deadline, "ovs-vswitchd made no smokebr link"
            time.sleep(0.2)
        assert "smokebr" in sh(*vsctl, "list-br")
        sh(*vsctl, "--timeout=120", "del-br", "smokebr")


def _etcd(url: str, verb: str, body: dict[str, str]) -> dict[str, object]:
    req = urllib.request.Request(f"{url}/v3/kv/{verb}", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        answer: dict[str, object] = json.loads(resp.read())
        return answer


def test_etcd_runs_with_its_data_under_run() -> None:
    data = tempfile.mkdtemp(prefix="etcd-", dir="/run")
    url = "http://127.0.0.1:23790"
    etcd = Daemon("etcd", [
        "etcd", "--name", "smoke", "--data-dir", data, "--listen-client-urls", url,
        "--advertise-client-urls", url, "--listen-peer-urls", "http://127.0.0.1:23800",
        "--initial-advertise-peer-urls", "http://127.0.0.1:23800",
        "--initial-cluster", "smoke=http://127.0.0.1:23800"])

    def answers() -> bool:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as resp:
                return b"true" in resp.read()
        except OSError:
            return False

    try:
        etcd.wait_for(answers)
        key = base64.b64encode(b"/smoke/k").decode()
        _etcd(url, "put", {"key": key, "value": base64.b64encode(b"v").decode()})
        kvs = _etcd(url, "range", {"key": key})["kvs"]
        assert isinstance(kvs, list)
        assert base64.b64decode(kvs[0]["value"]) == b"v"
    finally:
        etcd.stop()
