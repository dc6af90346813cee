"""Host QoS through the engine on the simulated kernel: the plan's ops, idempotence, rollback at
every write, drift, restart adoption and the caps report; and the simulated kernel's tc rules."""

from __future__ import annotations

from typing import Any

import pytest

from tests.common.parity_scenarios import qos
from vdsm_net.backends.memory.kernel import MemoryKernel
from vdsm_net.engine.adopt import adopt
from vdsm_net.engine.compare import compare
from vdsm_net.engine.engine import Engine
from vdsm_net.model.desired import Curve
from vdsm_net.model.errors import KernelError
from vdsm_net.model.ops import AddTc, ChangeTc, DeleteLinks, DelTc
from vdsm_net.model.tc import Qdisc, TcClass, TcFilter
from vdsm_net.verbs.caps import network_caps

M = 1_000_000
NOCHK = {"connectivityCheck": False}
NETS: dict[str, Any] = {
    "red": {"nic": "eth0", "vlan": 10, "hostQos": qos(20, 100 * M, 50 * M)},
    "blue": {"nic": "eth0", "bridged": False, "hostQos": qos(50)},
}


@pytest.fixture
def kernel() -> MemoryKernel:
    return MemoryKernel(("eth0", "eth1", "eth2"))


@pytest.fixture
def engine(kernel: MemoryKernel) -> Engine:
    eng = Engine(kernel)
    eng.setup(NETS, {}, NOCHK)
    return eng


def _kinds(plan: list[Any]) -> list[tuple[str, str]]:
    return [(op.kind, op.obj.kind_name) for op in plan if isinstance(op, AddTc | ChangeTc | DelTc)]


def test_the_tree_is_on_the_nic_and_a_reapply_writes_nothing(engine: Engine,
                                                             kernel: MemoryKernel) -> None:
    tc = kernel.observe().tc
    assert {o.dev for o in tc} == {"eth0"}
    assert TcClass("eth0", 0x1388, ls=Curve(m2=400)) in tc  # blue is untagged: 1389:1388
    assert TcFilter("eth0", 10, 10, 10) in tc and TcFilter("eth0", 5000, 0x1388) in tc
    writes = kernel.writes
    assert engine.setup(NETS, {}, NOCHK).writes == 0
    assert kernel.writes == writes


def test_a_changed_curve_is_changed_in_place_a_dropped_one_recreates(engine: Engine) -> None:
    plan = engine.plan({"blue": {**NETS["blue"], "hostQos": qos(60, 9 * M)}}, {}, NOCHK)
    assert _kinds(plan) == [("change_tc", "class")]
    plan = engine.plan({"red": {**NETS["red"], "hostQos": qos(20, rt=50 * M)}}, {}, NOCHK)
    assert _kinds(plan) == [("del_tc", "filter"), ("del_tc", "class"), ("add_tc", "class"),
                            ("add_tc", "qdisc"), ("add_tc", "filter")]
    assert engine.plan({"red": {"nic": "eth0", "vlan": 10}, "blue": {"nic": "eth0",
                        "bridged": False}}, {}, NOCHK)[0] == DelTc(
        Qdisc("eth0", 0x13890000, default=0x1388))


@pytest.mark.parametrize("k", range(6))
def test_a_fault_at_any_write_restores_the_tree(engine: Engine, kernel: MemoryKernel,
                                                k: int) -> None:
    before = kernel.observe()
    request = {"red": {**NETS["red"], "hostQos": qos(30, rt=40 * M)},
               "blue": {**NETS["blue"], "hostQos": qos(5, 8 * M)}}
    assert len(engine.plan(request, {}, NOCHK)) >= 6
    kernel.fail_at = k
    with pytest.raises(KernelError):
        engine.setup(request, {}, NOCHK)
    assert kernel.observe().tc == before.tc


def test_drift_sees_tc_changes_and_reconcile_repairs_them(engine: Engine,
                                                          kernel: MemoryKernel) -> None:
    kernel.apply(ChangeTc(TcClass("eth0", 10, ls=Curve(m2=8000))))
    kernel.apply(DelTc(TcFilter("eth0", 5000, 0x1388)))
    drift = compare(engine.running, kernel.observe())
    assert "eth0: filter u32 pref 5000 match u32 0 0 flowid 1389:1388 dev eth0 missing" in drift
    assert any(line.startswith("eth0: desired class hfsc 1389:a ls m2 160bit") for line in drift)
    engine.reconcile()
    assert compare(engine.running, kernel.observe()) == []


def test_a_restarted_agent_adopts_the_qos_from_the_kernel(engine: Engine,
                                                          kernel: MemoryKernel) -> None:
    running = adopt(kernel.observe())
    assert running.networks["red"].host_qos == engine.running.networks["red"].host_qos
    assert running.networks["blue"].host_qos == engine.running.networks["blue"].host_qos
    assert Engine(kernel, running).setup(NETS, {}, NOCHK).writes == 0


def test_caps_report_the_kernel_s_classes(engine: Engine, kernel: MemoryKernel) -> None:
    caps = network_caps(kernel.observe(), engine.running, kernel.nic_facts, [], False)
    red = {"out": {"ls": {"m1": 0, "d": 0, "m2": 20},
                   "ul": {"m1": 0, "d": 0, "m2": 100 * M}, "rt": {"m1": 0, "d": 0, "m2": 50 * M}}}
    assert caps["networks"]["red"]["hostQos"] == red
    blue = {"out": {"ls": {"m1": 0, "d": 0, "m2": 50}}}
    assert caps["nics"]["eth0"]["qos"] == [{"hostQos": blue, "vlan": -1},
                                           {"hostQos": red, "vlan": 10}]
    assert "qos" not in caps["nics"]["eth1"] and "qos" not in caps["vlans"]["eth0.10"]
    kernel.apply(DelTc(Qdisc("eth0", 0x13890000, default=0x1388)))  # the kernel is the truth
    caps = network_caps(kernel.observe(), engine.running, kernel.nic_facts, [], False)
    assert "hostQos" not in caps["networks"]["red"] and "qos" not in caps["nics"]["eth0"]


def test_qos_on_a_bond_goes_on_the_bond(kernel: MemoryKernel) -> None:
    eng = Engine(kernel)
    eng.setup({"red": {"bonding": "bond0", "vlan": 7, "hostQos": qos(10)}},
              {"bond0": {"nics": ["eth1", "eth2"]}}, NOCHK)
    assert {o.dev for o in kernel.observe().tc} == {"bond0"}
    eng.setup({"red": {"remove": True}}, {"bond0": {"remove": True}}, NOCHK)
    assert kernel.observe().tc == frozenset()


ROOT = Qdisc("eth1", 0x13890000, default=0x1388)
CLASS = TcClass("eth1", 5, ls=Curve(m2=80), ul=Curve(m2=800))
FILTER = TcFilter("eth1", 5, 5, 5)


def test_the_simulated_kernel_enforces_the_tc_rules(kernel: MemoryKernel) -> None:
    for op, why in ((AddTc(CLASS), "no such parent qdisc"), (AddTc(FILTER), "no such parent"),
                    (AddTc(Qdisc("nope", 0x13890000)), "no such device")):
        with pytest.raises(KernelError, match=why):
            kernel.apply(op)
    kernel.apply(AddTc(ROOT))
    with pytest.raises(KernelError, match="EEXIST"):
        kernel.apply(AddTc(ROOT))
    with pytest.raises(KernelError, match="EINVAL"):
        kernel.apply(AddTc(TcClass("eth1", 6, ul=Curve(m2=8))))
    kernel.apply(AddTc(CLASS))
    with pytest.raises(KernelError, match="no such parent class"):
        kernel.apply(AddTc(Qdisc("eth1", 6 << 16, 0x13890006, "fq_codel")))
    kernel.apply(AddTc(Qdisc("eth1", 5 << 16, 0x13890005, "fq_codel")))
    kernel.apply(AddTc(FILTER))
    with pytest.raises(KernelError, match="EBUSY"):
        kernel.apply(DelTc(CLASS))
    kernel.apply(ChangeTc(TcClass("eth1", 5, ls=Curve(m2=160))))  # ul is kept
    assert TcClass("eth1", 5, ls=Curve(m2=160), ul=Curve(m2=800)) in kernel.observe().tc
    kernel.apply(DelTc(FILTER))
    kernel.apply(DelTc(TcClass("eth1", 5, ls=Curve(m2=160), ul=Curve(m2=800))))
    assert kernel.observe().tc == {ROOT}  # the leaf went with its class
    kernel.apply(DelTc(ROOT))
    assert kernel.observe().tc == frozenset()


def test_a_deleted_link_takes_its_tree(engine: Engine, kernel: MemoryKernel) -> None:
    eng = Engine(kernel)
    eng.setup({"red": {"bonding": "bond0", "hostQos": qos(10)}},
              {"bond0": {"nics": ["eth1", "eth2"]}}, NOCHK)
    assert any(o.dev == "bond0" for o in kernel.observe().tc)
    kernel.apply(DeleteLinks(("red",)))
    kernel.apply(DeleteLinks(("bond0",)))
    assert all(o.dev != "bond0" for o in kernel.observe().tc)
