"""Kernel-tier fixtures: a fresh network namespace with dummy and veth NICs, and a backend in it.

NIC names follow vdsm's fake_nics patterns (dummy_*, veth_*), so they count as NICs.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator

import pytest

from tests.common.iproute import ip
from tests.common.parity_scenarios import Foreign
from vdsm_net.backends.base import Backend
from vdsm_net.backends.netlink.backend import NetlinkBackend

DUMMIES = ("dummy_0", "dummy_1", "dummy_2")
VETHS = (("veth_0", "veth_0p"),)
_counter = itertools.count()


@pytest.fixture
def nsname() -> Iterator[str]:
    """A fresh, empty namespace (lo up), deleted afterwards."""
    name = f"vnt{os.getpid()}_{next(_counter)}"
    ip("netns", "add", name)
    try:
        ip("-n", name, "link", "set", "lo", "up")
        yield name
    finally:
        ip("netns", "del", name)


@pytest.fixture
def nics_ns(nsname: str) -> str:
    """The namespace with dummy NICs and a veth pair in it."""
    for dummy in DUMMIES:
        ip("-n", nsname, "link", "add", dummy, "type", "dummy")
    for a, b in VETHS:
        ip("-n", nsname, "link", "add", a, "type", "veth", "peer", "name", b)
    return nsname


@pytest.fixture
def backend(nics_ns: str) -> Iterator[NetlinkBackend]:
    be = NetlinkBackend(netns=nics_ns)
    try:
        yield be
    finally:
        be.close()


class NetlinkWorld:
    """The real kernel in a namespace; foreign changes are made with iproute2."""

    def __init__(self, netns: str) -> None:
        self.netns = netns
        self.netlink = NetlinkBackend(netns)

    @property
    def backend(self) -> Backend:
        return self.netlink

    def ip(self, *args: str) -> None:
        ip("-n", self.netns, *args)

    def foreign(self, action: Foreign) -> None:
        name = action.name
        if action.action == "bridge":
            self.ip("link", "add", name, "type", "bridge")
        elif action.action == "delete":
            self.ip("link", "del", name)
        elif action.action == "nomaster":
            self.ip("link", "set", name, "nomaster")
        else:
            assert action.master is not None
            self.ip("link", "add", name, "type", "veth", "peer", "name", name + "p")
            self.ip("link", "set", name, "master", action.master)
            self.ip("link", "set", name, "up")
            self.ip("link", "set", name + "p", "up")


@pytest.fixture
def real(nics_ns: str) -> Iterator[NetlinkWorld]:
    world = NetlinkWorld(nics_ns)
    try:
        yield world
    finally:
        world.netlink.close()
