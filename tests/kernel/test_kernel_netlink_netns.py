"""Namespace handling, the asyncio rule, and NIC facts."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.common.iproute import ip
from vdsm_net.backends.netlink.backend import NetlinkBackend
from vdsm_net.backends.netlink.nicfacts import read_nic_facts
from vdsm_net.model import ops as o
from vdsm_net.model.kernel import Link


def test_named_netns_is_isolated_from_the_caller(backend: NetlinkBackend, nics_ns: str) -> None:
    backend.apply(o.CreateLink(Link("iso0", "bridge")))
    assert "iso0" in ip("-n", nics_ns, "-o", "link", "show")
    assert "iso0" not in ip("-o", "link", "show")  # the caller's namespace is untouched
    assert not Path("/sys/class/net/iso0").exists()


def test_two_backends_in_two_namespaces(nics_ns: str, nsname: str) -> None:
    # nsname is the same fresh namespace as nics_ns; make a second one by hand
    other = nics_ns + "b"
    ip("netns", "add", other)
    try:
        ip("-n", other, "link", "add", "dummy_9", "type", "dummy")
        a, b = NetlinkBackend(nics_ns), NetlinkBackend(other)
        try:
            assert "dummy_9" in b.observe().links and "dummy_9" not in a.observe().links
        finally:
            a.close()
            b.close()
    finally:
        ip("netns", "del", other)


def test_usable_from_a_running_event_loop(backend: NetlinkBackend) -> None:
    async def main() -> set[str]:
        return set(backend.observe().links)  # a sync call inside a running loop

    assert "dummy_0" in asyncio.run(main())


def test_nic_facts_in_the_namespace(backend: NetlinkBackend) -> None:
    backend.apply(o.SetUp("veth_0", up=True))
    backend.apply(o.SetUp("veth_0p", up=True))
    veth = backend.nic_facts("veth_0")
    # read from the namespace's own sysfs; a veth has no device/driver link there
    assert (veth.speed, veth.duplex, veth.driver, veth.bus_info) == (10000, "full", "", "")
    dummy = backend.nic_facts("dummy_0")  # no ethtool link settings: unknown, as vdsm says
    assert (dummy.speed, dummy.duplex, dummy.driver) == (0, "unknown", "")
    assert backend.nic_facts("nosuch") == read_nic_facts("nosuch")


def test_nic_facts_in_the_current_namespace_read_sysfs(tmp_path: Path) -> None:
    (tmp_path / "eth9" / "device").mkdir(parents=True)
    (tmp_path / "eth9" / "speed").write_text("1000\n")
    (tmp_path / "eth9" / "duplex").write_text("half\n")
    drivers = tmp_path / "drivers" / "e1000"
    drivers.mkdir(parents=True)
    (tmp_path / "eth9" / "device" / "driver").symlink_to(drivers)
    facts = read_nic_facts("eth9", tmp_path)
    assert (facts.speed, facts.duplex, facts.driver, facts.bus_info) == (1000, "half", "e1000", "")
    (tmp_path / "eth9" / "speed").write_text("-1\n")
    assert read_nic_facts("eth9", tmp_path).speed == 0


def test_current_namespace_backend_leaves_loopback_out() -> None:
    be = NetlinkBackend()  # the guest's own namespace: only lo, which is never reported
    try:
        state = be.observe()
        assert "lo" not in state.links
        assert all(a.ifname != "lo" for a in state.addresses)
    finally:
        be.close()


def test_unknown_namespace_fails_at_construction() -> None:
    with pytest.raises(OSError):
        NetlinkBackend("no-such-netns")
