"""The product speaks rtnetlink through its own codec: no module of it imports pyroute2, which
is only the tests' oracle (Debian 12 ships pyroute2 0.7, and the package depends on nothing of
it)."""

from __future__ import annotations

import subprocess
import sys

IMPORT_ALL = """
import importlib, pkgutil, sys
import rpc, vdsm_net
names = [m.name for p in (vdsm_net, rpc)
         for m in pkgutil.walk_packages(p.__path__, p.__name__ + ".")]
for name in names:
    importlib.import_module(name)
print(len(names), sorted(m for m in sys.modules if m.split(".")[0] == "pyroute2"))
"""


def test_no_product_module_imports_pyroute2() -> None:
    done = subprocess.run([sys.executable, "-c", IMPORT_ALL], capture_output=True, text=True,
                          check=True, timeout=120)
    count, loaded = done.stdout.split(" ", 1)
    assert int(count) > 50  # every module was imported, not none
    assert loaded.strip() == "[]"
