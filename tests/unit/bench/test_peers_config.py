"""bench_peers' inputs for the peer tools: the interfaces file and the nmcli commands describe
the same workload as the setupNetworks request and the ip -batch script."""

from __future__ import annotations

import re
from pathlib import Path

from bench._kernel_work import BOND, SLAVES, request
from bench._peers_config import (
    dbus_conf,
    ifupdown2_conf,
    interfaces_file,
    nm_conf,
    nmcli_commands,
    nmcli_removal,
)
from bench._peers_tools import in_ns


def stanzas(text: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    current = ""
    for line in text.splitlines():
        if line.startswith("iface "):
            current = line.split()[1]
            out[current] = []
        elif line.startswith("    "):
            out[current].append(line.strip())
    return out


def test_interfaces_file_has_bond_vlans_and_bridges_with_addresses() -> None:
    text = interfaces_file(3)
    found = stanzas(text)
    nets, _ = request(3)
    assert set(found) == {BOND, *(f"{BOND}.{i}" for i in (1, 2, 3)), *nets}
    assert f"bond-slaves {' '.join(SLAVES)}" in found[BOND]
    assert "bond-mode 802.3ad" in found[BOND]
    for i, (name, net) in enumerate(nets.items()):
        assert f"bridge-ports {BOND}.{i + 1}" in found[name]
        assert f"address {net['ipaddr']}/24" in found[name]
        assert "bridge-waitport 0" in found[name] and "bridge-fd 0" in found[name]
    assert re.findall(r"^auto (\S+)$", text, re.M) == list(found)


def test_nmcli_commands_one_connection_each() -> None:
    cmds = nmcli_commands(2)
    names = [c[c.index("con-name") + 1] for c in cmds]
    assert names == [BOND, *SLAVES, "net0", f"{BOND}.1", "net1", f"{BOND}.2"]
    assert all(c[:2] == ["connection", "add"] for c in cmds)
    bridge = cmds[5]
    assert bridge[bridge.index("ipv4.addresses") + 1] == "10.0.1.1/24"
    vlan = cmds[6]
    assert vlan[vlan.index("master") + 1] == "net1" and vlan[vlan.index("id") + 1] == "2"
    for dummy in cmds[1:3]:
        assert dummy[dummy.index("master") + 1] == BOND


def test_nmcli_removal_deletes_every_connection_ports_first() -> None:
    added = {c[c.index("con-name") + 1] for c in nmcli_commands(3)}
    [removal] = nmcli_removal(3)
    assert removal[:2] == ["connection", "delete"]
    names = removal[2:]
    assert set(names) == added and len(names) == len(added)
    assert names.index(f"{BOND}.3") < names.index("net2")
    assert names[-1] == BOND


def test_configs_point_into_the_work_dir() -> None:
    assert "state_dir=/w/state/" in ifupdown2_conf(Path("/w/state"))
    assert "<listen>unix:path=/w/bus</listen>" in dbus_conf(Path("/w/bus"))
    conf = nm_conf(Path("/w/keys"))
    assert "path=/w/keys" in conf and "auth-polkit=false" in conf and "dns=none" in conf


def test_in_ns_runs_the_command_in_the_namespace_with_private_dirs() -> None:
    argv = in_ns("ns1", ["/etc/network", "/run/network"], ["ifup", "-a"], setup="true")
    assert argv[:3] == ["env", "PRIVATE_DIRS=/etc/network /run/network", "SETUP=true"]
    assert argv[3:7] == ["ip", "netns", "exec", "ns1"]
    assert argv[-2:] == ["ifup", "-a"]
