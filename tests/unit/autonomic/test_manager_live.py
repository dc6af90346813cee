"""The manager against a real etcd and real vdsm-netd agents (simulated kernel, loopback TLS):
the command line, convergence, a reboot, an unreachable host, and leader failover by SIGKILL."""

from __future__ import annotations

import copy
import json
import signal
import subprocess
import time
from typing import Any

from tests.unit.autonomic.live import BIN, WAIT, Live
from tests.unit.cluster.cluster_helpers import sync_until

POLICY: dict[str, Any] = {
    "networks": {
        "vmnet": {"bonding": "bond0", "vlan": 100, "ipv4pool": "10.20.0.0/24",
                  "bridged": True},
        "vm2": {"nic": "eth3", "bridged": True},
    },
    "bondings": {"bond0": {"nics": ["eth1", "eth2"], "options": "mode=4"}},
}


def addr(caps: dict[str, Any], net: str) -> str | None:
    entry = caps["networks"].get(net)
    return None if entry is None else str(entry["addr"])


def test_the_command_line_refuses_a_bad_policy_and_stores_nothing(live: Live) -> None:
    out = live.cli("policy", "get")
    assert out.returncode == 1 and "no policy" in out.stderr
    bad = {"networks": {"x": {"nic": "eth1", "vlan": 5000}}}
    out = live.cli("policy", "set", "-f", "-", stdin=json.dumps(bad))
    assert out.returncode == 1 and "code=26" in out.stderr
    assert live.cli("policy", "get").returncode == 1  # nothing stored
    out = live.cli("policy", "set", "-f", "-", stdin="{not json")
    assert out.returncode == 1 and "not JSON" in out.stderr
    live.set_policy(POLICY)
    assert json.loads(live.cli("policy", "get").stdout) == POLICY
    assert live.cli("maintenance", "h0", "on").returncode == 0
    assert live.hosts()["h0"]["maintenance"] is True
    assert live.cli("maintenance", "h0", "off").returncode == 0
    assert "h0" not in live.hosts()
    assert live.cli("maintenance", "a/b", "on").returncode == 1
    assert live.leader() is None
    out = live.cli("run", "--id", "m", "--pki", str(live.tmp / "no-pki"))
    assert out.returncode == 1 and "PKI file missing" in out.stderr
    assert "Traceback" not in out.stderr
    live.cli("maintenance", "h0", "on")
    table = live.cli("hosts").stdout.splitlines()
    assert table[0].split()[:3] == ["ID", "ADDRESS", "STATE"] and table[1].startswith("h0 ")
    out = subprocess.run([str(BIN / "vdsm-net-manager"), "--etcd", "http://127.0.0.1:9",
                          "hosts"], capture_output=True, text=True, timeout=WAIT)
    assert out.returncode == 1 and "no etcd member reachable" in out.stderr
    assert "Traceback" not in out.stderr


def test_hosts_converge_reboot_back_to_their_addresses_and_unreachable_is_left_alone(
    live: Live,
) -> None:
    live.set_policy(POLICY)
    live.agent(0)
    live.agent(1)
    live.manager("m1")
    live.wait_states({"h0": "Up", "h1": "Up"}, "join")
    given = {h: str(addr(live.caps(h), "vmnet")) for h in ("h0", "h1")}
    assert sorted(given.values()) == ["10.20.0.2", "10.20.0.3"]  # .1, the first, is kept
    assert addr(live.caps("h0"), "ovirtmgmt") == "192.0.2.10"  # the boot network, kept
    row = live.hosts()["h0"]
    assert (row["error"], row["inUse"], row["address"]) == (
        None, [], f"127.0.0.1:{live.agents['h0'][1]}")

    live.agents["h0"][0].stop(signal.SIGKILL)  # a reboot: the agent comes back on an empty host
    live.agent(0)
    live.wait_caps("h0", lambda c: addr(c, "vmnet") == given["h0"], "the same address back")

    agent1 = live.agents["h1"][0]
    agent1.send(signal.SIGSTOP)
    live.wait_states({"h1": "NonResponsive"}, "stopped agent")
    changed = copy.deepcopy(POLICY)
    changed["networks"]["vm2"]["mtu"] = 1400
    live.set_policy(changed)
    live.wait_caps("h0", lambda c: c["networks"]["vm2"]["mtu"] == "1400", "the change on h0")
    agent1.send(signal.SIGCONT)
    live.wait_caps("h1", lambda c: c["networks"]["vm2"]["mtu"] == "1400", "h1 reconciled")
    live.wait_states({"h0": "Up", "h1": "Up"}, "both up")


def test_a_sigkilled_leader_is_replaced_and_a_change_right_after_reaches_every_host(
    live: Live,
) -> None:
    live.set_policy(POLICY)
    for i in range(3):
        live.agent(i)
    live.manager("m1", ttl=2)
    live.manager("m2", ttl=2)
    live.wait_states({"h0": "Up", "h1": "Up", "h2": "Up"}, "join")
    first = live.leader()
    assert first in ("m1", "m2")
    before = {h: addr(live.caps(h), "vmnet") for h in ("h0", "h1", "h2")}
    start = time.monotonic()
    live.managers[first].stop(signal.SIGKILL)
    other = "m2" if first == "m1" else "m1"
    took = sync_until(lambda: live.leader() == other, WAIT, "the standby leads")
    assert took < 2 + 10  # within the lease TTL, with a generous margin for a busy machine
    changed = copy.deepcopy(POLICY)
    changed["networks"]["extra"] = {"nic": "eth3", "vlan": 7, "bridged": False,
                                    "ipv6pool": "fd00:7::/64"}
    live.set_policy(changed)
    for h in ("h0", "h1", "h2"):
        live.wait_caps(h, lambda c: "extra" in c["networks"], "the change after the failover")
    after = {h: addr(live.caps(h), "vmnet") for h in ("h0", "h1", "h2")}
    assert after == before  # nothing lost: the allocations came from etcd
    v6 = sorted(str(live.caps(h)["networks"]["extra"]["ipv6addrs"]) for h in after)
    assert len(set(v6)) == 3
    print(f"failover: {took:.2f} s; total with the change: {time.monotonic() - start:.2f} s")


def test_an_out_of_band_change_is_repaired_on_the_hosts_event(live: Live) -> None:
    live.set_policy(POLICY)
    live.agent(0)
    live.manager("m1", resync=600)  # no periodic resync within the test: only the event
    live.wait_states({"h0": "Up"}, "join")
    live.call("h0", "Host.setupNetworks", {"networks": {"vm2": {"remove": True}}, "bondings": {},
                                           "options": {"connectivityCheck": False}})
    assert "vm2" not in live.caps("h0")["networks"]
    took = live.wait_caps("h0", lambda c: "vm2" in c["networks"], "the drift repaired")
    print(f"drift repair after the host's event: {took:.2f} s")


def test_losing_one_etcd_member_of_three_changes_nothing(live_etcd3: Live) -> None:
    live = live_etcd3
    live.set_policy(POLICY)
    live.agent(0)
    live.manager("m1")
    live.wait_states({"h0": "Up"}, "join")
    live.etcd.stop(0)  # the first URL every client tries
    changed = copy.deepcopy(POLICY)
    changed["networks"]["vm2"]["mtu"] = 1400
    live.set_policy(changed)
    live.wait_caps("h0", lambda c: c["networks"]["vm2"]["mtu"] == "1400", "the change")
    live.wait_states({"h0": "Up"}, "up with two members")
    assert live.leader() == "m1"
