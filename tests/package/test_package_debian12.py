"""The package on Debian 12 itself: apt can install it from bookworm's archive (every Depends,
with its version, resolves), and the unpacked commands run on Debian's own ``/usr/bin/python3``
with nothing but the libraries Debian installed: every module imports, the PKI tool writes a PKI
with bookworm's cryptography, and the packaged agent answers the packaged client over mutual TLS
and serves its metrics with bookworm's prometheus-client."""

from __future__ import annotations

import json
import re
import subprocess
import urllib.request
from pathlib import Path

from tests.common.agent_proc import AgentProc
from tests.package.conftest import DEBIAN_PYTHON, DEBIAN_SITE, WAIT, debian_env

IMPORT_ALL = """
import importlib, pkgutil, sys
import autonomic, rpc, vdsm_net
names = [m.name for p in (vdsm_net, rpc, autonomic)
         for m in pkgutil.walk_packages(p.__path__, p.__name__ + ".")]
optional = []  # the modules that need the etcd client, which Debian 12 does not package
for name in names:
    try:
        importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name != "aetcd":
            raise
        optional.append(name)
import cryptography, prometheus_client
print(len(names), vdsm_net.__file__, cryptography.__file__, prometheus_client.__file__,
      cryptography.__version__, ",".join(sorted(optional)))
"""
# what cannot import without aetcd: the etcd clients and what drives them, nothing else
NEEDS_AETCD = (
    "autonomic.etcd,vdsm_net.cluster.etcd,vdsm_net.cluster.registration,vdsm_net.fleet.shared_etcd"
)


def test_this_host_is_debian_12() -> None:
    release = Path("/etc/os-release").read_text()
    assert "ID=debian" in release and 'VERSION_ID="12"' in release, release


def test_apt_would_install_it_from_the_archive(deb: str) -> None:
    done = subprocess.run(["apt-get", "install", "--simulate", "--no-install-recommends",
                           str(Path(deb).resolve())], capture_output=True, text=True,
                          timeout=WAIT, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"^Inst vdsm-net ", done.stdout, re.M), done.stdout


def _debian(root: Path, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run([DEBIAN_PYTHON, "-S", *argv], capture_output=True, text=True,
                          env=debian_env(root), timeout=WAIT, check=check, cwd=root)


def test_every_module_imports_on_debians_python_and_libraries(root: Path) -> None:
    count, ours, crypto, prom, version, optional = _debian(root, "-c", IMPORT_ALL).stdout.split()
    assert optional == NEEDS_AETCD
    assert int(count) > 50
    assert ours.startswith(str(root / "usr/lib/python3/dist-packages"))  # not the work tree
    assert crypto.startswith(DEBIAN_SITE) and prom.startswith(DEBIAN_SITE)
    assert int(version.split(".")[0]) < 42  # bookworm's, older than PyPI's newest


def _script(root: Path, name: str) -> str:
    return str(root / "usr/bin" / name)


def test_the_packaged_commands_work_on_debian(root: Path, tmp_path: Path) -> None:
    for cmd in ("vdsm-netd", "vdsm-net-client"):
        done = _debian(root, _script(root, cmd), "--version", check=False)
        assert done.returncode == 0 and done.stdout.startswith(cmd), done.stderr
    pki = tmp_path / "pki"
    _debian(root, _script(root, "vdsm-net-pki"), "init", "--out", str(pki))
    examples = root / "usr/share/doc/vdsm-net/examples"
    plan = json.loads(_debian(root, _script(root, "vdsm-netd"), "plan", "--format", "json",
                              "-f", str(examples / "bond-vlan.json")).stdout)["plan"]
    assert plan[0]["op"] == "create_link" and plan[0]["link"]["name"] == "bond0"
    with AgentProc(pki, ["--nics", "eth0,eth1", "--metrics", "127.0.0.1:0"],
                   env=debian_env(root),
                   command=[DEBIAN_PYTHON, "-S", _script(root, "vdsm-netd")]) as agent:
        mport = int(agent.wait_for(re.compile(r"metrics on http://127.0.0.1:(\d+)")).group(1))
        client = [_script(root, "vdsm-net-client"), "--pki", str(pki),
                  "-a", "127.0.0.1", "-p", str(agent.port)]
        set_up = _debian(root, *client, "-f", str(examples / "bridged-vm-network.json"),
                         "Host", "setupNetworks")
        assert json.loads(set_up.stdout) == {"code": 0, "message": "Done"}, set_up.stdout
        caps = json.loads(_debian(root, *client, "Host", "getNetworkCapabilities").stdout)
        assert caps["networks"]["vmnet"]["bridged"] is True and "vmnet" in caps["bridges"]
        with urllib.request.urlopen(f"http://127.0.0.1:{mport}/metrics", timeout=WAIT) as r:
            text = r.read().decode()
        assert 'vdsm_net_calls_total{code="0",verb="Host.setupNetworks"} 1.0' in text
    assert agent.stop() == 0


def test_the_cluster_parts_say_what_they_need_on_debian(root: Path, tmp_path: Path) -> None:
    """Without aetcd (not in Debian 12) the manager still explains itself, and both cluster
    commands refuse in one line, with what to install, before doing anything."""
    assert _debian(root, "-c", "import aetcd", check=False).returncode != 0
    manager = _script(root, "vdsm-net-manager")
    helped = _debian(root, manager, "--help")
    assert "policy" in helped.stdout and "maintenance" in helped.stdout
    refused = _debian(root, manager, "--etcd", "127.0.0.1:2379", "leader", check=False)
    assert refused.returncode == 1 and "pip install aetcd" in refused.stderr, refused.stderr
    assert "Traceback" not in refused.stderr
    pki = tmp_path / "pki"
    _debian(root, _script(root, "vdsm-net-pki"), "init", "--out", str(pki))
    agent = _debian(root, _script(root, "vdsm-netd"), "--backend", "memory", "--nics", "eth0",
                    "--pki", str(pki), "--listen", "127.0.0.1:0", "--cluster", "127.0.0.1:2379",
                    "--host-id", "h1", check=False)
    assert agent.returncode == 2 and "pip install aetcd" in agent.stderr, agent.stderr
    assert "Traceback" not in agent.stderr
