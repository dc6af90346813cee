"""vdsm's hook protocol: the runner on its own, then the hooks around setupNetworks on the wire."""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from rpc.client import Client, ServerError
from tests.unit.verbs.conftest import Agent
from vdsm_net.verbs.hooks import (
    AFTER_NETWORK_SETUP,
    AFTER_NETWORK_SETUP_FAIL,
    BEFORE_NETWORK_SETUP,
    HookError,
    Hooks,
)

NOCHK = {"connectivityCheck": "false"}


def script(root: Path, hook: str, name: str, body: str, executable: bool = True) -> Path:
    directory = root / hook
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(body)
    path.chmod(0o755 if executable else 0o644)
    return path


def sh(text: str) -> str:
    return "#!/bin/sh\n" + text + "\n"


def py(text: str) -> str:
    return f"#!{sys.executable}\nimport json, os\n" + text + "\n"


# -- the runner ---------------------------------------------------------------------------------

def test_scripts_run_in_name_order_and_rewrite_the_data(tmp_path: Path) -> None:
    log = tmp_path / "log"
    for name in ("20_b", "10_a", "30_c"):
        script(tmp_path, "h", name, py(
            f"open({str(log)!r}, 'a').write({name!r} + ' ')\n"
            "p = os.environ['_hook_json']; d = json.load(open(p))\n"
            f"d.setdefault('seen', []).append({name!r}); json.dump(d, open(p, 'w'))"))
    script(tmp_path, "h", "00_not_executable", sh("exit 1"), executable=False)
    out = Hooks(tmp_path).run("h", {"x": 1}, raise_error=True)
    assert log.read_text().split() == ["10_a", "20_b", "30_c"]
    assert out == {"x": 1, "seen": ["10_a", "20_b", "30_c"]}


@pytest.mark.parametrize("code,later_runs", [(1, True), (2, False), (3, True)])
def test_exit_codes(tmp_path: Path, code: int, later_runs: bool) -> None:
    marker = tmp_path / "later-ran"
    script(tmp_path, "h", "1_fail", sh(f"echo 'broken {code}' >&2; exit {code}"))
    script(tmp_path, "h", "2_later", sh(f"touch {marker}"))
    hooks = Hooks(tmp_path)
    with pytest.raises(HookError, match=f"broken {code}"):
        hooks.run("h", {}, raise_error=True)
    assert marker.exists() is later_runs
    marker.unlink(missing_ok=True)
    assert hooks.run("h", {"k": "v"}, raise_error=False) == {"k": "v"}


def test_a_hung_script_is_killed_and_is_an_error(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    script(tmp_path, "h", "hang", sh(f"echo $$ > {pidfile}; sleep 600"))
    with pytest.raises(HookError, match="time limit"):
        Hooks(tmp_path, timeout=0.5).run("h", {}, raise_error=True)
    with pytest.raises(ProcessLookupError):
        os.kill(int(pidfile.read_text()), 0)


DETACH = {  # issue 12 row 12: a hook leaves a process that escaped its process group
    "setsid": "setsid sh -c 'echo $$ > {pid}; exec sleep 40' &",
    "double_fork": "( setsid sh -c 'echo $$ > {pid}; exec sleep 40' & ); exit 0",
    "nohup_keeps_stderr": "nohup setsid sh -c 'echo $$ > {pid}; exec sleep 40' 2>&2 &",
}


@pytest.mark.parametrize("how", sorted(DETACH))
def test_a_detached_child_is_killed_at_the_limit_and_is_an_error(
    tmp_path: Path, how: str
) -> None:
    pidfile = tmp_path / "pid"
    script(tmp_path, "h", "detach", sh(DETACH[how].format(pid=pidfile)))
    start = time.monotonic()
    with pytest.raises(HookError, match=r"time limit .*left processes running"):
        Hooks(tmp_path, timeout=1.0).run("h", {}, raise_error=True)
    assert time.monotonic() - start < 20, "waited for the detached child (liveness bound)"
    with pytest.raises(ProcessLookupError):
        os.kill(int(pidfile.read_text()), 0)


def test_a_child_that_ends_within_the_limit_is_fine(tmp_path: Path) -> None:
    body = "( setsid sleep 0.2 & ); echo '{\"k\": 1}' > \"$_hook_json\""
    script(tmp_path, "h", "brief", sh(body))
    assert Hooks(tmp_path, timeout=20).run("h", {}, raise_error=True) == {"k": 1}


def test_a_relative_hooks_dir_works(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Scripts run from the data file's directory: their path must not depend on the cwd."""
    script(tmp_path / "hooks", "h", "s", sh('echo \'{"ran": true}\' > "$_hook_json"'))
    monkeypatch.chdir(tmp_path)
    assert Hooks("hooks").run("h", {}, raise_error=True) == {"ran": True}


def test_the_data_file_is_private_and_removed(tmp_path: Path) -> None:
    seen = tmp_path / "seen"
    script(tmp_path, "h", "s", sh(f'echo "$_hook_json" > {seen}; '
                                  f'stat -c %a "$(dirname "$_hook_json")" >> {seen}'))
    Hooks(tmp_path).run("h", {}, raise_error=True)
    path, mode = seen.read_text().split()
    assert mode == "700"
    assert not Path(path).exists() and not Path(path).parent.exists()


def test_invalid_json_left_by_a_hook_is_an_error(tmp_path: Path) -> None:
    script(tmp_path, "h", "s", sh('echo "{not json" > "$_hook_json"'))
    with pytest.raises(HookError, match="invalid JSON"):
        Hooks(tmp_path).run("h", {}, raise_error=True)


def test_inventory_lists_executables_with_sha256(tmp_path: Path) -> None:
    a = script(tmp_path, BEFORE_NETWORK_SETUP, "a", sh("exit 0"))
    script(tmp_path, BEFORE_NETWORK_SETUP, "readme", "text", executable=False)
    b = script(tmp_path, "after_get_caps", "b", sh("true"))
    (tmp_path / "empty").mkdir()
    assert Hooks(tmp_path).inventory() == {
        BEFORE_NETWORK_SETUP: {"a": {"checksum": hashlib.sha256(a.read_bytes()).hexdigest()}},
        "after_get_caps": {"b": {"checksum": hashlib.sha256(b.read_bytes()).hexdigest()}},
    }
    assert Hooks(None).inventory() == {} and Hooks(tmp_path / "absent").inventory() == {}


# -- around setupNetworks, over the wire --------------------------------------------------------

ENABLE_BRIDGED = py(
    "p = os.environ['_hook_json']; d = json.load(open(p))\n"
    "for attrs in d['request']['networks'].values():\n"
    "    attrs['bridged'] = True\n"
    "json.dump(d, open(p, 'w'))")


def setup(cli: Client, networks: dict[str, Any], bondings: dict[str, Any] | None = None) -> Any:
    return cli.call("Host.setupNetworks",
                    {"networks": networks, "bondings": bondings or {}, "options": NOCHK})


def test_before_hook_enables_bridged_and_after_hook_sees_the_request(
    agent: Agent, cli: Client
) -> None:
    cookie = agent.hooks_dir / "cookie.json"
    script(agent.hooks_dir, BEFORE_NETWORK_SETUP, "50_bridged", ENABLE_BRIDGED)
    script(agent.hooks_dir, AFTER_NETWORK_SETUP, "cookie", sh(f'cat "$_hook_json" > {cookie}'))
    setup(cli, {"net": {"nic": "eth1", "bridged": "false"}},
          {"bond0": {"nics": ["eth2", "eth3"], "options": "mode=1"}})
    caps = cli.call("Host.getCapabilities")
    assert caps["networks"]["net"]["bridged"] is True and "net" in caps["bridges"]
    data = json.loads(cookie.read_text())
    assert set(data["request"]) == {"networks", "bondings", "options"}
    # the after-hook gets the canonical request from before any hook changed it
    assert data["request"]["networks"]["net"]["nic"] == "eth1"
    assert data["request"]["networks"]["net"]["bridged"] is False
    assert data["request"]["bondings"]["bond0"]["nics"] == ["eth2", "eth3"]
    assert data["request"]["options"] == NOCHK
    assert set(caps["hooks"]) == {BEFORE_NETWORK_SETUP, AFTER_NETWORK_SETUP}


def test_a_rewritten_request_is_validated_again(agent: Agent, cli: Client) -> None:
    script(agent.hooks_dir, BEFORE_NETWORK_SETUP, "bad", py(
        "p = os.environ['_hook_json']; d = json.load(open(p))\n"
        "d['request']['networks']['net']['nic'] = 'missing_nic'\n"
        "json.dump(d, open(p, 'w'))"))
    before = agent.kernel.observe()
    with pytest.raises(ServerError) as info:
        setup(cli, {"net": {"nic": "eth1"}})
    assert info.value.code == 23
    assert agent.kernel.observe() == before


@pytest.mark.parametrize("body,text", [
    (sh("echo 'no such vlan policy' >&2; exit 2"), "no such vlan policy"),
    (sh("sleep 600"), "time limit"),
])
def test_failing_before_hook_is_78_and_changes_nothing(
    agent: Agent, cli: Client, body: str, text: str
) -> None:
    failed = agent.hooks_dir / "failed.json"
    script(agent.hooks_dir, BEFORE_NETWORK_SETUP, "policy", body)
    script(agent.hooks_dir, AFTER_NETWORK_SETUP_FAIL, "note", sh(f'cat "$_hook_json" > {failed}'))
    before = agent.kernel.observe()
    with pytest.raises(ServerError) as info:
        setup(cli, {"net": {"nic": "eth1"}})
    assert info.value.code == 78
    assert info.value.message.startswith("Hook error: ") and text in info.value.message
    assert agent.kernel.observe() == before and agent.kernel.writes == 0
    assert "net" in json.loads(failed.read_text())["request"]["networks"]


def test_a_failing_after_hook_never_fails_the_call(agent: Agent, cli: Client) -> None:
    script(agent.hooks_dir, AFTER_NETWORK_SETUP, "boom", sh("echo boom >&2; exit 2"))
    assert setup(cli, {"net": {"nic": "eth1"}}) == {"code": 0, "message": "Done"}
    assert "net" in cli.call("Host.getNetworkCapabilities")["networks"]
