"""Which link kinds this kernel can make, and the refusal of a plan that needs one it cannot.

A kind is there when its module is loaded or built in (``/sys/module/<mod>``,
``modules.builtin``) or can be loaded on demand (``modules.dep``: the kernel asks for
``rtnl-link-<kind>`` when a link of that kind is created). With no module tree at all (a
container, a kernel without modules) nothing is claimed missing: the kernel's own answer stays.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from vdsm_net.model.errors import (
    ERR_BAD_BONDING,
    ERR_BAD_BRIDGE,
    ERR_BAD_PARAMS,
    ERR_BAD_VLAN,
    NetworkError,
)
from vdsm_net.model.ops import CreateLink, Op

# link kind -> the kernel module that provides it
KIND_MODULES = {"bond": "bonding", "vlan": "8021q", "bridge": "bridge", "dummy": "dummy",
                "openvswitch": "openvswitch"}
KIND_CODES = {"bond": ERR_BAD_BONDING, "vlan": ERR_BAD_VLAN, "bridge": ERR_BAD_BRIDGE}
OVS_KINDS = ("ovs-bridge", "ovs-port")  # the agent's Open vSwitch objects, made through OVSDB
NO_OVSDB = "ovsdb"
"""The reason an OVS kind is missing when the kernel has the module but the agent has no OVSDB."""


def _listed(path: Path, module: str) -> bool:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    names = {module, module.replace("_", "-")}
    for line in text.splitlines():
        entry = line.split(":", 1)[0].rsplit("/", 1)[-1]
        if entry.split(".ko", 1)[0] in names:
            return True
    return False


def missing_kinds(
    release: str | None = None, modules_root: str = "/lib/modules", sys_module: str = "/sys/module"
) -> dict[str, str]:
    """``{kind: module}`` for the kinds this kernel lacks; empty when it cannot tell."""
    tree = Path(modules_root) / (release or os.uname().release)
    if not (tree / "modules.dep").is_file():
        return {}
    out = {}
    for kind, module in KIND_MODULES.items():
        if (Path(sys_module) / module).exists():
            continue
        if _listed(tree / "modules.builtin", module) or _listed(tree / "modules.dep", module):
            continue
        out[kind] = module
    if "openvswitch" in out:
        out.update(dict.fromkeys(OVS_KINDS, "openvswitch"))
    return out


def without_ovsdb(missing: Mapping[str, str]) -> dict[str, str]:
    """``missing`` plus the OVS kinds, for an agent that runs with no OVSDB (a plain netlink
    backend): an OVS network is then refused up front instead of failing while applied."""
    return {**dict.fromkeys(OVS_KINDS, NO_OVSDB), **missing}


def refuse_missing(plan: Iterable[Op], missing: Mapping[str, str]) -> None:
    """NetworkError (vdsm's code for the kind) when the plan creates a link of a missing kind."""
    if not missing:
        return
    for op in plan:
        if isinstance(op, CreateLink) and op.link.kind in missing:
            kind, module = op.link.kind, missing[op.link.kind]
            if module == NO_OVSDB:
                raise NetworkError(
                    ERR_BAD_PARAMS,
                    f"{op.link.name}: switch 'ovs' needs Open vSwitch, and this agent runs "
                    "without OVSDB; start vdsm-netd with --ovs-rundir DIR or --ovsdb REMOTE",
                )
            raise NetworkError(
                KIND_CODES.get(kind, ERR_BAD_PARAMS),
                f"{op.link.name}: this kernel has no {kind} support (module {module} is neither "
                f"loaded, built in nor installed); install or load {module} and retry",
            )
