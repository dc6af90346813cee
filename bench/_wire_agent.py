"""The agent under measurement: the e2e tier's ``vdsm-netd --backend netlink --netns NS`` on
127.0.0.1:0 (tests/e2e/e2e_agent.py), with a chosen ``--drift`` policy, and one verb call timed
from the client's side together with the CPU the agent process spent on it."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench._wire_proc import cpu_seconds, settle
from rpc.client import Client
from tests.e2e.e2e_agent import Agent

CALL_TIMEOUT = 900.0  # N=1000 in UML takes seconds; a hung agent still ends the run


class BenchAgent(Agent):
    """The e2e agent with ``--drift DRIFT`` (the agent's default is ``report``)."""

    def __init__(self, pki: Path, netns: str, log_path: Path, drift: str = "report",
                 code: Path | None = None) -> None:
        super().__init__(pki, netns, log_path)
        self.drift = drift
        self.code = code  # run vdsm_net and rpc from here (another revision), not this tree

    def start(self) -> Agent:
        if self.code is None:
            return super().start()
        old = os.environ.get("PYTHONPATH")
        os.environ["PYTHONPATH"] = str(self.code)  # ahead of the editable install
        try:
            return super().start()
        finally:
            if old is None:
                del os.environ["PYTHONPATH"]
            else:
                os.environ["PYTHONPATH"] = old

    def argv(self) -> list[str]:
        return [*super().argv(), "--drift", self.drift]

    @property
    def pid(self) -> int:
        if self.proc is None:
            raise RuntimeError("the agent is not running")
        return self.proc.pid


@dataclass(frozen=True)
class Timed:
    """One call: client wall time, agent CPU during it, agent CPU after the answer until idle."""

    wall: float
    cpu: float
    tail_cpu: float
    result: Any


def timed_call(agent: BenchAgent, cli: Client, method: str, params: dict[str, Any]) -> Timed:
    """Call once the agent is idle; then wait until it is idle again (its after-work)."""
    settle(agent.pid)
    cpu0 = cpu_seconds(agent.pid)
    start = time.perf_counter()
    result = cli.call(method, params, timeout=CALL_TIMEOUT)
    wall = time.perf_counter() - start
    cpu = cpu_seconds(agent.pid) - cpu0
    tail = settle(agent.pid)
    return Timed(wall, cpu, tail, result)
