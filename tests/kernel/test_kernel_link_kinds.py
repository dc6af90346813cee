"""The missing-link-kind check against the guest's real kernel and module tree: the real tree
lacks nothing, and with a copy of it from which the bonding module is gone (not in modules.dep
or modules.builtin, not under /sys/module), a bond request is refused with 25 naming the module
while the kernel, which would have made the bond, is left exactly as it was; a VLAN and a bridge
are still made."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.common.iproute import ip
from vdsm_net.backends.kinds import KIND_MODULES, missing_kinds
from vdsm_net.backends.netlink.backend import NetlinkBackend
from vdsm_net.engine.engine import Engine
from vdsm_net.model.errors import ERR_BAD_BONDING, NetworkError

NOCHK = {"connectivityCheck": False}
BOND = ({"n": {"bonding": "bond0", "bridged": True}},
        {"bond0": {"nics": ["dummy_0", "dummy_1"]}})


def _modules_root() -> Path:
    root = os.environ.get("VDSM_NET_GUEST_MODROOT")
    assert root, "the kernel tier runs in the guest, which names its module tree"
    return Path(root) / "lib" / "modules"


def _without(module: str, tmp_path: Path) -> tuple[str, str]:
    """A copy of the running kernel's module tree and of /sys/module with ``module`` gone."""
    release = os.uname().release
    real = _modules_root() / release
    tree = tmp_path / "modules" / release
    tree.mkdir(parents=True)
    for name in ("modules.dep", "modules.builtin"):
        lines = (real / name).read_text().splitlines(keepends=True)
        # an entry is "path/to/NAME.ko[.xz][: deps]"
        kept = [x for x in lines
                if x.split(":", 1)[0].rsplit("/", 1)[-1].split(".ko", 1)[0] != module]
        assert len(kept) < len(lines) or name == "modules.builtin"  # it was a module there
        (tree / name).write_text("".join(kept))
    sysmod = tmp_path / "sys-module"
    sysmod.mkdir()
    for entry in os.listdir("/sys/module"):
        if entry != module:
            (sysmod / entry).mkdir()
    return str(tmp_path / "modules"), str(sysmod)


def _links(ns: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = json.loads(ip("-n", ns, "-d", "-j", "link", "show"))
    for link in out:
        link.pop("stats64", None)
    return out


@pytest.fixture
def lacking_bonding(backend: NetlinkBackend, tmp_path: Path) -> Iterator[Engine]:
    modules, sysmod = _without("bonding", tmp_path)
    missing = missing_kinds(modules_root=modules, sys_module=sysmod)
    assert missing == {"bond": "bonding"}  # only the module we took away
    yield Engine(backend, missing_kinds=missing)


def test_the_guests_real_kernel_lacks_no_kind() -> None:
    assert (_modules_root() / os.uname().release / "modules.dep").is_file()
    assert missing_kinds(modules_root=str(_modules_root())) == {}
    assert all(Path("/sys/module", m).exists() for m in KIND_MODULES.values())


def test_a_bond_without_the_bonding_module_is_refused_and_nothing_written(
    backend: NetlinkBackend, nics_ns: str, lacking_bonding: Engine
) -> None:
    before = _links(nics_ns)
    with pytest.raises(NetworkError) as err:
        lacking_bonding.setup(*BOND, NOCHK)
    assert err.value.code == ERR_BAD_BONDING
    assert "bond0" in err.value.message and "module bonding" in err.value.message
    assert backend.writes == 0 and _links(nics_ns) == before
    # the kernel itself would have made it: the refusal is ours, before any write
    Engine(backend).setup(*BOND, NOCHK)
    assert "bond0" in {link["ifname"] for link in _links(nics_ns)}


def test_kinds_the_kernel_has_are_still_made(
    backend: NetlinkBackend, nics_ns: str, lacking_bonding: Engine
) -> None:
    lacking_bonding.setup({"v": {"nic": "dummy_2", "vlan": "7", "bridged": True}}, {}, NOCHK)
    kinds = {link["ifname"]: link.get("linkinfo", {}).get("info_kind")
             for link in _links(nics_ns)}
    assert kinds["dummy_2.7"] == "vlan" and kinds["v"] == "bridge"
