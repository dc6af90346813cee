"""Fixtures for the verb tests: the real agent stack in-process (Engine on the simulated kernel,
HostApi, Dispatcher, StompServer on 127.0.0.1 port 0 with mutual TLS) and a real client."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from rpc.background import BackgroundServer
from rpc.client import Client
from rpc.jsonrpc import Dispatcher
from rpc.server import StompServer, server_ssl_context
from rpc.tls.pki import init_pki
from vdsm_net.backends.memory.kernel import MemoryKernel
from vdsm_net.engine.engine import Engine
from vdsm_net.verbs.api import HostApi
from vdsm_net.verbs.hooks import Hooks

NICS = ["eth0", "eth1", "eth2", "eth3"]
HOOK_TIMEOUT = 2.0  # the per-script limit in these tests; a hung test hook sleeps far longer
WAIT = 20.0  # generous upper bound for "eventually"; never a pass/fail timing


@dataclass
class Agent:
    kernel: MemoryKernel
    engine: Engine
    api: HostApi
    dispatcher: Dispatcher
    server: BackgroundServer
    pki: Path
    hooks_dir: Path

    @property
    def port(self) -> int:
        return self.server.port

    def client(self) -> Client:
        return Client.connect("127.0.0.1", self.port, pki_dir=self.pki, timeout=WAIT)


@pytest.fixture(scope="session")
def verbs_pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("verbs-pki")
    init_pki(out, host_cn="localhost")
    return out


@pytest.fixture
def agent(verbs_pki: Path, tmp_path: Path) -> Iterator[Agent]:
    kernel = MemoryKernel(nics=NICS)
    engine = Engine(kernel)
    dispatcher = Dispatcher(ready=False)
    server = StompServer(dispatcher, server_ssl_context(verbs_pki), "127.0.0.1", 0)
    hooks_dir = tmp_path / "hooks"
    hooks_dir.mkdir()
    api = HostApi(engine, publish=server.publish_event, hooks=Hooks(hooks_dir, HOOK_TIMEOUT))
    api.register(dispatcher.register)
    with BackgroundServer(server) as bg:
        dispatcher.ready = True
        yield Agent(kernel, engine, api, dispatcher, bg, verbs_pki, hooks_dir)


@pytest.fixture
def cli(agent: Agent) -> Iterator[Client]:
    with agent.client() as client:
        yield client
