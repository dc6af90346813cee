"""OVS networks through whole agents (``--ovs-rundir`` under /run, ovs-vswitchd in the agent's
namespace): setupNetworks over the wire lands on Open vSwitch, caps are vdsm's, a connectivity
timeout rolls back exactly, a restarted agent adopts and plans nothing, removal leaves nothing."""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rpc.client import ServerError
from tests.e2e import e2e_kernel as k
from tests.e2e.conftest import StartAgent
from tests.e2e.e2e_requests import DONE, check_opts, network_view, setup
from vdsm_net.backends.ovs.daemons import stop_open_vswitch
from vdsm_net.model.errors import ERR_BAD_PARAMS, ERR_LOST_CONNECTION
from vdsm_net.model.ovs import ovs_bridge_name

NETS: dict[str, Any] = {
    "red": {"bonding": "bond0", "vlan": "100", "bridged": "true", "mtu": 9000,
            "ipaddr": "192.0.2.10", "prefix": "24", "gateway": "192.0.2.1",
            "defaultRoute": True, "switch": "ovs"},
    "blue": {"nic": "dummy_2", "bridged": "false", "ipaddr": "198.51.100.2", "prefix": "24",
             "switch": "ovs"},
}
BONDS: dict[str, Any] = {"bond0": {"nics": ["dummy_0", "dummy_1"], "switch": "ovs",
                                   "options": "mode=4 miimon=150"}}
REMOVE = ({n: {"remove": "true"} for n in NETS}, {"bond0": {"remove": "true"}})


@pytest.fixture
def rundir() -> Iterator[Path]:
    run = Path(tempfile.mkdtemp(prefix="e2e-ovs-", dir="/run"))
    try:
        yield run
    finally:
        stop_open_vswitch(run)


def bridges(run: Path) -> list[str]:
    done = subprocess.run(["ovs-vsctl", f"--db=unix:{run / 'db.sock'}", "list-br"],
                          capture_output=True, text=True, check=True, timeout=60)
    return done.stdout.split()


def test_ovs_life_over_the_wire(netns: str, start_agent: StartAgent, rundir: Path) -> None:
    flags = ("--ovs-rundir", str(rundir))
    first = start_agent(netns, extra=flags)
    with first.client() as cli:
        assert setup(cli, NETS, BONDS) == DONE
        assert cli.call("Host.setSafeNetworkConfig") is True
        caps = cli.call("Host.getNetworkCapabilities")
    assert sorted(bridges(rundir)) == sorted([ovs_bridge_name("bond0"),
                                              ovs_bridge_name("dummy_2")])
    assert (rundir / "conf.db").exists()
    links = k.links(netns)
    assert k.link_kind(links["red"]) == "openvswitch" and links["red"]["mtu"] == 9000
    assert k.addresses(netns, "red") == ["192.0.2.10/24"]
    assert (k.default_route(netns) or {}).get("dev") == "red"
    red = caps["networks"]["red"]
    assert (red["switch"], red["southbound"], red["vlanid"]) == ("ovs", "bond0.100", 100)
    assert caps["bridges"]["red"]["ports"] == ["bond0.100"]
    assert caps["vlans"]["bond0.100"]["iface"] == "bond0"
    assert caps["networks"]["blue"]["iface"] == "dummy_2"
    assert caps["bondings"]["bond0"]["switch"] == "ovs"

    before = k.settled_dump(netns)
    with first.client() as cli:  # nobody confirms: the agent rolls back
        bigger = {"blue": {**NETS["blue"], "mtu": 4000}}
        with pytest.raises(ServerError) as info:
            setup(cli, bigger, {}, check_opts(2), timeout=60)
    assert info.value.code == ERR_LOST_CONNECTION
    assert k.dump_diff(before, k.settled_dump(netns)) == []

    assert first.stop() == 0
    second = start_agent(netns, extra=flags)
    with second.client() as cli:
        assert network_view(cli.call("Host.getNetworkCapabilities")) == network_view(caps)
        plan = cli.call("Host.planNetworks", {"networks": NETS, "bondings": BONDS, "options": {}})
        assert plan == {"plan": []}
        assert setup(cli, *REMOVE) == DONE
    assert bridges(rundir) == []
    links = k.links(netns)
    assert not {"red", "blue", "bond0"} & set(links)
    assert all("master" not in links[nic] for nic in k.NICS)


def test_without_ovsdb_an_ovs_network_is_refused_up_front(
    netns: str, start_agent: StartAgent
) -> None:
    agent = start_agent(netns)  # neither --ovs-rundir nor --ovsdb
    before = k.settled_dump(netns)
    with agent.client() as cli:
        with pytest.raises(ServerError) as info:
            setup(cli, {"blue": NETS["blue"]}, {})
        assert info.value.code == ERR_BAD_PARAMS and "--ovs-rundir" in str(info.value)
        assert cli.call("Host.getNetworkCapabilities")["networks"] == {}
    assert k.dump_diff(before, k.settled_dump(netns)) == []
    assert agent.stop() == 0
