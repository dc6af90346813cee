"""`policy set` validation: the manager's keys here, the agent's own rules for the rest."""

from __future__ import annotations

from typing import Any

import pytest

from autonomic.policy import PolicyError, validate_policy

GOOD: dict[str, Any] = {
    "networks": {
        "vmnet": {"bonding": "bond0", "vlan": 100, "ipv4pool": "10.10.0.0/24",
                  "required": True},
        "vm2": {"nic": "eth3", "bridged": True, "ipv6pool": "fd00::/64"},
        "ovirtmgmt": {"mtu": 9000},
    },
    "bondings": {"bond0": {"nics": ["eth1", "eth2"], "options": "mode=4 miimon=100"}},
    "hosts": {"h1": {"nics": {"eth1": "ens1"}}},
    "options": {"connectivityTimeout": 20},
}


def test_a_good_policy_is_accepted() -> None:
    policy = validate_policy(GOOD)
    assert policy.nic_map("h1") == {"eth1": "ens1"}
    assert policy.connectivity_timeout == 20
    assert str(policy.pools("vmnet")["ipv4"]) == "10.10.0.0/24"


@pytest.mark.parametrize(("doc", "code", "words"), [
    ({"networks": {"x": {"nic": "eth1", "vlan": 5000}}}, 26, "vlan id 5000"),
    ({"networks": {"a": {"nic": "eth1"}, "b": {"nic": "eth1"}}}, 21, "single underlying"),
    ({"networks": {"a": {"bonding": "bond9"}}}, 25, "bond9"),
    ({"bondings": {"b0": {"nics": ["eth1"], "options": "mode=nope"}}}, 25, "mode"),
    ({"networks": {"a": {"nic": "eth1", "mtu": "big"}}}, 21, "mtu"),
    ({"networks": {"a": {"nic": "eth1", "ipv4pool": "10.0.0.1/24"}}}, 21, "host bits"),
    ({"networks": {"a": {"nic": "eth1", "ipv4pool": "fd00::/64"}}}, 21, "not an IPv4"),
    ({"networks": {"a": {"nic": "eth1", "ipv4pool": "10.0.0.0/24", "ipaddr": "10.0.0.5"}}},
     21, "replaces"),
    ({"networks": {"a": {"nic": "eth1", "required": "yes"}}}, 21, "required"),
    ({"networks": {"ovirtmgmt": {"nic": "eth2"}}}, 21, "management network"),
    ({"networks": {"a": {"nic": "eth1", "remove": True}}}, 21, "leave a network out"),
    ({"hosts": {"h1": {"nics": {"eth1": 3}}}}, 21, "maps NIC names"),
    ({"options": {"fullState": False}}, 21, "options"),
    ({"nets": {}}, 21, "unknown policy keys"),
    ([], 21, "JSON object"),
])
def test_a_bad_policy_is_refused_with_vdsms_code(doc: Any, code: int, words: str) -> None:
    with pytest.raises(PolicyError) as err:
        validate_policy(doc)
    assert err.value.code == code
    assert words in err.value.message


def test_a_registered_hosts_management_network_may_only_get_properties() -> None:
    validate_policy({"networks": {"mgmt2": {"mtu": 9000}}}, ["mgmt2"])
    with pytest.raises(PolicyError, match="management network"):
        validate_policy({"networks": {"mgmt2": {"nic": "eth1"}}}, ["mgmt2"])


def test_each_mapped_host_is_validated_with_its_own_names() -> None:
    doc = {"networks": {"a": {"nic": "eth1"}, "b": {"nic": "eth2"}},
           "hosts": {"odd": {"nics": {"eth2": "eth1"}}}}  # both on eth1 on host "odd"
    with pytest.raises(PolicyError, match="for host odd"):
        validate_policy(doc)


def test_a_network_may_sit_on_a_hosts_management_bond_but_never_redefine_it() -> None:
    doc = {"networks": {"storage": {"bonding": "bond0", "vlan": 20, "bridged": False}}}
    with pytest.raises(PolicyError) as err:
        validate_policy(doc)  # no host has that bond
    assert err.value.code == 25
    mgmt_bonds = {"bond0": {"nics": ["eth0", "eth1"], "options": "mode=1"}}
    validate_policy(doc, ["ovirtmgmt"], mgmt_bonds)
    with pytest.raises(PolicyError) as err:
        validate_policy({**doc, "bondings": {"bond0": {"nics": ["eth2"]}}}, [], mgmt_bonds)
    assert err.value.code == 25 and "management" in err.value.message
