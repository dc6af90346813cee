"""Every verb the agent registers has its reply shape in ``verbs.schema.RESULTS``, derived from
the TypedDicts of ``verbs.shapes`` that annotate the verbs, and each reply over the wire has that
shape."""

from __future__ import annotations

import typing
from collections.abc import Callable
from typing import Any, Literal, NotRequired, TypedDict

import pytest

from rpc.client import Client
from tests.unit.verbs.conftest import Agent
from vdsm_net.verbs import schema, shapes

NOCHK = {"connectivityCheck": "false"}
REQUEST: dict[str, Any] = {
    "networks": {"net1": {"nic": "eth1", "bridged": "true", "ipaddr": "192.0.2.10",
                          "prefix": "24", "hostQos": {"out": {"ls": {"m2": 10},
                                                              "ul": {"m2": 8000000}}}}},
    "bondings": {"bond0": {"nics": ["eth2", "eth3"], "options": "mode=1 miimon=100"}},
    "options": NOCHK,
}
CALLS: list[tuple[str, dict[str, Any]]] = [
    ("Host.ping", {}),
    ("Host.ping2", {}),
    ("Host.confirmConnectivity", {}),
    ("Host.planNetworks", REQUEST),
    ("Host.checkNetworks", {}),
    ("Host.setupNetworks", REQUEST),
    ("Host.setSafeNetworkConfig", {}),
    ("Host.getNetworkCapabilities", {}),
    ("Host.getCapabilities", {}),
    ("Host.getStats", {}),
    ("Host.getNetworkStatistics", {}),
    ("Host.getLldp", {"filter": {"devices": ["eth0", "eth1"]}}),
]


def test_every_registered_verb_has_a_result_shape(agent: Agent) -> None:
    names: list[str] = []

    def register(name: str, fn: Callable[..., Any], *, context: bool = False) -> None:
        names.append(name)

    agent.api.register(register)
    assert sorted(names) == sorted(schema.RESULTS)
    assert sorted(name for name, _ in CALLS) == sorted(schema.RESULTS)


@pytest.mark.parametrize(("verb", "params"), CALLS, ids=[name for name, _ in CALLS])
def test_each_reply_has_its_verb_s_shape(cli: Client, verb: str, params: dict[str, Any]) -> None:
    if verb not in ("Host.setupNetworks", "Host.planNetworks"):  # reports of a configured host
        cli.call("Host.setupNetworks", REQUEST)
    reply = cli.call(verb, params)
    schema.check(reply, schema.RESULTS[verb])
    if verb == "Host.planNetworks":
        assert reply["plan"], "a plan for an unconfigured host is never empty"
    if verb == "Host.getNetworkCapabilities":  # the host QoS parts are held to their shape too
        assert reply["networks"]["net1"]["hostQos"]["out"]["ul"]["m2"] == 8000000
        assert reply["nics"]["eth1"]["qos"][0]["vlan"] == -1
    if verb == "Host.getLldp":  # the simulated kernel runs no receiver
        assert reply == {d: {"enabled": False, "tlvs": []} for d in ("eth0", "eth1")}


def test_a_reply_of_another_verb_s_shape_is_refused(cli: Client) -> None:
    with pytest.raises(schema.Mismatch, match="plan"):
        schema.check(cli.call("Host.setupNetworks", REQUEST), schema.RESULTS["Host.planNetworks"])


def test_each_verb_is_annotated_with_its_reply_type(agent: Agent) -> None:
    """mypy holds each verb's builder to the same TypedDict the runtime check is derived from."""
    returns: dict[str, Any] = {}

    def register(name: str, fn: Callable[..., Any], *, context: bool = False) -> None:
        returns[name] = typing.get_type_hints(fn, include_extras=True)["return"]

    agent.api.register(register)
    assert returns == shapes.REPLIES


class _Inner(TypedDict):
    n: int


class _Sample(TypedDict):
    flag: Literal[True]
    count: shapes.NumStr
    inner: _Inner
    items: list[str]
    named: dict[str, _Inner]
    maybe: str | None
    extra: NotRequired[int]


SAMPLE: dict[str, Any] = {"flag": True, "count": "12", "inner": {"n": 1}, "items": ["a"],
                          "named": {"x": {"n": 2}}, "maybe": None}


@pytest.mark.parametrize(("change", "why"), [
    ({"flag": 1}, "flag: 1 is not true"),  # a Literal compares the type too
    ({"count": "12a"}, "count: '12a' is not numeric string"),  # the Annotated check
    ({"inner": {"n": True}}, "inner.n: True not int"),
    ({"items": "a"}, "items: 'a' is not a list"),
    ({"named": {"x": {}}}, "named.x: missing key 'n'"),
    ({"maybe": 3}, "maybe: matches no alternative"),
    ({"extra": "1"}, "extra: '1' not int"),
    ({"other": 1}, "unexpected keys \\['other'\\]"),
])
def test_the_runtime_spec_is_derived_from_the_typeddict(change: dict[str, Any], why: str) -> None:
    spec = schema.spec_of(_Sample)
    schema.check(SAMPLE, spec)
    schema.check({**SAMPLE, "extra": 5, "maybe": "s"}, spec)  # the optional key, the union
    with pytest.raises(schema.Mismatch, match=why):
        schema.check({**SAMPLE, **change}, spec)


def test_a_required_key_is_required() -> None:
    with pytest.raises(schema.Mismatch, match="missing key 'flag'"):
        schema.check({k: v for k, v in SAMPLE.items() if k != "flag"}, schema.spec_of(_Sample))
