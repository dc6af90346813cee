"""The fault knobs' syntax: what each HOSTSPEC:KIND[=VALUE] means, and clear refusals."""

from __future__ import annotations

import pytest

from vdsm_net.fleet.faults import FaultSpec, faults_for, parse_fault


def test_a_spec_names_hosts_a_kind_and_a_value_with_defaults() -> None:
    assert parse_fault("3:refuse") == FaultSpec(frozenset({3}), "refuse", 21.0)
    assert parse_fault("all:slow=0.5") == FaultSpec(None, "slow", 0.5)
    assert parse_fault("1-3,7:drop=2") == FaultSpec(frozenset({1, 2, 3, 7}), "drop", 2.0)
    assert parse_fault("0:drift").value == 10.0


@pytest.mark.parametrize("text, why", [
    ("3", "HOSTSPEC:KIND"), ("3:melt", "HOSTSPEC:KIND"), ("x:slow", "not all, K, A-B"),
    ("5-2:slow", "empty"), ("1:slow=fast", "not a number"), ("1:slow=-1", "positive"),
    ("1:drift=0", "positive"), ("1-:drop", "not all, K, A-B"),
])
def test_a_bad_spec_is_refused_with_the_reason(text: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        parse_fault(text)


def test_each_host_gets_the_knobs_that_name_it_the_last_one_winning() -> None:
    specs = [parse_fault("all:slow=1"), parse_fault("2:slow=3"), parse_fault("2,4:refuse=40")]
    assert (faults_for(0, specs).slow, faults_for(0, specs).refuse) == (1.0, None)
    two = faults_for(2, specs)
    assert (two.slow, two.refuse, two.drop) == (3.0, 40, 0)
    assert faults_for(4, specs).refuse == 40


def test_a_drop_is_used_up() -> None:
    faults = faults_for(0, [parse_fault("0:drop=2")])
    assert [faults.take_drop() for _ in range(3)] == [True, True, False]
    assert faults.dropped == 2
