"""setupNetworks over the wire on the real kernel: caps in vdsm's types, and the kernel itself
(``ip -d -j``) agreeing with them; setSafeNetworkConfig, the host_conn event, planNetworks."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from rpc.client import ServerError
from tests.e2e import e2e_kernel as k
from tests.e2e.e2e_agent import Agent
from tests.e2e.e2e_requests import (
    ADDR,
    BOND,
    DONE,
    GATEWAY,
    NET,
    PREFIX,
    VLAN,
    VLAN_DEV,
    bond,
    network_view,
    setup,
    vlan_net,
)
from vdsm_net.verbs import schema as t

EVENT_WAIT = 30.0


def test_bridged_vlan_over_mode4_bond_with_static_ip_and_default_route(agent: Agent) -> None:
    ns = agent.netns
    with agent.client() as cli:
        result = setup(cli, vlan_net(), bond())
        caps = cli.call("Host.getCapabilities")
    assert result == DONE
    t.check(caps, t.CAPS)

    net = caps["networks"][NET]
    assert net["bridged"] is True and net["iface"] == NET
    assert net["ports"] == [VLAN_DEV] and net["southbound"] == VLAN_DEV
    assert net["vlanid"] == VLAN
    assert (net["mtu"], net["stp"], net["switch"]) == ("1500", "off", "legacy")
    assert (net["addr"], net["netmask"]) == (ADDR, "255.255.255.0")
    assert net["ipv4addrs"] == [f"{ADDR}/{PREFIX}"]
    assert (net["gateway"], net["ipv4defaultroute"]) == (GATEWAY, True)
    bridge = caps["bridges"][NET]
    assert bridge["ports"] == [VLAN_DEV] and bridge["stp"] == "off"
    assert bridge["ipv4addrs"] == [f"{ADDR}/{PREFIX}"]
    assert caps["vlans"][VLAN_DEV]["iface"] == BOND
    assert caps["vlans"][VLAN_DEV]["vlanid"] == VLAN
    bond_caps = caps["bondings"][BOND]
    assert sorted(bond_caps["slaves"]) == ["dummy_0", "dummy_1"]
    # non-default options only, values numeric, mode always there (vdsm-wire §3.4)
    assert bond_caps["opts"] == {"mode": "4", "miimon": "150", "lacp_rate": "1"}
    assert bond_caps["active_slave"] == ""
    assert caps["nics"]["dummy_0"]["permhwaddr"]  # bond slaves report their own MAC
    assert caps["netConfigDirty"] == "True"

    links = k.links(ns)
    assert k.link_kind(links[BOND]) == "bond"
    assert k.link_data(links[BOND])["mode"] == "802.3ad"
    assert k.link_data(links[BOND])["miimon"] == 150
    assert k.link_data(links[BOND])["ad_lacp_rate"] == "fast"
    assert links["dummy_0"].get("master") == BOND and links["dummy_1"].get("master") == BOND
    assert k.link_kind(links[VLAN_DEV]) == "vlan"
    assert k.link_data(links[VLAN_DEV])["id"] == VLAN and links[VLAN_DEV]["link"] == BOND
    assert k.link_kind(links[NET]) == "bridge"
    assert k.link_data(links[NET])["stp_state"] == 0
    assert links[VLAN_DEV].get("master") == NET
    assert "UP" in links[NET]["flags"] and "UP" in links[BOND]["flags"]
    assert k.addresses(ns, NET) == [f"{ADDR}/{PREFIX}"]
    assert k.addresses(ns, BOND) == [] and k.addresses(ns, VLAN_DEV) == []
    default = k.default_route(ns)
    assert default is not None and (default["gateway"], default["dev"]) == (GATEWAY, NET)


def test_set_safe_network_config_clears_net_config_dirty(agent: Agent) -> None:
    with agent.client() as cli:
        assert cli.call("Host.getCapabilities")["netConfigDirty"] == "False"  # at start
        assert setup(cli, vlan_net(), bond()) == DONE
        assert cli.call("Host.getNetworkCapabilities")["netConfigDirty"] == "True"
        assert cli.call("Host.setSafeNetworkConfig") is True
        caps = cli.call("Host.getCapabilities")
    assert caps["netConfigDirty"] == "False"
    assert NET in caps["networks"]  # the safe point keeps the network; nothing was undone
    assert NET in k.links(agent.netns)
    with agent.client() as cli:  # a setupNetworks makes it dirty even when it fails (§4.7)
        with pytest.raises(ServerError):
            setup(cli, {"x": {"nic": "missing_nic"}})
        assert cli.call("Host.getNetworkCapabilities")["netConfigDirty"] == "True"


def test_subscriber_gets_host_conn_event_after_a_setup(agent: Agent) -> None:
    received: list[tuple[str, dict[str, Any]]] = []
    got = threading.Event()

    def on_event(method: str, params: dict[str, Any]) -> None:
        received.append((method, params))
        got.set()

    with agent.client() as listener, agent.client() as cli:
        listener.subscribe_events(on_event)
        listener.call("Host.ping2")  # the SUBSCRIBE is in before the setup starts
        assert received == []
        assert setup(cli, vlan_net(), bond()) == DONE
        assert got.wait(EVENT_WAIT), "no event within the wait"
    method, params = received[0]
    assert method == "|net|host_conn|no_id"
    assert isinstance(params.get("notify_time"), int)


def test_plan_networks_returns_the_plan_and_changes_nothing(agent: Agent) -> None:
    ns = agent.netns
    before = k.settled_dump(ns)
    with agent.client() as cli:
        caps_before = network_view(cli.call("Host.getNetworkCapabilities"))
        reply = cli.call("Host.planNetworks",
                         {"networks": vlan_net(), "bondings": bond(), "options": {}})
        caps_after = network_view(cli.call("Host.getNetworkCapabilities"))
    assert k.dump_diff(before, k.dump(ns)) == []
    assert caps_after == caps_before
    plan = reply["plan"]
    assert isinstance(plan, list) and plan
    assert all(isinstance(op, dict) for op in plan)
    named = str(plan)
    for name in (BOND, VLAN_DEV, NET, "dummy_0", "dummy_1"):
        assert name in named, f"{name} is not in the plan"
    # applied, the same request plans nothing more
    with agent.client() as cli:
        assert setup(cli, vlan_net(), bond()) == DONE
        again = cli.call("Host.planNetworks",
                         {"networks": vlan_net(), "bondings": bond(), "options": {}})
    assert again == {"plan": []}
