"""Issue 12's hostile inputs (``hostile_requests.CASES``) through the real JSON-RPC dispatcher and
HostApi on the simulated kernel: vdsm's code, the host exactly as before, no traceback, and an
agent that still works. Plus the neighbours of the refused inputs that must keep working."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from rpc.jsonrpc import Dispatcher
from tests.unit.verbs.hostile_requests import CASES, HOSTS, MGMT, NICS, NOCHK, Hostile
from vdsm_net.backends.memory.kernel import MemoryKernel
from vdsm_net.dynamic.resolv import RESOLV_ENV, host_nameservers
from vdsm_net.engine.adopt import adopt
from vdsm_net.engine.engine import Engine
from vdsm_net.model.errors import ERR_BAD_PARAMS, NetworkError
from vdsm_net.verbs.api import HostApi
from vdsm_net.verbs.hooks import BEFORE_NETWORK_SETUP, Hooks

HOOK_LIMIT = 2.0
LIVENESS = 30.0  # a generous bound on one answer: the hook cases must not wait 40 s
RESOLV = "nameserver 192.0.2.53\nsearch corp.example\noptions edns0 trust-ad\n"


@dataclass
class Host:
    kernel: MemoryKernel
    engine: Engine
    dispatcher: Dispatcher
    resolv: Path
    hooks_dir: Path
    calls: int = 0

    def call(self, method: str, params: dict[str, Any], raw: bool = False) -> dict[str, Any]:
        self.calls += 1
        body = json.dumps({"jsonrpc": "2.0", "id": self.calls, "method": method,
                           "params": params})
        if raw:  # "@raw:TEXT" values go into the body unquoted
            body = _unquote_raw(body)
        reply = self.dispatcher.dispatch(body)
        assert reply is not None
        answer: dict[str, Any] = json.loads(reply.text)
        return answer

    def state(self) -> tuple[Any, ...]:
        """Everything a rejected call must leave as it was."""
        return (self.kernel.observe(), self.kernel.writes, self.engine.running,
                self.resolv.read_text())


def _unquote_raw(body: str) -> str:
    out, rest = [], body
    while '"@raw:' in rest:
        head, _, tail = rest.partition('"@raw:')
        value, _, rest = tail.partition('"')
        out += [head, value]
    return "".join(out) + rest


def make_host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, host: str = "plain",
              hook: str = "") -> Host:
    resolv = tmp_path / "resolv.conf"
    resolv.write_text(RESOLV)
    monkeypatch.setenv(RESOLV_ENV, str(resolv))
    kernel = MemoryKernel(nics=NICS)
    HOSTS[host](kernel)
    engine = Engine(kernel, host_nameservers=host_nameservers)
    hooks_dir = tmp_path / "hooks"
    if hook:
        (hooks_dir / BEFORE_NETWORK_SETUP).mkdir(parents=True)
        script = hooks_dir / BEFORE_NETWORK_SETUP / "hostile"
        script.write_text(hook)
        script.chmod(0o755)
    dispatcher = Dispatcher()
    HostApi(engine, hooks=Hooks(hooks_dir, HOOK_LIMIT)).register(dispatcher.register)
    return Host(kernel, engine, dispatcher, resolv, hooks_dir)


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    caplog.set_level(logging.DEBUG)
    yield caplog
    assert not [r for r in caplog.records if r.exc_info or r.exc_text], "a traceback was logged"
    assert "Traceback" not in caplog.text


def setup_params(networks: dict[str, Any], bondings: dict[str, Any] | None = None,
                 options: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"networks": networks, "bondings": bondings or {},
            "options": NOCHK if options is None else options}


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_a_hostile_request_gets_its_code_and_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, logs: pytest.LogCaptureFixture,
    case: Hostile,
) -> None:
    host = make_host(tmp_path, monkeypatch, case.host, case.hook)
    before = host.state()
    start = time.monotonic()
    answer = host.call("Host.setupNetworks",
                       setup_params(case.networks, case.bondings, case.options), raw=True)
    assert time.monotonic() - start < LIVENESS
    assert "error" in answer, f"accepted: {answer}"
    assert answer["error"]["code"] == case.code, answer["error"]["message"]
    assert len(answer["error"]["message"]) < 1000  # never echoes a huge input back
    assert host.state() == before
    # still alive: pings, and a sane setup works (without the hostile hook)
    for script in host.hooks_dir.glob("*/*"):
        script.unlink()
    assert host.call("Host.ping2", {}) == {"jsonrpc": "2.0", "id": host.calls, "result": True}
    sane = host.call("Host.setupNetworks", setup_params({"sane": {"nic": "eth3"}}))
    assert sane.get("result") == {"code": 0, "message": "Done"}, sane


PLAN_CASES = [c for c in CASES if not c.hook]  # planNetworks runs no hooks


@pytest.mark.parametrize("case", PLAN_CASES, ids=[c.id for c in PLAN_CASES])
def test_the_dry_run_refuses_the_same_with_the_same_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, logs: pytest.LogCaptureFixture,
    case: Hostile,
) -> None:
    host = make_host(tmp_path, monkeypatch, case.host)
    before = host.state()
    answer = host.call("Host.planNetworks",
                       setup_params(case.networks, case.bondings, case.options), raw=True)
    assert answer.get("error", {}).get("code") == case.code, answer
    assert host.state() == before


def test_the_table_covers_every_row_of_the_issue_that_lives_in_the_agent() -> None:
    assert {c.row for c in CASES} == {"1", "3", "4", "5", "6", "7", "12", "14", "also"}
    assert len({c.id for c in CASES}) == len(CASES)


def _done(host: Host, networks: dict[str, Any], **options: Any) -> None:
    answer = host.call("Host.setupNetworks", setup_params(networks, options={**NOCHK, **options}))
    assert answer.get("result") == {"code": 0, "message": "Done"}, answer


def test_neighbours_of_refused_nameservers_are_accepted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, logs: pytest.LogCaptureFixture,
) -> None:
    host = make_host(tmp_path, monkeypatch)
    servers = ["fe80::1%eth0", "fe80::2%7", "2001:db8::53", "192.0.2.53", "127.0.0.53"]
    _done(host, {"ovirtmgmt": {**MGMT, "nameservers": servers}})
    assert host.engine.running.networks["ovirtmgmt"].nameservers == tuple(servers)


def test_the_host_default_nameservers_skip_lines_the_wire_would_refuse(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, logs: pytest.LogCaptureFixture,
) -> None:
    """Row 1's second half: a bad line already in the file is not taken as a default."""
    host = make_host(tmp_path, monkeypatch)
    host.resolv.write_text("nameserver 192.0.2.53%\nsearch attacker.example\n"
                           "nameserver 192.0.2.54\n")
    _done(host, {"ovirtmgmt": MGMT})
    assert host.engine.running.networks["ovirtmgmt"].nameservers == ("192.0.2.54",)


ODD_BUT_FINE = ("a b", "n\u00e9t-\u00fc", "x:y", "net.1", "-lead", "a%d", "t" * 200)


def test_names_the_tag_can_carry_come_back_exactly_after_a_restart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, logs: pytest.LogCaptureFixture,
) -> None:
    """Row 7: whatever name is accepted, adoption gives back exactly that name."""
    host = make_host(tmp_path, monkeypatch)
    nets: dict[str, Any] = {name: {"nic": nic, "bridged": "false"}
                            for name, nic in zip(ODD_BUT_FINE[:3], NICS[:3], strict=True)}
    nets["br-x_1"] = {"nic": "eth3"}
    _done(host, nets)
    assert set(adopt(host.kernel.observe()).networks) == set(nets)
    for name in ODD_BUT_FINE[3:]:  # one at a time on eth0, each adopted back as itself
        _done(host, {n: {"remove": "true"} for n in host.engine.running.networks}
              | {name: {"nic": "eth0", "bridged": "false"}})
        assert set(adopt(host.kernel.observe()).networks) == {name}


@pytest.mark.parametrize("value,seconds", [(0.1, 0), ("7", 7), (3600, 3600), ("0", 0)])
def test_sane_connectivity_timeouts_are_accepted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: Any, seconds: int,
) -> None:
    host = make_host(tmp_path, monkeypatch)
    plan = host.call("Host.planNetworks", setup_params(
        {"n": {"nic": "eth1"}}, options={"connectivityTimeout": value}))
    assert "result" in plan, plan
    opts = host.engine.prepare({}, {}, {"connectivityTimeout": value}).request.options
    assert opts.connectivity_timeout == seconds


@pytest.mark.parametrize("value", [float("inf"), float("-inf"), float("nan"), 10**400, 1e10])
def test_non_finite_timeouts_from_outside_the_wire_are_21(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: Any,
) -> None:
    """What a before-hook's JSON (Infinity, NaN, 1e400) or a boot spec can carry, past the
    transport's strict JSON: still 21, never an OverflowError."""
    host = make_host(tmp_path, monkeypatch)
    with pytest.raises(NetworkError) as err:
        host.engine.prepare({"n": {"nic": "eth1"}}, {}, {"connectivityTimeout": value})
    assert err.value.code == ERR_BAD_PARAMS


def test_an_owned_bridge_whose_tag_was_cleared_is_still_ours(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, logs: pytest.LogCaptureFixture,
) -> None:
    """Row 6's neighbour: the running config makes a link ours even without its tag."""
    from vdsm_net.model.ops import SetTag

    host = make_host(tmp_path, monkeypatch)
    _done(host, {"vms": {"nic": "eth1", "vlan": "5"}})
    host.kernel.apply(SetTag("vms", None))
    host.kernel.apply(SetTag("eth1.5", None))
    _done(host, {"vms": {"nic": "eth1", "vlan": "5", "mtu": 1400}})
    assert host.kernel.observe().links["vms"].tag == "vdsm-net:net=vms"
