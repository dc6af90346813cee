"""The stateless lifecycle over the wire (issue 6): the boot spec gives exactly the management
network and is adopted with 0 writes on a second start; a bad boot spec stops vdsm-netd with the
kernel untouched; SIGKILL in the middle of a large apply is adopted from the kernel's tags, and the
engine's next full request converges with nothing leaked; ``fullState`` drops what is not listed
but keeps a bridge a foreign veth still uses.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.e2e import e2e_kernel as k
from tests.e2e import e2e_life as life
from tests.e2e.conftest import StartAgent
from tests.e2e.e2e_agent import Agent, call
from tests.e2e.e2e_life import MGMT, MGMT_ADDR, MGMT_GW, MGMT_NIC, MGMT_PREFIX
from tests.e2e.e2e_requests import DONE, NOCHK, network_view, setup

BIG = 12
"""Networks in the large request: 37 kernel objects (a bond, VLANs, bridges, addresses)."""


def _caps(agent: Agent) -> dict[str, Any]:
    caps = call(agent, "Host.getCapabilities")
    assert isinstance(caps, dict)
    return caps


def test_boot_spec_gives_exactly_the_management_network_then_adopts_it_with_zero_writes(
    netns: str, start_agent: StartAgent, tmp_path: Path
) -> None:
    spec = life.write_boot_spec(tmp_path / "boot.json")
    first = start_agent(netns, spec)
    assert first.boot_writes() and first.boot_writes()[0] > 0
    caps = _caps(first)

    assert set(caps["networks"]) == {MGMT}
    assert set(caps["bridges"]) == {MGMT}
    assert caps["bondings"] == {} and caps["vlans"] == {}
    net = caps["networks"][MGMT]
    assert net["bridged"] is True and net["ports"] == [MGMT_NIC]
    assert (net["addr"], net["gateway"], net["ipv4defaultroute"]) == (MGMT_ADDR, MGMT_GW, True)
    assert caps["netConfigDirty"] == "False"  # the boot spec is the safe point

    links = k.links(netns)
    assert set(links) == {"lo", *k.NICS, MGMT}
    assert k.link_kind(links[MGMT]) == "bridge" and "UP" in links[MGMT]["flags"]
    assert links[MGMT_NIC].get("master") == MGMT
    assert all("master" not in links[nic] for nic in k.NICS if nic != MGMT_NIC)
    assert k.addresses(netns, MGMT) == [f"{MGMT_ADDR}/{MGMT_PREFIX}"]
    assert [k.addresses(netns, nic) for nic in k.NICS] == [[]] * len(k.NICS)
    default = k.default_route(netns)
    assert default is not None and (default["gateway"], default["dev"]) == (MGMT_GW, MGMT)

    first.stop()
    before = k.settled_dump(netns)
    second = start_agent(netns, spec)
    assert second.boot_writes() == [0], second.log(since_start=True)
    assert k.dump_diff(before, k.dump(netns)) == []  # the management link never flapped
    assert network_view(_caps(second)) == network_view(caps)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        pytest.param({"networks": life.mgmt_network(nic="missing_nic")}, "error 23",
                     id="missing-nic"),
        pytest.param({"networks": life.mgmt_network(ipaddr="198.51.100.300")}, "error 22",
                     id="bad-address"),
        pytest.param({"networks": [MGMT]}, "boot spec is a JSON object", id="not-an-object"),
    ],
)
def test_bad_boot_spec_stops_the_agent_and_leaves_the_kernel_alone(
    netns: str, pki: Path, tmp_path: Path, spec: dict[str, Any], message: str
) -> None:
    path = tmp_path / "boot.json"
    path.write_text(json.dumps(spec), encoding="utf-8")
    before = k.settled_dump(netns)
    done = life.run_to_exit(pki, netns, tmp_path / "agent.log", path)
    assert done.returncode != 0
    assert message in done.stderr and "vdsm-netd:" in done.stderr, done.stderr
    assert "listening on" not in done.stdout + done.stderr  # it stopped before serving
    assert k.dump_diff(before, k.dump(netns)) == []


def _restart_and_check_adoption(agent: Agent, when: str) -> None:
    """Restart the killed agent, unarmed: caps report exactly the networks the tags name."""
    agent.stop()
    agent.start()
    assert "TEST HOOK" not in agent.log(since_start=True), when
    adopted = set(_caps(agent)["networks"])
    assert adopted == life.tagged_networks(agent.netns), when


def _converge(agent: Agent, count: life.ObjectCounter, when: str) -> None:
    """The engine's next full setupNetworks: done, and the same request then plans nothing."""
    networks, bondings = life.big_request(BIG)
    with agent.client() as cli:
        assert setup(cli, networks, bondings) == DONE, when
        replan = cli.call("Host.planNetworks",
                          {"networks": networks, "bondings": bondings, "options": NOCHK})
        assert replan == {"plan": []}, when
        assert set(cli.call("Host.getCapabilities")["networks"]) == set(networks), when
    assert count() == life.Created(life.big_objects(BIG), BIG), when


def _remove_all(agent: Agent, pristine: set[str], when: str) -> None:
    """Remove whatever the agent reports; then only lo and the NICs are left."""
    caps = _caps(agent)
    gone_networks, gone_bondings = life.removal(caps["networks"], caps["bondings"])
    with agent.client() as cli:
        assert setup(cli, gone_networks, gone_bondings) == DONE, when
    assert life.link_names(agent.netns) == pristine, f"leak: {when}"


def _kill_mid_apply(agent: Agent, networks: dict[str, Any], bondings: dict[str, Any],
                    kind: str, where: Callable[[dict[str, Any]], bool] = lambda _op: True
                    ) -> str:
    """Plan the request on the running agent, then SIGKILL a fresh one right before the first
    ``kind`` op of that plan, and check the kill landed exactly there: every checked op before
    it is in the kernel, none from it on, and there is at least one of each. A description."""
    plan = life.plan_of(agent, networks, bondings, NOCHK)
    write = life.first_op(plan, kind, where)
    life.sigkill_at_write(agent, write, networks, bondings, NOCHK)
    seen = life.visible(agent.netns, plan)
    checked = [(index, shown) for index, shown in enumerate(seen) if shown is not None]
    when = f"killed before write {write}/{len(plan)} ({kind}); checked ops (index, shown): " \
           f"{checked}"
    assert all(shown == (index < write) for index, shown in checked), when
    assert any(index < write for index, _ in checked), when  # some of the apply happened ...
    assert any(index >= write for index, _ in checked), when  # ... but not all of it
    return when


def test_sigkill_in_the_middle_of_an_apply_is_adopted_and_converges(
    netns: str, start_agent: StartAgent
) -> None:
    """Three kills at exact writes of the plan (vdsm-netd's test-only SIGKILL hook), each
    followed by an unarmed restart that must adopt exactly what the tags name: creating (every
    VLAN and bridge made, before the first port joins a bridge), removing (the bond's ports
    released, before the first bulk delete), creating again (every link made and up, before
    the first address). Each time the engine's next request converges; nothing leaks."""
    networks, bondings = life.big_request(BIG)
    gone_networks, gone_bondings = life.removal(networks, bondings)
    pristine = life.link_names(netns)
    agent = start_agent(netns)
    with life.ObjectCounter(netns) as count:
        when = _kill_mid_apply(agent, networks, bondings, "set_master",
                               lambda op: op.get("master") in networks)
        _restart_and_check_adoption(agent, when)
        _converge(agent, count, f"after a kill while creating links: {when}")

        when = _kill_mid_apply(agent, gone_networks, gone_bondings, "delete_links")
        _restart_and_check_adoption(agent, when)
        _remove_all(agent, pristine, f"after a kill while removing: {when}")

        when = _kill_mid_apply(agent, networks, bondings, "add_address")
        _restart_and_check_adoption(agent, when)
        _converge(agent, count, f"after a kill before the addresses: {when}")
        _remove_all(agent, pristine, "at the end")
        assert count() == (0, 0)


def test_full_state_drops_what_is_not_listed_and_keeps_a_bridge_in_use(agent: Agent) -> None:
    ns = agent.netns
    used = {"used": {"nic": "dummy_0", "bridged": "true", "stp": "no", "switch": "legacy"}}
    spare = {"spare": {"bonding": "bond1", "vlan": "30", "bridged": "true", "switch": "legacy"}}
    spare_bond = {"bond1": {"nics": ["dummy_1", "dummy_2"], "options": "mode=1",
                            "switch": "legacy"}}
    kept_alone = {"alone": {"nic": "dummy_3", "bridged": "false", "switch": "legacy"}}
    with agent.client() as cli:
        assert setup(cli, {**used, **spare, **kept_alone}, spare_bond) == DONE
    k.ip("-n", ns, "link", "add", "vm_tap0", "type", "veth", "peer", "name", "vm_tap0p")
    k.ip("-n", ns, "link", "set", "vm_tap0", "master", "used")

    with agent.client() as cli:
        answer = setup(cli, kept_alone, {}, {**NOCHK, "fullState": True})
        caps = cli.call("Host.getCapabilities")
    assert answer == {**DONE, "keptInUse": {"used": ["vm_tap0"]}}
    assert set(caps["networks"]) == {"alone", "used"}
    assert caps["bondings"] == {}
    links = k.links(ns)
    assert "spare" not in links and "bond1" not in links and "bond1.30" not in links
    assert links["vm_tap0"].get("master") == "used" and links["dummy_0"].get("master") == "used"
    assert all("master" not in links[nic] for nic in ("dummy_1", "dummy_2"))
