"""Every error code reachable over the wire, each leaving the simulated kernel unchanged;
rollback after a failed connectivity check, also when the caller is gone; 40 and the
never-blocked liveness verbs; the engine's confirmConnectivity flow."""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from typing import Any

import pytest

from rpc.client import Client, ServerError
from rpc.stomp.broker import REQUEST_QUEUES
from rpc.stomp.codec import encode_frame
from rpc.tls.context import client_ssl_context
from tests.unit.verbs.conftest import WAIT, Agent
from vdsm_net.model.kernel import KernelState

NOCHK = {"connectivityCheck": "false"}
TIMEOUT_CHK = {"connectivityCheck": "true", "connectivityTimeout": 0.1}  # vdsm's own test form


def params(networks: dict[str, Any], bondings: dict[str, Any] | None = None,
           options: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"networks": networks, "bondings": bondings or {}, "options": options or NOCHK}


def eventually(predicate: Any, what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not predicate():
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.005)


def error_of(cli: Client, method: str, args: Any = None) -> tuple[int, str]:
    with pytest.raises(ServerError) as info:
        cli.call(method, args)
    return info.value.code, info.value.message


BOND_NET = params({"bnet": {"bonding": "bond0", "vlan": "10", "mtu": 1500}},
                  {"bond0": {"nics": ["eth1", "eth2"], "options": "mode=4 miimon=150"}})

ERROR_CASES = [
    (21, params({"n": {"bridged": "false"}})),  # bridgeless without a southbound device
    (21, params({"n": {"nic": "eth1", "custom": {"bridge_opts": "foo=0"}}})),
    (21, params({"a": {"nic": "eth1", "defaultRoute": True},
                 "b": {"nic": "eth2", "defaultRoute": True}})),
    (22, params({"n": {"nic": "eth1", "ipaddr": "1.2.3.256", "netmask": "255.255.255.0"}})),
    (22, params({"n": {"nic": "eth1", "gateway": "192.0.2.1"}})),
    (23, params({"n": {"nic": "missing_nic"}})),
    (24, params({"n": {"nic": "eth1"}}, {"bond0": {"nics": ["eth1", "eth2"]}})),
    (25, params({"n": {"bonding": "jamesbond007"}})),
    (25, params({}, {"bond": {"nics": ["eth1"]}})),
    (25, params({}, {"bond0": {"nics": ["eth1"], "options": "mode=bogus"}})),
    (26, params({"n": {"vlan": "10"}})),
    (26, params({"n": {"nic": "eth1", "vlan": {"x": 1}}})),
    (27, params({"ghost": {"remove": "true"}})),
]


@pytest.mark.parametrize("code,args", ERROR_CASES)
def test_network_error_codes_leave_the_kernel_unchanged(
    agent: Agent, cli: Client, code: int, args: dict[str, Any]
) -> None:
    before = agent.kernel.observe()
    got, message = error_of(cli, "Host.setupNetworks", args)
    assert got == code, message
    assert message and "Internal" not in message
    assert agent.kernel.observe() == before
    assert agent.engine.running.networks == {}


def test_removing_a_bond_in_use_is_31_and_changes_nothing(agent: Agent, cli: Client) -> None:
    cli.call("Host.setupNetworks", BOND_NET)
    before, running = agent.kernel.observe(), agent.engine.running
    code, _ = error_of(cli, "Host.setupNetworks", params({}, {"bond0": {"remove": "true"}}))
    assert code == 31
    assert agent.kernel.observe() == before and agent.engine.running == running


@pytest.mark.parametrize("method,args,codes", [
    ("Host.noSuchVerb", {}, {-32601}),
    ("Host.setupNetworks", {"networks": "eth0", "bondings": {}, "options": {}}, {-32602}),
    ("Host.setupNetworks", {"networks": {}, "bondings": [], "options": {}}, {-32602}),
    ("Host.setupNetworks", {}, {-32602}),  # missing arguments (vdsm: a TypeError, -32603)
])
def test_rpc_level_errors_change_nothing(
    agent: Agent, cli: Client, method: str, args: Any, codes: set[int]
) -> None:
    before = agent.kernel.observe()
    code, message = error_of(cli, method, args)
    assert code in codes, message
    assert agent.kernel.observe() == before


def test_every_verb_answers_99_until_ready(agent: Agent, cli: Client) -> None:
    agent.dispatcher.ready = False
    verbs = ["Host.ping", "Host.ping2", "Host.confirmConnectivity", "Host.getCapabilities",
             "Host.getNetworkCapabilities", "Host.getStats", "Host.getNetworkStatistics",
             "Host.setSafeNetworkConfig", "Host.planNetworks", "Host.setupNetworks"]
    for verb in verbs:
        args = params({"n": {"nic": "eth1"}}) if "Networks" in verb else {}
        assert error_of(cli, verb, args)[0] == 99
    assert agent.kernel.writes == 0
    agent.dispatcher.ready = True
    assert cli.call("Host.ping2") is True


def _assert_same_kernel(now: KernelState, before: KernelState) -> None:
    assert sorted(now.links) == sorted(before.links)
    for name, link in before.links.items():
        assert now.links[name] == link, name
    assert now.addresses == before.addresses and now.routes == before.routes


def test_new_bonded_network_without_confirmation_is_10_and_gone(
    agent: Agent, cli: Client
) -> None:
    before = agent.kernel.observe()
    body = dict(BOND_NET, options=TIMEOUT_CHK)
    code, message = error_of(cli, "Host.setupNetworks", body)
    assert code == 10 and message.startswith("connectivity check failed: no Host.confirm")
    assert "connectivityCheck: false" in message  # the hint says how to keep it next time
    assert agent.kernel.writes > 0  # it was applied, then rolled back
    _assert_same_kernel(agent.kernel.observe(), before)
    caps = cli.call("Host.getNetworkCapabilities")
    assert "bnet" not in caps["networks"] and "bond0" not in caps["bondings"]


def test_mtu_and_bond_mode_edit_without_confirmation_restores_old_values(
    agent: Agent, cli: Client
) -> None:
    cli.call("Host.setupNetworks", BOND_NET)
    before = agent.kernel.observe()
    edit = params({"bnet": {"bonding": "bond0", "vlan": "10", "mtu": 1600}},
                  {"bond0": {"nics": ["eth1", "eth2"], "options": "mode=0"}}, TIMEOUT_CHK)
    writes = agent.kernel.writes
    assert error_of(cli, "Host.setupNetworks", edit)[0] == 10
    assert agent.kernel.writes > writes
    _assert_same_kernel(agent.kernel.observe(), before)
    caps = cli.call("Host.getNetworkCapabilities")
    assert caps["networks"]["bnet"]["mtu"] == "1500"
    assert caps["bondings"]["bond0"]["opts"]["mode"] == "4"
    assert caps["bondings"]["bond0"]["opts"]["miimon"] == "150"


def test_rollback_happens_when_the_caller_disconnects(agent: Agent) -> None:
    before = agent.kernel.observe()
    body = dict(BOND_NET, options={"connectivityCheck": "true", "connectivityTimeout": 1})
    request = {"jsonrpc": "2.0", "method": "Host.setupNetworks", "params": body,
               "id": str(uuid.uuid4())}
    raw = socket.create_connection(("127.0.0.1", agent.port), timeout=WAIT)
    sock = client_ssl_context(agent.pki).wrap_socket(raw, server_hostname="localhost")
    frames = [
        encode_frame("CONNECT", {"accept-version": "1.2", "heart-beat": "0,0"}),
        encode_frame("SUBSCRIBE", {"destination": "replies", "id": "1", "ack": "auto"}),
        encode_frame("SEND", {"destination": REQUEST_QUEUES[0], "reply-to": "replies",
                              "content-type": "application/json"}, json.dumps(request)),
    ]
    sock.sendall(b"".join(frames))
    sock.close()  # gone right after sending, before any reply
    eventually(lambda: "bond0" in agent.kernel.observe().links, "the setup was applied")
    eventually(lambda: not agent.api._busy.locked(), "the setup finished")
    _assert_same_kernel(agent.kernel.observe(), before)
    assert agent.engine.running.networks == {}


def test_engine_flow_confirm_connectivity_while_polling(agent: Agent, cli: Client) -> None:
    """The engine polls confirmConnectivity on the same connection while it waits."""
    done = threading.Event()
    polls = [0]

    def poll() -> None:
        while not done.is_set():
            assert cli.call("Host.confirmConnectivity") is True
            polls[0] += 1
            time.sleep(0.02)

    poller = threading.Thread(target=poll)
    poller.start()
    try:
        result = cli.call("Host.setupNetworks", params(
            {"n": {"nic": "eth1", "vlan": "20"}}, {},
            {"connectivityCheck": "true", "connectivityTimeout": 30}))
    finally:
        done.set()
        poller.join(WAIT)
    assert result == {"code": 0, "message": "Done"}
    assert "n" in cli.call("Host.getNetworkCapabilities")["networks"]
    assert polls[0] >= 1


@pytest.mark.parametrize("confirm_verb", ["Host.confirmConnectivity", "Host.ping"])
def test_concurrent_setup_is_40_and_liveness_is_never_blocked(
    agent: Agent, cli: Client, confirm_verb: str
) -> None:
    outcome: dict[str, Any] = {}

    def first() -> None:
        try:
            outcome["result"] = cli.call("Host.setupNetworks", params(
                {"n": {"nic": "eth1"}}, {},
                {"connectivityCheck": "true", "connectivityTimeout": 60}), timeout=90)
        except Exception as exc:
            outcome["error"] = exc

    worker = threading.Thread(target=first)
    worker.start()
    eventually(lambda: "n" in agent.kernel.observe().links, "the first setup was applied")
    with agent.client() as other:
        during = agent.kernel.observe()
        assert error_of(other, "Host.setupNetworks", params({"m": {"nic": "eth2"}})) == (
            40, "Resource unavailable")
        assert error_of(other, "Host.setSafeNetworkConfig")[0] == 40
        assert other.call("Host.ping2") is True  # does not confirm, is not blocked
        assert other.call("Host.getNetworkCapabilities")["networks"] == {}
        assert agent.kernel.observe() == during
        assert worker.is_alive()
        assert other.call(confirm_verb) is True
    worker.join(WAIT)
    assert outcome.get("result") == {"code": 0, "message": "Done"}, outcome
    assert "n" in cli.call("Host.getNetworkCapabilities")["networks"]
