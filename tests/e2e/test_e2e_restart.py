"""Start-up and restart of the process: the boot spec, a restart that writes nothing, adoption of
what an earlier agent built (the kernel tags are the only memory), and a bad spec refused."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from tests.e2e import e2e_kernel as k
from tests.e2e.e2e_agent import Agent, call
from tests.e2e.e2e_requests import BOND, DONE, NET, bond, network_view, setup, vlan_net
from tests.unit.verbs import verbs_typecheck as t

MGMT = "ovirtmgmt"
MGMT_ADDR, MGMT_GW = "192.0.2.20", "192.0.2.1"
SPEC: dict[str, Any] = {
    "networks": {MGMT: {"nic": "dummy_0", "bridged": True, "ipaddr": MGMT_ADDR, "prefix": "24",
                        "gateway": MGMT_GW, "defaultRoute": True}},
    "bondings": {},
}


def _write_spec(path: Path, spec: dict[str, Any]) -> Path:
    path.write_text(json.dumps(spec))
    return path


def test_boot_spec_gives_exactly_the_management_network_and_restart_writes_nothing(
    netns: str, start_agent: Any, tmp_path: Path
) -> None:
    spec = _write_spec(tmp_path / "boot.json", SPEC)
    first: Agent = start_agent(netns, spec)
    writes = first.boot_writes()
    assert len(writes) == 1 and writes[0] > 0, first.log()
    caps = call(first, "Host.getCapabilities")
    t.check(caps, t.CAPS)
    assert set(caps["networks"]) == {MGMT} and set(caps["bridges"]) == {MGMT}
    assert caps["bondings"] == {} and caps["vlans"] == {}
    net = caps["networks"][MGMT]
    assert net["ports"] == ["dummy_0"] and net["addr"] == MGMT_ADDR
    assert (net["gateway"], net["ipv4defaultroute"]) == (MGMT_GW, True)
    assert caps["netConfigDirty"] == "False"  # the boot spec is the safe point
    links = k.links(netns)
    assert k.link_kind(links[MGMT]) == "bridge" and links["dummy_0"].get("master") == MGMT
    assert k.addresses(netns, MGMT) == [f"{MGMT_ADDR}/24"]
    route = k.default_route(netns)
    assert route is not None and (route["gateway"], route["dev"]) == (MGMT_GW, MGMT)
    net_caps = network_view(call(first, "Host.getNetworkCapabilities"))
    kernel = k.settled_dump(netns)

    assert first.stop() == 0  # SIGTERM is a clean exit
    second: Agent = start_agent(netns, spec)
    assert second.boot_writes() == [0], second.log(since_start=True)
    assert network_view(call(second, "Host.getNetworkCapabilities")) == net_caps
    assert k.dump_diff(kernel, k.settled_dump(netns)) == []


def test_restarted_agent_adopts_what_the_previous_one_built(
    netns: str, start_agent: Any
) -> None:
    first: Agent = start_agent(netns)
    with first.client() as cli:
        assert setup(cli, vlan_net(), bond()) == DONE
        assert cli.call("Host.setSafeNetworkConfig") is True
        net_caps = network_view(cli.call("Host.getNetworkCapabilities"))
    first.stop()
    second: Agent = start_agent(netns)
    with second.client() as cli:
        assert network_view(cli.call("Host.getNetworkCapabilities")) == net_caps
        plan = cli.call("Host.planNetworks",
                        {"networks": vlan_net(), "bondings": bond(), "options": {}})
        # and the adopted network is ours to remove
        assert setup(cli, {NET: {"remove": "true"}}, {BOND: {"remove": "true"}}) == DONE
        caps = cli.call("Host.getNetworkCapabilities")
    assert plan == {"plan": []}
    assert NET not in caps["networks"] and BOND not in caps["bondings"]
    assert not {NET, BOND} & set(k.links(netns))


def test_bad_boot_spec_stops_the_agent_before_any_write(
    netns: str, pki: Path, tmp_path: Path
) -> None:
    bad = {"networks": {MGMT: {"nic": "missing_nic", "bridged": True}}, "bondings": {}}
    spec = _write_spec(tmp_path / "bad.json", bad)
    before = k.settled_dump(netns)
    agent = Agent(pki, netns, tmp_path / "agent.log", spec)
    done = subprocess.run(agent.argv(), capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 2, done.stderr
    assert "error 23" in done.stderr and "missing_nic" in done.stderr
    assert "listening on" not in done.stderr + done.stdout
    assert k.dump_diff(before, k.dump(netns)) == []
