"""The Debian package (``make deb``), unpacked into a scratch root with ``dpkg -x``: the three
commands, the unit, the man pages, the completion and the examples are where Debian expects
them (test_package_debian12 installs and runs it on Debian 12)."""

from __future__ import annotations

import gzip
import subprocess
from pathlib import Path

from tests.package.conftest import WAIT

EXPECTED = {
    "usr/bin/vdsm-netd", "usr/bin/vdsm-net-client", "usr/bin/vdsm-net-pki",
    "usr/bin/vdsm-net-manager",
    "lib/systemd/system/vdsm-netd.service", "lib/systemd/system/vdsm-net-manager.service",
    "usr/share/man/man8/vdsm-net-manager.8.gz",
    "usr/share/man/man8/vdsm-netd.8.gz", "usr/share/man/man1/vdsm-net-client.1.gz",
    "usr/share/man/man1/vdsm-net-pki.1.gz",
    "usr/share/bash-completion/completions/vdsm-net-client",
    "usr/share/bash-completion/completions/vdsm-netd",
    "usr/share/bash-completion/completions/vdsm-net-pki",
    "usr/share/doc/vdsm-net/copyright",
    "usr/share/doc/vdsm-net/examples/bond-vlan.json",
    "usr/lib/python3/dist-packages/vdsm_net/agent.py",
    "usr/lib/python3/dist-packages/rpc/server.py",
    "usr/lib/python3/dist-packages/rpc/stomp/codec.py",
    "usr/lib/python3/dist-packages/rpc/tls/pki.py",
}


def _files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() or p.is_symlink()}


def test_the_files_are_where_debian_expects_them(root: Path) -> None:
    files = _files(root)
    missing = sorted(EXPECTED - files)
    assert not missing
    assert not [f for f in files if "/tests/" in f or f.endswith((".pyc", ".orig"))]
    assert not [f for f in files if f.startswith(("etc/", "var/"))]  # nothing persistent


def test_the_package_names_its_dependencies(deb: str) -> None:
    info = subprocess.run(["dpkg-deb", "-f", deb, "Depends", "Package", "Architecture"],
                          capture_output=True, text=True, check=True, timeout=WAIT).stdout
    assert "Package: vdsm-net" in info and "Architecture: all" in info
    for dep in ("python3-cryptography", "python3-prometheus-client", "python3-openvswitch",
                "iproute2"):
        assert dep in info
    assert "pyroute2" not in info  # the product speaks rtnetlink itself; only the tests use it


def test_the_man_pages_are_the_generated_ones(root: Path) -> None:
    page = gzip.decompress((root / "usr/share/man/man8/vdsm-netd.8.gz").read_bytes()).decode()
    assert page.startswith(".TH VDSM-NETD 8 ")
    for flag in ("\\-\\-metrics", "\\-\\-log\\-format", "\\-\\-boot\\-spec", "SIGHUP"):
        assert flag in page
    client = gzip.decompress((root / "usr/share/man/man1/vdsm-net-client.1.gz").read_bytes())
    assert b"Host.setupNetworks" in client
    manager = gzip.decompress((root / "usr/share/man/man8/vdsm-net-manager.8.gz").read_bytes())
    assert manager.startswith(b".TH VDSM-NET-MANAGER 8 ") and b"\\-\\-lease\\-ttl" in manager


def test_the_unit_starts_the_packaged_command(root: Path) -> None:
    unit = (root / "lib/systemd/system/vdsm-netd.service").read_text()
    assert "Type=notify" in unit and "ExecStart=/usr/bin/vdsm-netd " in unit
    unit = (root / "lib/systemd/system/vdsm-net-manager.service").read_text()
    assert "ExecStart=/usr/bin/vdsm-net-manager run " in unit
