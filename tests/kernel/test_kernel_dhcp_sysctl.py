"""The IPv6 sysctls land in the manager's namespace, written from a thread that entered it."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tests.common.iproute import ip
from vdsm_net.dynamic.dhcp import IPV6_CONF, DhcpManager
from vdsm_net.model.desired import Network, RunningConfig

CONFIG = RunningConfig(networks={
    "auto": Network("auto", nic="dummy_0", bridged=False, ipv6autoconf=True),
    "plain": Network("plain", nic="dummy_1", bridged=False),
})


def sysctl(ns: str, link: str, key: str) -> str:
    return ip("netns", "exec", ns, "cat", f"/proc/sys/net/ipv6/conf/{link}/{key}").strip()


def test_sysctls_are_set_in_the_namespace_and_again_on_a_recreated_link(
    nics_ns: str, tmp_path: Path
) -> None:
    manager = DhcpManager(str(tmp_path / "run"), netns=nics_ns)
    try:
        manager.apply(CONFIG)
        assert (sysctl(nics_ns, "dummy_0", "autoconf"), sysctl(nics_ns, "dummy_0", "accept_ra")) \
            == ("1", "2")
        assert (sysctl(nics_ns, "dummy_1", "autoconf"), sysctl(nics_ns, "dummy_1", "accept_ra")) \
            == ("0", "0")
        assert not (IPV6_CONF / "dummy_0").exists()  # this process's namespace has no dummy_0
        assert manager._write_sysctls({("dummy_0", "accept_ra"): 2}) == []  # nothing differs
        ip("-n", nics_ns, "link", "del", "dummy_0")
        ip("-n", nics_ns, "link", "add", "dummy_0", "type", "dummy")
        assert sysctl(nics_ns, "dummy_0", "accept_ra") == "1"  # the kernel's default again
        manager.apply(CONFIG)
        assert sysctl(nics_ns, "dummy_0", "accept_ra") == "2"
    finally:
        manager.close()


def test_a_namespace_that_cannot_be_entered_is_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    manager = DhcpManager(str(tmp_path / "run"), netns="vnt-no-such-namespace")
    try:
        with caplog.at_level(logging.ERROR):
            assert manager._write_sysctls({("dummy_0", "accept_ra"): 2}) == []
        assert "cannot enter netns vnt-no-such-namespace" in caplog.text
    finally:
        manager.close()
