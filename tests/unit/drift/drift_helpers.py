"""Shared pieces of the drift tests: an engine on the simulated kernel with a bond, a bridged
VLAN network and a bridgeless management network, and a stand-in event source."""

from __future__ import annotations

from typing import Any

from vdsm_net.backends.memory.kernel import MemoryKernel
from vdsm_net.drift.monitor import Poke
from vdsm_net.engine.engine import Engine

NICS = ["eth0", "eth1", "eth2", "eth3"]
NOCHK = {"connectivityCheck": "false"}
BODY: dict[str, Any] = {
    "networks": {
        "data": {"bonding": "bond0", "vlan": "100", "bridged": "true", "mtu": 9000,
                 "ipaddr": "192.0.2.10", "prefix": "24", "gateway": "192.0.2.1"},
        "mgmt": {"nic": "eth0", "bridged": "false", "ipaddr": "198.51.100.5",
                 "netmask": "255.255.255.0", "gateway": "198.51.100.1", "defaultRoute": True},
        "net1": {"nic": "eth3", "bridged": "true", "mtu": 9000},
    },
    "bondings": {"bond0": {"nics": ["eth2", "eth1"], "options": "mode=802.3ad miimon=150"}},
}


def configured() -> tuple[Engine, MemoryKernel]:
    kernel = MemoryKernel(nics=NICS)
    engine = Engine(kernel)
    engine.setup(BODY["networks"], BODY["bondings"], NOCHK)
    return engine, kernel


class FakeEvents:
    """An event source the test drives by hand."""

    def __init__(self, sink: Poke) -> None:
        self.sink = sink
        self.started = False
        self.stopped = False
        self.muted: list[bool] = []  # what the engine said, in order

    def start(self) -> FakeEvents:
        self.started = True
        return self

    def stop(self) -> None:
        self.stopped = True

    def mute(self, on: bool) -> None:
        self.muted.append(on)
