"""Host QoS and getLldp over the wire, against a whole agent on the real kernel: the engine's
hostQos lands as tc HFSC on the NIC and the bond and comes back in the caps, a restarted agent
reports the same and plans nothing, removal leaves no tc object; Host.getLldp reports a peer's
TLVs sent over a veth pair from another namespace."""

from __future__ import annotations

import subprocess

from tests.common.lldp_frames import peer_namespace, peer_socket, switch_frame
from tests.e2e import e2e_kernel as k
from tests.e2e.conftest import StartAgent
from tests.e2e.e2e_requests import DONE, bond, setup

WAIT = 60.0  # an upper bound for "eventually" (the receiver looks for new NICs every 5 s)
QOS_NETS = {
    "red": {"nic": "dummy_2", "vlan": "10", "bridged": "true",
            "hostQos": {"out": {"ls": {"m2": 20}, "ul": {"m2": 100_000_000},
                                "rt": {"m2": 50_000_000}}}},
    "blue": {"bonding": "bond0", "bridged": "false", "hostQos": {"out": {"ls": {"m2": 50}}}},
}


def tc(ns: str, *args: str) -> str:
    return subprocess.run(["tc", "-n", ns, *args], capture_output=True, text=True,
                          check=True).stdout


def test_host_qos_over_the_wire_survives_a_restart(netns: str, start_agent: StartAgent) -> None:
    agent = start_agent(netns)
    with agent.client() as cli:
        assert setup(cli, QOS_NETS, bond()) == DONE
        caps = cli.call("Host.getNetworkCapabilities")
    red = {"out": {"ls": {"m1": 0, "d": 0, "m2": 20},
                   "ul": {"m1": 0, "d": 0, "m2": 100_000_000},
                   "rt": {"m1": 0, "d": 0, "m2": 50_000_000}}}
    assert caps["networks"]["red"]["hostQos"] == red
    assert caps["nics"]["dummy_2"]["qos"] == [{"hostQos": red, "vlan": 10}]
    assert caps["bondings"]["bond0"]["qos"] == [
        {"hostQos": {"out": {"ls": {"m1": 0, "d": 0, "m2": 50}}}, "vlan": -1}]
    assert "meta(vlan eq 10)" in tc(netns, "filter", "show", "dev", "dummy_2", "parent", "1389:")
    assert "class hfsc 1389:1388" in tc(netns, "class", "show", "dev", "bond0")
    assert "hfsc" not in tc(netns, "qdisc", "show", "dev", "red")
    assert agent.stop() == 0
    again = start_agent(netns)
    with again.client() as cli:
        after = cli.call("Host.getNetworkCapabilities")
        plan = cli.call("Host.planNetworks",
                        {"networks": QOS_NETS, "bondings": bond(), "options": {}})
        assert setup(cli, {"red": {"remove": "true"}, "blue": {"remove": "true"}},
                     {"bond0": {"remove": "true"}}) == DONE
    assert after["networks"]["red"]["hostQos"] == red
    assert plan == {"plan": []}
    assert "hfsc" not in tc(netns, "qdisc", "show", "dev", "dummy_2")


def test_get_lldp_reports_a_peer_s_tlvs(netns: str, start_agent: StartAgent) -> None:
    with peer_namespace(netns) as peer:
        agent = start_agent(netns)
        sock = peer_socket(peer, "veth_lp")
        with agent.client() as cli:
            def lldp() -> dict[str, object]:
                reply = cli.call("Host.getLldp", {"filter": {"devices": ["veth_l", "nope0"]}})
                assert isinstance(reply, dict)
                return reply

            k.wait_for(lambda: lldp()["veth_l"] == {"enabled": True, "tlvs": []}, WAIT,
                       "the receiver listens on veth_l")
            sock.send(switch_frame(name="peer-switch"))
            k.wait_for(lambda: bool(lldp()["veth_l"]["tlvs"]), WAIT,  # type: ignore[index]
                       "the peer's TLVs")
            reply = lldp()
            every = cli.call("Host.getLldp", {})
        sock.close()
        assert reply["nope0"] == {"enabled": False, "tlvs": []}
        tlvs = reply["veth_l"]["tlvs"]  # type: ignore[index]
        assert {"type": 5, "name": "System Name",
                "properties": {"system name": "peer-switch"}} in tlvs
        assert set(every) >= {"veth_l", *k.NICS}
