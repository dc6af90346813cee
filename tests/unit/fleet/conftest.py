"""A PKI for the fleet's tests (the engine certificate included)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rpc.tls.pki import init_pki


@pytest.fixture(scope="module")
def fleet_pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("pki")
    init_pki(out, host_cn="localhost")
    return out
