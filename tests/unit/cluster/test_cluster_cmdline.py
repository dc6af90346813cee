"""The dracut command line -> boot spec table, the refusals, and the spec through the engine."""

from __future__ import annotations

from typing import Any

import pytest

from vdsm_net.backends.memory.kernel import MemoryKernel
from vdsm_net.cluster.cmdline import CmdlineError, split_cmdline, split_fields
from vdsm_net.cluster.cmdline_spec import parse_cmdline
from vdsm_net.engine.engine import Engine

BOND_VLAN_BRIDGE = (
    "BOOT_IMAGE=/vmlinuz-6.1 root=UUID=1234 ro quiet "
    "bond=bond0:eth1,eth0:mode=active-backup,miimon=100:9000 vlan=bond0.100:bond0 "
    "bridge=br0:bond0.100 ip=192.168.1.10::192.168.1.1:24::br0:none nameserver=1.1.1.1 "
    "vdsm_net.mgmt=mgmt vdsm_net.cluster=http://10.0.0.1:2379,10.0.0.2:2379"
)

TABLE: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("ip=eth0:dhcp",
     {"bootproto": "dhcp", "defaultRoute": True, "bridged": False, "nic": "eth0"}, {}),
    ("ip=eth0:on:1400",
     {"bootproto": "dhcp", "defaultRoute": True, "bridged": False, "nic": "eth0", "mtu": 1400},
     {}),
    ("ip=eth0:auto6",
     {"bootproto": "none", "defaultRoute": True, "bridged": False, "nic": "eth0",
      "ipv6autoconf": True}, {}),
    ("ip=eth0:dhcp6",
     {"bootproto": "none", "defaultRoute": True, "bridged": False, "nic": "eth0",
      "dhcpv6": True}, {}),
    ("ip=10.0.0.2::10.0.0.1:255.255.255.0:host1:eth0:none",
     {"bootproto": "none", "defaultRoute": True, "bridged": False, "nic": "eth0",
      "ipaddr": "10.0.0.2", "netmask": "255.255.255.0", "gateway": "10.0.0.1"}, {}),
    ("ip=10.0.0.2:::16::eth0:off:1500",  # prefix length, no gateway, an MTU
     {"bootproto": "none", "defaultRoute": True, "bridged": False, "nic": "eth0",
      "ipaddr": "10.0.0.2", "netmask": "255.255.0.0", "mtu": 1500}, {}),
    ("ip=10.0.0.2::10.0.0.1:24::eth0:none:8.8.8.8:9.9.9.9",  # dns1, dns2
     {"bootproto": "none", "defaultRoute": True, "bridged": False, "nic": "eth0",
      "ipaddr": "10.0.0.2", "netmask": "255.255.255.0", "gateway": "10.0.0.1",
      "nameservers": ["8.8.8.8", "9.9.9.9"]}, {}),
    ("ip=[2001:db8::2]::[2001:db8::1]:64::eth0:none ip=10.0.0.2::10.0.0.1:24::eth0:none",
     {"bootproto": "none", "defaultRoute": True, "bridged": False, "nic": "eth0",
      "ipaddr": "10.0.0.2", "netmask": "255.255.255.0", "gateway": "10.0.0.1",
      "ipv6addr": "2001:db8::2/64", "ipv6gateway": "2001:db8::1"}, {}),
    ("bridge=ovirtmgmt:eth0 ip=ovirtmgmt:dhcp",
     {"bootproto": "dhcp", "defaultRoute": True, "bridged": True, "nic": "eth0"}, {}),
    ("vlan=vlan0005:eth1 ip=vlan0005:dhcp",
     {"bootproto": "dhcp", "defaultRoute": True, "bridged": False, "nic": "eth1", "vlan": 5}, {}),
    ("bond ip=bond0:dhcp",  # dracut's bare bond: bond0 over eth0,eth1 in balance-rr
     {"bootproto": "dhcp", "defaultRoute": True, "bridged": False, "bonding": "bond0"},
     {"bond0": {"nics": ["eth0", "eth1"], "options": "mode=balance-rr"}}),
    ("ip=eth0:dhcp ip=eth1:dhcp bootdev=eth1 quiet",
     {"bootproto": "dhcp", "defaultRoute": True, "bridged": False, "nic": "eth1"}, {}),
    ('ip=eth0:dhcp nameserver=10.1.1.1 nameserver=10.1.1.2 foo="a b c"',
     {"bootproto": "dhcp", "defaultRoute": True, "bridged": False, "nic": "eth0",
      "nameservers": ["10.1.1.1", "10.1.1.2"]}, {}),
]


@pytest.mark.parametrize(("line", "attrs", "bondings"), TABLE, ids=[t[0] for t in TABLE])
def test_cmdline_table(line: str, attrs: dict[str, Any], bondings: dict[str, Any]) -> None:
    boot = parse_cmdline(line)
    assert boot.spec == {"networks": {"ovirtmgmt": attrs}, "bondings": bondings}
    assert boot.mgmt == "ovirtmgmt"
    assert boot.cluster == []


def test_bond_vlan_bridge_with_name_and_cluster() -> None:
    boot = parse_cmdline(BOND_VLAN_BRIDGE)
    assert boot.mgmt == "mgmt"
    assert boot.cluster == ["http://10.0.0.1:2379", "10.0.0.2:2379"]
    assert boot.spec == {
        "networks": {"mgmt": {
            "bootproto": "none", "defaultRoute": True, "bridged": True, "bonding": "bond0",
            "vlan": 100, "ipaddr": "192.168.1.10", "netmask": "255.255.255.0",
            "gateway": "192.168.1.1", "mtu": 9000, "nameservers": ["1.1.1.1"]}},
        "bondings": {"bond0": {"nics": ["eth0", "eth1"],
                               "options": "mode=active-backup miimon=100"}},
    }


def test_no_ip_means_no_spec_but_cluster_is_read() -> None:
    boot = parse_cmdline("root=/dev/sda1 ro vdsm_net.cluster=h:2379 bond=bond0:eth0")
    assert boot.spec is None
    assert boot.cluster == ["h:2379"]


BAD = [
    ("ip=dhcp", "name the interface"),
    ("ip=eth0:bogus", "unknown method 'bogus'"),
    ("ip=10.0.0.2::10.0.0.1:24::eth0:bogus", "unknown method 'bogus'"),
    ("ip=10.0.0.300::10.0.0.1:24::eth0:none", "is not an IP address"),
    ("ip=10.0.0.2::10.0.0.1:33::eth0:none", "prefix length 33 is too long"),
    ("ip=10.0.0.2::10.0.0.1:255.0.255.0::eth0:none", "neither a netmask nor a prefix"),
    ("ip=10.0.0.2::2001:db8::1:24::eth0:none", "an IPv6 address goes in [brackets]"),
    ("ip=10.0.0.2::[2001:db8::1]:24::eth0:none", "not of the address's family"),
    ("ip=:::::eth0:none", "a static configuration needs an address"),
    ("ip=10.0.0.2:10.0.0.9:10.0.0.1:24::eth0:none", "point-to-point peer"),
    ("ip=eth0:dhcp::52:54:00:12:34:56", "MAC address override is not supported"),
    ("ip=eth0:dhcp:12", "MTU 12 is not within"),
    ("ip=eth0:dhcp:abc", "neither an MTU nor a nameserver"),
    ("ip=[2001:db8::2::[2001:db8::1]:64::eth0:none", "unbalanced '[' ']'"),
    ("ip=[2001:db8::2]::[2001:db8::1:64::eth0:none", "unbalanced '[' ']'"),
    ("ip=2001:db8::2]::eth0:none", "unbalanced '[' ']'"),
    ("ip=eth0:dhcp ip=eth1:dhcp", "bootdev=<interface> names the management one"),
    ("ip=eth0:dhcp ip=eth0:on", "configures IPv4 of eth0 twice"),
    ("ip", "needs a value"),
    ("bond=bond0:eth0,eth1:mode=1,miimon", "not key=value"),
    ("bond=bond0:eth0:mode=1:big", "MTU 'big' is not a number"),
    ("bond=bond0:eth0 bond=bond0:eth1", "'bond0' is defined twice"),
    ("vlan=vlan:eth0", "no VLAN id 1-4094"),
    ("vlan=eth0.5000:eth0", "no VLAN id 1-4094"),
    ("vlan=eth0.5", "the form is vlan=<vlanname>:<phydevice>"),
    ("bridge=br0:eth0,eth1", "has one port"),
    ("bridge=br0:br1 bridge=br1:eth0 ip=br0:dhcp", "its port br1 is a bridge"),
    ("vlan=v5:v6 vlan=v6:eth0 ip=v5:dhcp", "the base must be a NIC or a bond"),
    ("nameserver=dns.example", "not an IP address"),
    ("vdsm_net.mgmt=", "a network name of 1-15 characters"),
    ("vdsm_net.mgmt=averyveryverylongname", "a network name of 1-15 characters"),
    ("vdsm_net.cluster=,", "needs URL"),
    ('ip=eth0:dhcp foo="bar', "unclosed double quote"),
]


@pytest.mark.parametrize(("line", "message"), BAD, ids=[b[0] for b in BAD])
def test_bad_cmdline_is_refused_with_the_parameter(line: str, message: str) -> None:
    with pytest.raises(CmdlineError) as info:
        parse_cmdline(line)
    assert message in str(info.value)


def test_split_cmdline_quotes_and_fields_brackets() -> None:
    assert split_cmdline(' a  b="c d" "e f"\n') == ["a", "b=c d", "e f"]
    assert split_fields("[::1]::[fe80::1]:64", "ip") == ["::1", "", "fe80::1", "64"]


@pytest.mark.parametrize("line", [BOND_VLAN_BRIDGE] + [t[0] for t in TABLE])
def test_every_spec_is_valid_setup_networks_vocabulary(line: str) -> None:
    """The engine accepts and applies what the parser makes, on a simulated host."""
    spec = parse_cmdline(line).spec
    assert spec is not None
    engine = Engine(MemoryKernel(nics=["eth0", "eth1", "eth2"]))
    engine.setup(spec["networks"], spec["bondings"], {"connectivityCheck": False})
    assert set(engine.running.networks) == set(spec["networks"])
    assert set(engine.running.bonds) == set(spec["bondings"])
