"""merge: delta semantics, removal, fullState; inputs untouched."""

from __future__ import annotations

from vdsm_net.engine.merge import merge
from vdsm_net.model.desired import Bond, Network, Options, Request, RunningConfig

A = Network(name="a", nic="eth0")
B = Network(name="b", nic="eth1", vlan=5)
BOND1 = Bond(name="bond1", nics=("eth2", "eth3"))
RUNNING = RunningConfig(networks={"a": A, "b": B}, bonds={"bond1": BOND1})


def test_unmentioned_kept_new_added_changed_replaced() -> None:
    b2 = Network(name="b", nic="eth1", vlan=6)
    c = Network(name="c", bonding="bond2")
    bond2 = Bond(name="bond2", nics=("eth0",))
    desired = merge(RUNNING, Request(networks={"b": b2, "c": c}, bondings={"bond2": bond2}))
    assert desired == RunningConfig(
        networks={"a": A, "b": b2, "c": c}, bonds={"bond1": BOND1, "bond2": bond2}
    )


def test_none_removes() -> None:
    desired = merge(RUNNING, Request(networks={"a": None, "ghost": None},
                                     bondings={"bond1": None}))
    assert desired == RunningConfig(networks={"b": B}, bonds={})


def test_full_state_drops_everything_unnamed() -> None:
    c = Network(name="c", nic="eth3")
    request = Request(networks={"a": A, "c": c}, options=Options(full_state=True))
    assert merge(RUNNING, request) == RunningConfig(networks={"a": A, "c": c}, bonds={})


def test_full_state_with_removal_of_unknown() -> None:
    request = Request(networks={"a": None}, bondings={"bond1": BOND1},
                      options=Options(full_state=True))
    assert merge(RUNNING, request) == RunningConfig(networks={}, bonds={"bond1": BOND1})


def test_empty_request_is_identity_and_inputs_untouched() -> None:
    before = RunningConfig(networks=dict(RUNNING.networks), bonds=dict(RUNNING.bonds))
    request = Request(networks={"a": None}, bondings={"bond1": None})
    merged = merge(RUNNING, Request())
    assert merged == RUNNING and merged.networks is not RUNNING.networks
    merge(RUNNING, request)
    assert before == RUNNING
    assert request == Request(networks={"a": None}, bondings={"bond1": None})
