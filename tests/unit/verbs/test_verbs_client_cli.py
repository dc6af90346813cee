"""vdsm-net-client for people: the verbs listed from the registry, a verb's parameters with a
JSON template that the engine accepts, --version, connection errors that say why, bash
completion, ``show`` as a tree and ``check`` (exit 1 when the kernel differs)."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from tests.unit.verbs.conftest import Agent
from vdsm_net import __version__
from vdsm_net.backends.memory.kernel import MemoryKernel
from vdsm_net.client.main import main
from vdsm_net.engine.engine import Engine
from vdsm_net.model.ops import SetMtu
from vdsm_net.verbs import schema

ROOT = Path(__file__).resolve().parents[3]
NOCHK = {"connectivityCheck": False}


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_namespace_help_lists_every_registered_verb_on_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = _run(capsys, "Host", "-h")
    assert code == 0
    listed = [line.split()[0] for line in out.splitlines() if line.startswith("  ")]
    assert sorted(f"Host.{m}" for m in listed) == sorted(schema.RESULTS)
    assert "(no description)" not in out


def test_verb_help_gives_parameters_types_and_a_template_the_engine_accepts(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = _run(capsys, "--pki", "/nowhere", "Host", "setupNetworks", "-h")
    assert code == 0
    assert "  networks     object   required" in out
    assert "returns: {code, keptInUse, message}" in out
    template = json.loads(out.split("JSON template", 1)[1].split("\n", 1)[1])
    kernel = MemoryKernel(nics=("eth0", "eth1", "eth2", "eth3"))
    assert Engine(kernel).plan(template["networks"], template["bondings"], NOCHK)


def test_unknown_verbs_and_namespaces_say_what_exists(capsys: pytest.CaptureFixture[str]) -> None:
    assert "see 'vdsm-net-client Host -h'" in _run(capsys, "Host", "nope", "-h")[1]
    assert "known: Host" in _run(capsys, "Vm", "-h")[1]


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(capsys, "--version") == (0, f"vdsm-net-client {__version__}\n", "")


def _closed_port(family: socket.AddressFamily, host: str) -> int:
    with socket.socket(family) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def test_connection_errors_say_why_and_bracket_ipv6(
    agent: Agent, capsys: pytest.CaptureFixture[str]
) -> None:
    port = _closed_port(socket.AF_INET, "127.0.0.1")
    code, _, err = _run(capsys, "--pki", str(agent.pki), "-a", "127.0.0.1", "-p", str(port),
                        "Host", "ping2")
    assert (code, err.strip()) == (
        1, f"vdsm-net-client: cannot connect to 127.0.0.1:{port}: Connection refused")
    port6 = _closed_port(socket.AF_INET6, "::1")
    _, _, err6 = _run(capsys, "--pki", str(agent.pki), "-a", "::1", "-p", str(port6),
                      "Host", "ping2")
    assert f"cannot connect to [::1]:{port6}: " in err6 and not err6.strip().endswith(":")


def test_show_is_a_tree_and_check_exits_1_on_drift(
    agent: Agent, capsys: pytest.CaptureFixture[str]
) -> None:
    with agent.client() as cli:
        cli.call("Host.setupNetworks", {
            "networks": {"vmnet": {"bonding": "bond0", "vlan": "100", "bridged": True,
                                   "ipaddr": "192.0.2.5", "prefix": "24"}},
            "bondings": {"bond0": {"nics": ["eth0", "eth1"], "options": "mode=1"}},
            "options": NOCHK})
    conn = ["--pki", str(agent.pki), "-a", "127.0.0.1", "-p", str(agent.port)]
    code, out, _ = _run(capsys, *conn, "show")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "vmnet: 192.0.2.5/24"
    assert [re.match(r"[ │├└─]*\S+", line).group(0) for line in lines[1:]] == [  # type: ignore[union-attr]
        "└── vmnet", "    └── bond0.100", "        └── bond0", "            ├── eth0",
        "            └── eth1"]
    assert _run(capsys, *conn, "check") == (
        0, "[ ok ] vmnet\nthe kernel matches the running config\n", "")
    agent.kernel.apply(SetMtu("bond0.100", 1400))  # someone changes the kernel behind us
    code, out, _ = _run(capsys, *conn, "check")
    assert code == 1
    assert "[fail] bond0.100.mtu: desired 1500, kernel 1400" in out.splitlines()


def _complete(command: str, words: str) -> list[str]:
    """What contrib/completion/COMMAND offers for the last of ``words``."""
    function = "_" + command.replace("-", "_")
    script = (f"source {ROOT}/contrib/completion/{command}; COMP_WORDS=({words}); "
              f"COMP_CWORD=$((${{#COMP_WORDS[@]}} - 1)); {function}; "
              'echo "${COMPREPLY[@]}"')
    env = {**os.environ, "PATH": f"{ROOT}/.venv/bin:{os.environ['PATH']}"}
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=env,
                          check=False, timeout=60)
    assert not done.stderr, done
    return done.stdout.split()


@pytest.mark.skipif(shutil.which("bash") is None, reason="no bash")
def test_bash_completion_offers_the_verbs() -> None:
    assert _complete("vdsm-net-client", "vdsm-net-client -p 1 Host setup") == ["setupNetworks"]


@pytest.mark.skipif(shutil.which("bash") is None, reason="no bash")
@pytest.mark.parametrize(("words", "expected"), [
    ("vdsm-net-pki ''", ["init"]),
    ("vdsm-net-pki init --ho", ["--host-cn"]),
    ("vdsm-net-pki init --f", ["--force"]),
])
def test_bash_completion_of_the_pki_tool(words: str, expected: list[str]) -> None:
    assert _complete("vdsm-net-pki", words) == expected
