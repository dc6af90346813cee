"""The IPv6 sysctls are written in-process, and only where the file holds another value now."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from vdsm_net.dynamic.dhcp import DhcpManager, write_sysctls
from vdsm_net.model.desired import Network, RunningConfig

DEFAULTS = {"autoconf": "1", "accept_ra": "1"}  # the kernel's values on a new link


def fake_conf(root: Path, *links: str) -> Path:
    for link in links:
        (root / link).mkdir(parents=True)
        for key, value in DEFAULTS.items():
            (root / link / key).write_text(value + "\n")
    return root


def read(root: Path, link: str) -> tuple[str, str]:
    return ((root / link / "autoconf").read_text().strip(),
            (root / link / "accept_ra").read_text().strip())


def test_writes_only_what_differs(tmp_path: Path) -> None:
    root = fake_conf(tmp_path, "eth0", "eth1")
    writes = {("eth0", "autoconf"): 1, ("eth0", "accept_ra"): 2,
              ("eth1", "autoconf"): 0, ("eth1", "accept_ra"): 0}
    assert write_sysctls(writes, root) == ["eth0/accept_ra", "eth1/accept_ra", "eth1/autoconf"]
    assert read(root, "eth0") == ("1", "2") and read(root, "eth1") == ("0", "0")
    assert write_sysctls(writes, root) == []


def test_a_missing_link_is_skipped(tmp_path: Path) -> None:
    root = fake_conf(tmp_path, "eth0")
    writes = {("gone", "autoconf"): 0, ("eth0", "autoconf"): 0}
    assert write_sysctls(writes, root) == ["eth0/autoconf"]
    assert not (root / "gone").exists()


def test_an_unwritable_value_is_logged_and_the_rest_written(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root = fake_conf(tmp_path, "eth0", "eth1")
    (root / "eth0" / "autoconf").unlink()
    (root / "eth0" / "autoconf").mkdir()  # reading a directory fails with IsADirectoryError
    writes = {("eth0", "autoconf"): 0, ("eth1", "autoconf"): 0}
    assert write_sysctls(writes, root) == ["eth1/autoconf"]
    assert "cannot set" in caplog.text


def test_manager_without_netns_writes_directly_and_again_after_a_reset(tmp_path: Path) -> None:
    root = fake_conf(tmp_path / "conf", "v6", "plain")
    config = RunningConfig(networks={
        "v6": Network("v6", nic="eth0", bridged=True, ipv6autoconf=True),
        "plain": Network("plain", nic="eth1", bridged=True),
    })
    manager = DhcpManager(str(tmp_path / "run"), sysctl_root=root)
    try:
        manager.apply(config)
        assert read(root, "v6") == ("1", "2") and read(root, "plain") == ("0", "0")
        # the plan recreated the bridge: the kernel's defaults are back, the manager fixes them
        for key, value in DEFAULTS.items():
            (root / "v6" / key).write_text(value + "\n")
        manager.apply(config)
        assert read(root, "v6") == ("1", "2")
        assert manager._sysctl_thread is None  # no netns: no thread
    finally:
        manager.close()


def test_only_what_can_change_addresses_counts_as_touching_the_kernel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sysctl writes leave the addresses and routes alone (the engine need not look again);
    the flushes of a link leaving SLAAC do. ip(8) is stubbed: nothing runs on this host."""
    root = fake_conf(tmp_path / "conf", "v6")
    flushed: list[tuple[str, ...]] = []
    manager = DhcpManager(str(tmp_path / "run"), sysctl_root=root)
    monkeypatch.setattr(subprocess, "run", lambda argv, **_kw: flushed.append(tuple(argv)))
    auto = RunningConfig(networks={"v6": Network("v6", nic="eth0", ipv6autoconf=True)})
    try:
        manager.apply(auto)
        manager.apply(auto)
        assert manager.kernel_touches == 0 and read(root, "v6") == ("1", "2")
        manager.apply(RunningConfig())  # v6 leaves SLAAC: RAs off, its autoconf state flushed
        assert read(root, "v6") == ("0", "0")
        assert [a[:3] for a in flushed] == [("ip", "-6", "addr"), ("ip", "-6", "route")]
        assert manager.kernel_touches == 2
    finally:
        manager.close()
