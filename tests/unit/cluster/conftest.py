"""A real etcd (Debian's etcd-server) per test that needs one (loopback, free ports, tmp data),
the PKI and the agent starter."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from rpc.tls.pki import init_pki
from tests.cluster.etcd_server import EtcdCluster
from tests.unit.cluster.agents import Starter


@pytest.fixture
def etcd_unstarted(tmp_path: Path) -> Iterator[EtcdCluster]:
    """One member with its ports chosen, not started yet; stopped afterwards."""
    cluster = EtcdCluster(tmp_path / "etcd")
    (tmp_path / "etcd").mkdir()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def etcd(etcd_unstarted: EtcdCluster) -> EtcdCluster:
    etcd_unstarted.start()
    return etcd_unstarted


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("pki")
    init_pki(out, host_cn="localhost")
    return out


@pytest.fixture
def start(pki: Path, tmp_path: Path) -> Iterator[Starter]:
    starter = Starter(pki, tmp_path)
    yield starter
    for proc in starter.procs:
        proc.stop(signal.SIGKILL)
