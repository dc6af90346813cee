"""The package tier's shared facts: the .deb that ``make test-package`` built, unpacked once per
module into a scratch root with ``dpkg -x``, and how to run its code on Debian's own Python."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

DEB = os.environ.get("VDSM_NET_DEB")
WAIT = 120.0  # a liveness bound for a loaded machine, never a measurement
DEBIAN_PYTHON = "/usr/bin/python3"
DEBIAN_SITE = "/usr/lib/python3/dist-packages"  # where Debian's python3-* libraries live


@pytest.fixture(scope="module")
def deb() -> str:
    if not DEB:
        pytest.fail("the package tier needs VDSM_NET_DEB: run it with make test-package")
    return DEB


@pytest.fixture(scope="module")
def root(deb: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    import subprocess

    out = tmp_path_factory.mktemp("deb-root")
    subprocess.run(["dpkg", "-x", deb, str(out)], check=True, timeout=WAIT)
    return out


def debian_env(root: Path) -> dict[str, str]:
    """The environment for ``DEBIAN_PYTHON -S``: the unpacked package first, then only the
    libraries Debian itself installed (no venv, no /usr/local, no user site)."""
    site = root / "usr/lib/python3/dist-packages"
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), DEBIAN_SITE]),
            "PYTHONNOUSERSITE": "1"}
