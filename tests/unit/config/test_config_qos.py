"""hostQos: its canonical form and vdsm's rules, checked before anything is written (21)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.common.parity_scenarios import qos
from tests.unit.config.config_fixtures import error_of, setup
from vdsm_net.model.desired import Curve, HostQos

M = 1_000_000

VALID: list[tuple[str, dict[str, Any], HostQos | None]] = [
    ("share only", qos(20), HostQos(ls=Curve(m2=20))),
    ("all three", qos(20, 100 * M, 50 * M),
     HostQos(ls=Curve(m2=20), ul=Curve(m2=100 * M), rt=Curve(m2=50 * M))),
    ("ul equal to rt", qos(1, 5 * M, 5 * M),
     HostQos(ls=Curve(m2=1), ul=Curve(m2=5 * M), rt=Curve(m2=5 * M))),
    ("m1 and d", {"out": {"ls": {"m1": 40, "d": 1000, "m2": 20}}},
     HostQos(ls=Curve(40, 1000, 20))),
    ("numbers as strings", {"out": {"ls": {"m2": "7"}}}, HostQos(ls=Curve(m2=7))),
    ("empty out is no QoS", {"out": {}}, None),
]


@pytest.mark.parametrize(("label", "value", "canonical"), VALID, ids=[v[0] for v in VALID])
def test_valid_host_qos(label: str, value: dict[str, Any], canonical: HostQos | None) -> None:
    _request, desired = setup({"net": {"nic": "eth0", "vlan": 10, "hostQos": value}})
    assert desired.networks["net"].host_qos == canonical


INVALID: list[tuple[str, dict[str, Any], str]] = [
    ("ul without a link share", {"a": {"nic": "eth0", "hostQos": {"out": {"ul": {"m2": M}}}}},
     "link share"),
    ("rt without a link share", {"a": {"nic": "eth0", "hostQos": {"out": {"rt": {"m2": M}}}}},
     "link share"),
    ("zero share", {"a": {"nic": "eth0", "hostQos": qos(0)}}, "link share"),
    ("ul below rt", {"a": {"nic": "eth0", "hostQos": qos(10, 1 * M, 2 * M)}}, "ul must be >= rt"),
    ("one network with, one without", {
        "a": {"nic": "eth0", "vlan": 10, "hostQos": qos(10)},
        "b": {"nic": "eth0", "vlan": 20}}, "either every network"),
    ("with and without on a bond", {
        "a": {"bonding": "bond0", "hostQos": qos(10)}, "b": {"bonding": "bond0", "vlan": 5}},
     "Device bond0"),
    ("no device to shape", {"a": {"hostQos": qos(10)}}, "needs a nic or a bonding"),
    ("not an object", {"a": {"nic": "eth0", "hostQos": "fast"}}, "must be {'out'"),
    ("unknown curve", {"a": {"nic": "eth0", "hostQos": {"out": {"ls": {"m2": 1}, "x": {}}}}},
     "unknown curves x"),
    ("unknown curve key", {"a": {"nic": "eth0", "hostQos": {"out": {"ls": {"m3": 1}}}}},
     "unknown keys m3"),
    ("curve without m2", {"a": {"nic": "eth0", "hostQos": {"out": {"ls": {"m1": 1}}}}},
     "needs m2"),
    ("negative rate", {"a": {"nic": "eth0", "hostQos": qos(10, -8)}}, "out of range"),
    ("rate beyond the kernel's", {"a": {"nic": "eth0", "hostQos": qos(10, 2**40)}},
     "out of range"),
    ("boolean rate", {"a": {"nic": "eth0", "hostQos": {"out": {"ls": {"m2": True}}}}},
     "must be an integer"),
    ("text rate", {"a": {"nic": "eth0", "hostQos": {"out": {"ls": {"m2": "fast"}}}}},
     "must be an integer"),
    ("VLAN 0", {"a": {"nic": "eth0", "vlan": 0, "hostQos": qos(10)}}, "VLAN 0"),
]


@pytest.mark.parametrize(("label", "networks", "text"), INVALID, ids=[v[0] for v in INVALID])
def test_invalid_host_qos_is_21(label: str, networks: dict[str, Any], text: str) -> None:
    bonds = {"bond0": {"nics": ["eth2", "eth3"]}}
    err = error_of(networks, bonds)
    assert err.code == 21
    assert text in err.message


def test_the_rule_spans_the_running_config() -> None:
    _request, running = setup({"a": {"nic": "eth0", "vlan": 10, "hostQos": qos(10)}})
    err = error_of({"b": {"nic": "eth0", "vlan": 11}}, running=running)
    assert err.code == 21 and "without: b" in err.message
    # networks on another device are not concerned
    setup({"b": {"nic": "eth1", "vlan": 11}}, running=running)
