"""E2e fixtures: a dev PKI for the session, a fresh namespace with dummy NICs per test, and
vdsm-netd processes serving that namespace over mutual TLS on 127.0.0.1.

Runs inside User-Mode Linux (``tests/uml/run-tier.sh tests/e2e``); outside it the tier refuses to
run rather than touch this machine's network.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Generator, Iterator
from pathlib import Path

import pytest

from rpc.tls.pki import init_pki
from tests.e2e.e2e_agent import STARTED, Agent
from tests.e2e.e2e_kernel import nic_namespace

StartAgent = Callable[..., Agent]
_TEST_START = pytest.StashKey[float]()


@pytest.fixture(autouse=True)
def _inside_uml() -> None:
    """A failure, not a skip, when run elsewhere: the tier did not run (and must not touch
    this machine's network)."""
    if os.environ.get("VDSM_NET_UML") != "1":
        pytest.fail("the e2e tier runs inside UML: tests/uml/run-tier.sh tests/e2e")


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    item.stash[_TEST_START] = time.monotonic()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, None]:
    """On failure, attach the log of every agent that ran during the test."""
    outcome = yield
    report = outcome.get_result()
    if not report.failed:
        return
    since = item.stash.get(_TEST_START, 0.0)
    for agent in STARTED:
        if agent.alive or (agent.stopped_at is not None and agent.stopped_at >= since):
            report.sections.append((f"vdsm-netd log {agent.log_path}", agent.log()[-20000:]))


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CA, the host pair (CN localhost) and the engine client pair, vdsm's layout."""
    out = tmp_path_factory.mktemp("pki")
    init_pki(out, host_cn="localhost")
    return out


@pytest.fixture
def netns() -> Iterator[str]:
    """A fresh namespace with dummy_0..dummy_3 (down, no addresses)."""
    with nic_namespace() as name:
        yield name


@pytest.fixture
def start_agent(pki: Path, tmp_path: Path) -> Iterator[StartAgent]:
    """``start_agent(ns, boot_spec=None, extra=()) -> Agent``, started and ready (``extra``:
    more flags); all stopped afterwards.
    Every agent of a test logs to ``tmp_path/agent.log`` (restarts append)."""
    agents: list[Agent] = []

    def start(ns: str, boot_spec: Path | None = None, extra: tuple[str, ...] = ()) -> Agent:
        agent = Agent(pki, ns, tmp_path / "agent.log", boot_spec, extra)
        agents.append(agent)
        return agent.start()

    try:
        yield start
    finally:
        for agent in agents:
            agent.stop()


@pytest.fixture
def agent(netns: str, start_agent: StartAgent) -> Agent:
    """One vdsm-netd serving ``netns``."""
    return start_agent(netns)


@pytest.fixture(scope="module")
def shared_agent(pki: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Agent]:
    """One vdsm-netd and its namespace for a whole module, for tests that leave the kernel as
    they found it (each such test asserts that it did)."""
    with nic_namespace() as ns:
        agent = Agent(pki, ns, tmp_path_factory.mktemp("agent") / "agent.log")
        try:
            yield agent.start()
        finally:
            agent.stop()
