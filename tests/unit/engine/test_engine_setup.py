"""The whole pipeline on the simulated kernel: apply, verify, idempotence, rollback, full state."""

from __future__ import annotations

import json
from typing import Any

import pytest

from vdsm_net.backends.memory.kernel import MemoryKernel
from vdsm_net.cli import main
from vdsm_net.engine.engine import Engine
from vdsm_net.model.errors import (
    ERR_BAD_BRIDGE,
    ERR_BAD_NIC,
    ERR_LOST_CONNECTION,
    KernelError,
    NetworkError,
)

NOCHK = {"connectivityCheck": "false"}
NICS = ["eth0", "eth1", "eth2", "eth3"]


def engine_with(*foreign: str) -> tuple[Engine, MemoryKernel]:
    kernel = MemoryKernel(nics=NICS)
    for name in foreign:
        kernel.add_foreign_link(name)
    return Engine(kernel), kernel


BOND_NET: dict[str, Any] = {
    "networks": {
        "data": {"bonding": "bond0", "vlan": "100", "bridged": "true", "mtu": 9000,
                 "ipaddr": "192.0.2.10", "prefix": "24", "gateway": "192.0.2.1"},
        "mgmt": {"nic": "eth0", "bridged": "false", "ipaddr": "198.51.100.5",
                 "netmask": "255.255.255.0", "gateway": "198.51.100.1", "defaultRoute": True},
    },
    "bondings": {"bond0": {"nics": ["eth2", "eth1"], "options": "mode=802.3ad miimon=150"}},
}


def setup(engine: Engine, body: dict[str, Any], options: dict[str, Any] | None = None) -> Any:
    return engine.setup(body.get("networks", {}), body.get("bondings", {}), options or NOCHK)


def test_bond_vlan_bridge_lands_in_the_kernel() -> None:
    engine, kernel = engine_with()
    result = setup(engine, BOND_NET)
    state = kernel.observe()
    assert result.changed and result.writes > 0
    assert state.links["bond0"].kind == "bond"
    assert state.links["eth1"].master == "bond0" and state.links["eth2"].master == "bond0"
    assert state.links["bond0.100"].vlan_id == 100
    assert state.links["data"].kind == "bridge"
    assert state.links["bond0.100"].master == "data"
    assert {link.mtu for name, link in state.links.items() if name != "eth0"} >= {9000}
    assert state.links["data"].mtu == 9000 and state.links["eth1"].mtu == 9000
    assert [a.address for a in state.addresses_of("data")] == ["192.0.2.10/24"]
    assert [a.address for a in state.addresses_of("eth0")] == ["198.51.100.5/24"]
    assert any(r.is_default and r.table == 254 and r.oif == "eth0" for r in state.routes)
    assert not any(r.is_default and r.table == 254 and r.oif == "data" for r in state.routes)
    assert set(engine.running.networks) == {"data", "mgmt"}


def test_identical_reapply_writes_nothing() -> None:
    engine, kernel = engine_with()
    setup(engine, BOND_NET)
    before = kernel.writes
    result = setup(engine, BOND_NET)
    assert result.plan == [] and kernel.writes == before and not result.changed


def test_invalid_request_changes_nothing() -> None:
    engine, kernel = engine_with()
    setup(engine, BOND_NET)
    state, running, writes = kernel.observe(), engine.running, kernel.writes
    with pytest.raises(NetworkError) as err:
        setup(engine, {"networks": {"x": {"nic": "nope0"}}})
    assert err.value.code == ERR_BAD_NIC
    assert kernel.observe() == state and engine.running == running and kernel.writes == writes


def test_lost_connectivity_rolls_back_exactly() -> None:
    engine, kernel = engine_with()
    setup(engine, BOND_NET)
    before, running = kernel.observe(), engine.running
    edit = {"networks": {"data": {**BOND_NET["networks"]["data"], "mtu": 1600}},
            "bondings": {"bond0": {"nics": ["eth1", "eth2"], "options": "mode=1"}}}
    with pytest.raises(NetworkError) as err:
        engine.setup(edit["networks"], edit["bondings"],
                     {"connectivityCheck": "true", "connectivityTimeout": 0},
                     confirm=lambda since, timeout: False)
    assert err.value.code == ERR_LOST_CONNECTION
    assert kernel.observe() == before
    assert engine.running == running


def test_confirmed_connectivity_commits() -> None:
    engine, kernel = engine_with()
    seen: list[float] = []

    def confirm(since: float, timeout: float) -> bool:
        seen.append(timeout)
        return True

    engine.setup(BOND_NET["networks"], BOND_NET["bondings"], {}, confirm=confirm)
    assert seen == [4.0]  # vdsm's default timeout
    assert "data" in engine.running.networks and "data" in kernel.observe().links


OLD = {"networks": {"old": {"nic": "eth3", "ipaddr": "10.0.0.1", "prefix": 8},
                    "data": {"nic": "eth1", "vlan": 7, "mtu": 2000}}}


def prepared_host() -> tuple[Engine, MemoryKernel]:
    engine, kernel = engine_with("tap0")
    setup(engine, OLD)
    return engine, kernel


def test_fault_at_every_write_leaves_the_kernel_as_it_was() -> None:
    engine, kernel = prepared_host()
    start = kernel.writes
    setup(engine, BOND_NET)
    total = kernel.writes - start
    assert total > 10
    for k in range(total):
        engine, kernel = prepared_host()
        before, running = kernel.observe(), engine.running
        kernel.fail_at = k
        with pytest.raises(KernelError):
            setup(engine, BOND_NET)
        kernel.fail_at = None
        assert kernel.observe() == before, f"a fault at write {k} left the kernel changed"
        assert engine.running == running


def test_full_state_drops_unlisted_but_keeps_bridges_in_use() -> None:
    engine, kernel = engine_with()
    setup(engine, BOND_NET)
    setup(engine, {"networks": {"spare": {"nic": "eth3"}}})
    kernel.add_foreign_link("vnet0", master="spare")
    result = engine.setup({"mgmt": BOND_NET["networks"]["mgmt"]}, {}, {**NOCHK, "fullState": True})
    state = kernel.observe()
    assert set(engine.running.networks) == {"mgmt", "spare"}
    assert result.kept_in_use == {"spare": ["vnet0"]}
    assert "data" not in state.links and "bond0" not in state.links
    assert state.links["eth1"].master is None and state.links["eth1"].mtu == 1500
    assert state.links["vnet0"].master == "spare"


def test_removing_a_bridge_in_use_is_refused() -> None:
    engine, kernel = engine_with()
    setup(engine, {"networks": {"vms": {"nic": "eth1"}}})
    kernel.add_foreign_link("vnet0", master="vms")
    before = kernel.observe()
    with pytest.raises(NetworkError) as err:
        setup(engine, {"networks": {"vms": {"remove": "true"}}})
    assert err.value.code == ERR_BAD_BRIDGE and "vnet0" in err.value.message
    assert kernel.observe() == before


def test_plan_cli_prints_the_plan(tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    req = tmp_path / "req.json"
    req.write_text(json.dumps({**BOND_NET, "options": NOCHK}))
    assert main(["plan", "--backend", "memory", "--nics", ",".join(NICS), "-f", str(req)]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert list(doc) == ["plan"]  # Host.planNetworks's shape
    plan = doc["plan"]
    kinds = [op["op"] for op in plan]
    assert kinds.index("create_link") < kinds.index("add_address")
    assert any(op["op"] == "create_link" and op["link"]["name"] == "bond0" for op in plan)
    assert kinds[-1] == "add_route"


def test_plan_cli_reports_invalid_requests(
    tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    req = tmp_path / "req.json"
    req.write_text(json.dumps({"networks": {"a" * 16: {"nic": "eth0"}}}))
    assert main(["plan", "--backend", "memory", "-f", str(req)]) == 1
    err = capsys.readouterr().err
    assert "27" in err and "Bridge name" in err
