"""Restart adoption: a fresh engine with an empty memory rebuilds the running config from the
kernel's tags, and its next plan for the same state is empty."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tests.unit.engine.engine_helpers import converge
from tests.unit.engine.strategies import nic_sets, running_configs
from vdsm_net.backends.memory.kernel import MemoryKernel
from vdsm_net.engine.adopt import adopt, tag_fields
from vdsm_net.engine.engine import Engine
from vdsm_net.engine.plan.planner import diff
from vdsm_net.engine.render import render
from vdsm_net.model.desired import RunningConfig
from vdsm_net.verbs.caps import network_caps
from vdsm_net.verbs.shapes import NetworkCaps

NOCHK = {"connectivityCheck": False}


@given(st.data())
def test_adopted_config_renders_the_same_kernel(data: st.DataObject) -> None:
    nics = data.draw(nic_sets())
    config: RunningConfig = data.draw(running_configs(nics))
    kernel = MemoryKernel(nics=nics)
    converge(kernel, config)
    state = kernel.observe()
    adopted = adopt(state)
    assert set(adopted.networks) == {n for n, net in config.networks.items() if net.top}
    assert set(adopted.bonds) == set(config.bonds)
    assert diff(render(adopted, state), state) == []


def test_restarted_engine_reports_the_same_and_plans_nothing() -> None:
    kernel = MemoryKernel(nics=["eth0", "eth1", "eth2", "eth3"])
    first = Engine(kernel)
    request = {
        "mgmt": {"nic": "eth0", "bridged": "false", "ipaddr": "192.0.2.5", "prefix": "24",
                 "gateway": "192.0.2.1", "defaultRoute": True,
                 "ipv6addr": "2001:db8::5/64", "ipv6gateway": "2001:db8::1"},
        "data": {"bonding": "bond0", "vlan": "7", "mtu": 9000, "stp": "yes",
                 "custom": {"bridge_opts": "multicast_snooping=0 priority=1"}},
        "store": {"bonding": "bond0", "bridged": "false", "ipaddr": "198.51.100.9",
                  "netmask": "255.255.255.0", "gateway": "198.51.100.1"},
        "empty": {"bridged": True},
    }
    bonds = {"bond0": {"nics": ["eth1", "eth2"], "options": "mode=4 miimon=200"}}
    first.setup(request, bonds, NOCHK)
    state = kernel.observe()
    second = Engine(kernel, running=adopt(state))
    writes = kernel.writes
    assert second.plan(request, bonds, NOCHK) == []
    second.setup(request, bonds, NOCHK)
    assert kernel.writes == writes

    def caps(engine: Engine) -> NetworkCaps:
        return network_caps(kernel.observe(), engine.running, kernel.nic_facts, [], False)

    assert caps(second) == caps(first)
    assert second.running.networks["data"].vlan == 7
    assert second.running.networks["store"].bonding == "bond0"
    assert second.running.networks["mgmt"].default_route


def test_tag_fields() -> None:
    assert tag_fields("vdsm-net:bond=bond0,net=data") == {"bond": "bond0", "net": "data"}
    assert tag_fields("vdsm-net:nic") == {"nic": ""}
    assert tag_fields("something else") == {} and tag_fields(None) == {}
