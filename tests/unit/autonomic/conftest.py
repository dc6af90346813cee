"""Real etcd and real processes for the manager's integration tests."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from rpc.tls.pki import init_pki
from tests.cluster.etcd_server import EtcdCluster
from tests.unit.autonomic.live import Live


@pytest.fixture(scope="module")
def manager_pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("pki")
    init_pki(out, host_cn="localhost")
    return out


def _live(tmp_path: Path, pki: Path, members: int) -> Iterator[Live]:
    (tmp_path / "etcd").mkdir()
    etcd = EtcdCluster(tmp_path / "etcd", n=members)
    etcd.start()
    world = Live(etcd, pki, tmp_path)
    try:
        yield world
    finally:
        for proc in world.managers.values():
            proc.stop(signal.SIGKILL)
        for proc, _ in world.agents.values():
            proc.stop(signal.SIGKILL)
        etcd.stop()


@pytest.fixture
def live(tmp_path: Path, manager_pki: Path) -> Iterator[Live]:
    """One etcd member."""
    yield from _live(tmp_path, manager_pki, 1)


@pytest.fixture
def live_etcd3(tmp_path: Path, manager_pki: Path) -> Iterator[Live]:
    """Three etcd members in one cluster."""
    yield from _live(tmp_path, manager_pki, 3)


@pytest.fixture
def etcd(tmp_path: Path) -> Iterator[EtcdCluster]:
    """One etcd member, nothing else."""
    (tmp_path / "etcd").mkdir()
    cluster = EtcdCluster(tmp_path / "etcd")
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def etcd3(tmp_path: Path) -> Iterator[EtcdCluster]:
    """Three etcd members, nothing else."""
    (tmp_path / "etcd").mkdir()
    cluster = EtcdCluster(tmp_path / "etcd", n=3)
    cluster.start()
    try:
        yield cluster
    finally:
        for proc in cluster.procs:
            if proc is not None:
                proc.send_signal(signal.SIGCONT)
        cluster.stop()
