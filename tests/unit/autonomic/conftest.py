"""Real etcd and real processes for the manager's integration tests."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from rpc.pki import init_pki
from tests.cluster.etcd_server import EtcdCluster
from tests.unit.autonomic.live import Live


@pytest.fixture(scope="module")
def manager_pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("pki")
    init_pki(out, host_cn="localhost")
    return out


@pytest.fixture
def live(tmp_path: Path, manager_pki: Path) -> Iterator[Live]:
    (tmp_path / "etcd").mkdir()
    etcd = EtcdCluster(tmp_path / "etcd")
    etcd.start()
    world = Live(etcd, manager_pki, tmp_path)
    try:
        yield world
    finally:
        for proc in world.managers.values():
            proc.stop(signal.SIGKILL)
        for proc, _ in world.agents.values():
            proc.stop(signal.SIGKILL)
        etcd.stop()
