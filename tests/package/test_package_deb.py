"""The Debian package (``make deb``), unpacked into a scratch root with ``dpkg -x``: the three
commands, the unit, the man pages, the completion and the examples are where Debian expects
them, and the unpacked code (not the work tree) runs."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
from pathlib import Path

import pytest

DEB = os.environ.get("VDSM_NET_DEB")
pytestmark = pytest.mark.skipif(not DEB, reason="make test-package builds the package first")
WAIT = 120.0

EXPECTED = {
    "usr/bin/vdsm-netd", "usr/bin/vdsm-net-client", "usr/bin/vdsm-net-pki",
    "lib/systemd/system/vdsm-netd.service",
    "usr/share/man/man8/vdsm-netd.8.gz", "usr/share/man/man1/vdsm-net-client.1.gz",
    "usr/share/man/man1/vdsm-net-pki.1.gz",
    "usr/share/bash-completion/completions/vdsm-net-client",
    "usr/share/bash-completion/completions/vdsm-netd",
    "usr/share/doc/vdsm-net/copyright",
    "usr/share/doc/vdsm-net/examples/bond-vlan.json",
    "usr/lib/python3/dist-packages/vdsm_net/agent.py",
    "usr/lib/python3/dist-packages/rpc/server.py",
}


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("deb-root")
    subprocess.run(["dpkg", "-x", str(DEB), str(out)], check=True, timeout=WAIT)
    return out


def _files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() or p.is_symlink()}


def test_the_files_are_where_debian_expects_them(root: Path) -> None:
    files = _files(root)
    missing = sorted(EXPECTED - files)
    assert not missing
    assert not [f for f in files if "/tests/" in f or f.endswith((".pyc", ".orig"))]
    assert not [f for f in files if f.startswith(("etc/", "var/"))]  # nothing persistent


def test_the_package_names_its_dependencies() -> None:
    info = subprocess.run(["dpkg-deb", "-f", str(DEB), "Depends", "Package", "Architecture"],
                          capture_output=True, text=True, check=True, timeout=WAIT).stdout
    assert "Package: vdsm-net" in info and "Architecture: all" in info
    for dep in ("python3-pyroute2", "python3-cryptography", "python3-prometheus-client",
                "python3-openvswitch", "iproute2"):
        assert dep in info


def test_the_man_pages_are_the_generated_ones(root: Path) -> None:
    page = gzip.decompress((root / "usr/share/man/man8/vdsm-netd.8.gz").read_bytes()).decode()
    assert page.startswith(".TH VDSM-NETD 8 ")
    for flag in ("\\-\\-metrics", "\\-\\-log\\-format", "\\-\\-boot\\-spec", "SIGHUP"):
        assert flag in page
    client = gzip.decompress((root / "usr/share/man/man1/vdsm-net-client.1.gz").read_bytes())
    assert b"Host.setupNetworks" in client


def test_the_unpacked_commands_run_from_the_package(root: Path) -> None:
    site = root / "usr/lib/python3/dist-packages"
    # -S: no site processing, so the work tree's editable install cannot win; the libraries
    # come from the venv's site-packages, after the package's own directory
    libs = [p for p in sys.path if p.endswith("site-packages")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), *libs])}
    where = subprocess.run(
        [sys.executable, "-S", "-c",
         "import vdsm_net, rpc; print(vdsm_net.__file__, rpc.__file__)"],
        capture_output=True, text=True, env=env, check=True, timeout=WAIT,
        cwd=root).stdout.split()  # not the work tree: "" on sys.path is the cwd
    assert all(path.startswith(str(site)) for path in where)
    for cmd in ("vdsm-netd", "vdsm-net-client"):
        done = subprocess.run([sys.executable, "-S", str(root / "usr/bin" / cmd), "--version"],
                              capture_output=True, text=True, env=env, timeout=WAIT,
                              check=False, cwd=root)
        assert done.returncode == 0 and done.stdout.startswith(cmd), done.stderr
    unit = (root / "lib/systemd/system/vdsm-netd.service").read_text()
    assert "Type=notify" in unit and "ExecStart=/usr/bin/vdsm-netd " in unit
