"""Cluster-tier fixtures: one cluster for the session (etcd x3, a switch, three hosts, two
managers), every test starting from the base policy with all hosts Up.

Runs inside the guest kernel (``tests/uml/run-tier.sh tests/cluster``); elsewhere the tier
fails rather than create namespaces and bonds on this machine. The measured times are printed
at the end of the run.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Generator, Iterator

import pytest

from tests.cluster.cluster import MEASURED, Cluster, measure

_CLUSTER: list[Cluster] = []


TEST_TIMEOUT = 900  # seconds per test, over pyproject's 120: the guest is emulated and shared


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        item.add_marker(pytest.mark.timeout(TEST_TIMEOUT))


@pytest.fixture(scope="session")
def cluster_session() -> Iterator[Cluster]:
    if os.environ.get("VDSM_NET_UML") != "1":
        pytest.fail("the cluster tier runs inside the guest: tests/uml/run-tier.sh tests/cluster")
    cluster = Cluster()
    _CLUSTER.append(cluster)
    try:
        cluster.start()
        for host in cluster.hosts.values():
            host.agent.start()
        for took in cluster.wait_joined(timeout=240).values():
            measure("join (agent start to Up with bond, VLAN, pool address, bridge)", took)
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def cluster(cluster_session: Cluster) -> Cluster:
    cluster_session.baseline()
    return cluster_session


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, None]:
    """On failure, attach the tail of every agent's and manager's log."""
    outcome = yield
    report = outcome.get_result()
    if report.failed and _CLUSTER:
        for manager in _CLUSTER[0].managers.values():
            if manager.alive:
                manager.send(signal.SIGUSR1)  # each logs where its tasks wait
        time.sleep(1.0)
        for name, text in _CLUSTER[0].logs().items():
            report.sections.append((f"{name} log", text[-20000:]))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not MEASURED:
        return
    terminalreporter.section("measured times (liveness bounds only, never pass/fail)")
    for name, values in MEASURED.items():
        shown = ", ".join(f"{v:.2f}" for v in values)
        terminalreporter.write_line(f"{name}: {shown} s (max {max(values):.2f} s)")
