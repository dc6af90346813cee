"""The request files in examples/ are valid: each plans on the simulated kernel with NICs
eth0..eth3, and applying one then another (as the README walks through) works."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from vdsm_net.backends.memory.kernel import MemoryKernel
from vdsm_net.engine.engine import Engine
from vdsm_net.model.tc import DEFAULT_MINOR, TcClass

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
NICS = ("eth0", "eth1", "eth2", "eth3")


def _load(name: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads((EXAMPLES / name).read_text())
    return body


def _setup(engine: Engine, body: dict[str, Any]) -> None:
    options = {**body.get("options", {}), "connectivityCheck": False}
    engine.setup(body.get("networks", {}), body.get("bondings", {}), options)


@pytest.mark.parametrize("name", sorted(p.name for p in EXAMPLES.glob("*.json")
                                        if not p.name.startswith("remove-")))
def test_each_example_plans_something(name: str) -> None:
    body = _load(name)
    plan = Engine(MemoryKernel(nics=NICS)).plan(
        body["networks"], body["bondings"], body.get("options", {}))
    assert plan


def test_the_walk_through_applies_and_removes() -> None:
    kernel = MemoryKernel(nics=NICS)
    engine = Engine(kernel)
    before = kernel.observe()
    _setup(engine, _load("bridged-vm-network.json"))
    assert "vmnet" in kernel.observe().links
    _setup(engine, _load("remove-vmnet.json"))
    assert kernel.observe().links.keys() == before.links.keys()
    _setup(engine, _load("bond-vlan.json"))
    _setup(engine, _load("full-state.json"))  # drops storage and vms200, keeps bond0
    assert set(engine.running.networks) == {"ovirtmgmt", "vmnet"}


def test_the_qos_example_shapes_the_bond_and_a_reapply_writes_nothing() -> None:
    kernel = MemoryKernel(nics=NICS)
    engine = Engine(kernel)
    _setup(engine, _load("host-qos.json"))
    classes = {obj.minor for obj in kernel.observe().tc
               if isinstance(obj, TcClass) and obj.dev == "bond1"}
    assert classes == {300, 301, DEFAULT_MINOR}  # one per VLAN network, and the default
    writes = kernel.writes
    _setup(engine, _load("host-qos.json"))
    assert kernel.writes == writes


def test_the_ovs_example_makes_one_ovs_bridge_for_the_bond_and_a_reapply_writes_nothing() -> None:
    kernel = MemoryKernel(nics=NICS)
    engine = Engine(kernel)
    _setup(engine, _load("ovs-vlan.json"))
    links = kernel.observe().links
    bridges = [n for n in links if n.startswith("vdsmbr_")]
    assert len(bridges) == 1 and {"ovsvm", "ovsplain", "bond2"} <= set(links)
    assert links["ovsvm"].mtu == 9000
    writes = kernel.writes
    _setup(engine, _load("ovs-vlan.json"))
    assert kernel.writes == writes
