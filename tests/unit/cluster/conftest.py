"""A real etcd (Debian's etcd-server) per test that needs one: loopback, free ports, tmp data."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cluster.etcd_server import EtcdCluster


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
