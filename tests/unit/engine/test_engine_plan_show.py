"""``vdsm-netd plan``'s text and dot forms: sentences in plan order, "nothing to do" for an
empty plan, and a device graph that Graphviz accepts, coloured by what the plan does."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from vdsm_net.backends.memory.kernel import MemoryKernel
from vdsm_net.cli import main
from vdsm_net.engine.engine import Engine
from vdsm_net.engine.plan.show import COLOURS, NOTHING, plan_dot, plan_text

NICS = "eth0,eth1,eth2,eth3"
NOCHK = {"connectivityCheck": False}
BOND_VLAN_BRIDGE: dict[str, Any] = {
    "networks": {"vmnet": {"bonding": "bond0", "vlan": "100", "bridged": True,
                           "ipaddr": "192.0.2.5", "prefix": "24", "gateway": "192.0.2.1",
                           "defaultRoute": True}},
    "bondings": {"bond0": {"nics": ["eth0", "eth1"], "options": "mode=4"}},
    "options": NOCHK,
}


def _plan(tmp_path: Path, capsys: pytest.CaptureFixture[str], body: object, fmt: str) -> str:
    req = tmp_path / "req.json"
    req.write_text(json.dumps(body))
    assert main(["plan", "--nics", NICS, "--format", fmt, "-f", str(req)]) == 0
    return capsys.readouterr().out


def test_text_is_one_sentence_per_write_in_order(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = _plan(tmp_path, capsys, BOND_VLAN_BRIDGE, "text").splitlines()
    count = int(out[0].split()[0])
    assert out[0] == f"{count} kernel writes, in order:" and len(out) == count + 1
    assert out[1].strip() == "1. create bond bond0, mode=4, mtu 1500"
    assert any(line.endswith(". create vlan bond0.100, id 100 on bond0, mtu 1500")
               for line in out)
    assert out[-1].strip().endswith("add route 0.0.0.0/0 via 192.0.2.1 dev vmnet table 254")
    assert not any("{" in line or "Link(" in line or "'" in line for line in out)  # no reprs


def test_an_empty_plan_says_nothing_to_do(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = _plan(tmp_path, capsys, {"networks": {}, "bondings": {}}, "text")
    assert out == NOTHING + "\n"


def test_dot_draws_nic_bond_vlan_bridge_coloured_by_the_plan() -> None:
    kernel = MemoryKernel(nics=NICS.split(","))
    engine = Engine(kernel)
    engine.setup({"old": {"nic": "eth2", "bridged": True}}, {}, NOCHK)
    prepared = engine.prepare({**BOND_VLAN_BRIDGE["networks"], "old": {"remove": True}},
                              BOND_VLAN_BRIDGE["bondings"], NOCHK)
    dot = plan_dot(prepared.plan, prepared.observed, prepared.target)
    colour = {name: c for name, c in re.findall(r'^  "([^"]+)" \[.*color=(\w+),', dot, re.M)}
    assert colour["bond0"] == colour["bond0.100"] == colour["vmnet"] == COLOURS["create"]
    assert colour["eth0"] == COLOURS["change"] and colour["eth3"] == COLOURS["keep"]
    assert colour["old"] == COLOURS["delete"]
    edges = set(re.findall(r'^  "([^"]+)" -> "([^"]+)"', dot, re.M))
    assert {("eth0", "bond0"), ("eth1", "bond0"), ("bond0", "bond0.100"),
            ("bond0.100", "vmnet")} <= edges
    assert plan_text(prepared.plan).splitlines()[0] in dot


@pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz: make deps-system installs it")
def test_graphviz_accepts_the_dot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dot = _plan(tmp_path, capsys, BOND_VLAN_BRIDGE, "dot")
    done = subprocess.run(["dot", "-Tsvg"], input=dot, capture_output=True, text=True,
                          check=False, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "<svg" in done.stdout and "bond0.100" in done.stdout
