"""The test-only SIGKILL hook (vdsm_net/backends/killswitch.py) on the simulated kernel: ops go
through one at a time, the kill comes right before write k and nowhere else, the count runs
across requests, only the variable arms it, and vdsm-netd wires it in and dies by SIGKILL."""

from __future__ import annotations

import json
import logging
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from rpc.tls.pki import init_pki
from vdsm_net.backends.base import NicFacts
from vdsm_net.backends.killswitch import KILL_AT_WRITE_ENV, KillSwitch, kill_at_write
from vdsm_net.backends.memory.kernel import MemoryKernel
from vdsm_net.engine.engine import Engine
from vdsm_net.model.errors import KernelError
from vdsm_net.model.kernel import KernelState
from vdsm_net.model.ops import Op

NICS = ("eth0", "eth1", "eth2", "eth3")
NOCHK = {"connectivityCheck": "false"}
BONDINGS = {"bond0": {"nics": ["eth0", "eth1"], "options": "mode=1", "switch": "legacy"}}
NETWORKS = {
    f"net{i}": {"bonding": "bond0", "vlan": str(100 + i), "bridged": "true", "stp": "no",
                "ipaddr": f"10.{i}.0.1", "prefix": "24", "switch": "legacy"}
    for i in range(3)
}


class Killed(Exception):
    """What the injected kill raises: the process would stop right here."""


def _die() -> None:
    raise Killed


def _kernel() -> MemoryKernel:
    return MemoryKernel(nics=NICS)


def _plan(kernel: MemoryKernel) -> list[Op]:
    return Engine(kernel).plan(NETWORKS, BONDINGS, NOCHK)


def _after(ops: Sequence[Op]) -> KernelState:
    """The oracle: a fresh simulated kernel after ``ops``, applied directly."""
    kernel = _kernel()
    for op in ops:
        kernel.apply(op)
    return kernel.observe()


class Recorder:
    """An injected kill that only records the proxy's write count at each call."""

    def __init__(self, switch: list[KillSwitch]) -> None:
        self.switch = switch
        self.calls: list[int] = []

    def __call__(self) -> None:
        self.calls.append(self.switch[0].writes - 1)


class BatchingSpy:
    """A backend with ``apply_batch``, which the proxy must never use."""

    def __init__(self) -> None:
        self.kernel = _kernel()
        self.applied: list[Op] = []
        self.stats_args: list[bool] = []
        self.closed = False

    def observe(self, stats: bool = True) -> KernelState:
        self.stats_args.append(stats)
        return self.kernel.observe()

    def nic_facts(self, name: str) -> NicFacts:
        return self.kernel.nic_facts(name)

    def apply(self, op: Op) -> None:
        self.applied.append(op)
        self.kernel.apply(op)

    def apply_batch(self, ops: Sequence[Op]) -> None:
        raise AssertionError(f"apply_batch called with {len(ops)} ops")

    def close(self) -> None:
        self.closed = True


def test_the_engine_sends_ops_one_at_a_time_through_the_proxy_in_plan_order() -> None:
    spy = BatchingSpy()
    plan = _plan(spy.kernel)
    switch = KillSwitch(spy, kill_at=len(plan) + 1000, kill=lambda: pytest.fail("killed"))
    assert not hasattr(switch, "apply_batch")  # the engine's batch path stays off

    result = Engine(switch).setup(NETWORKS, BONDINGS, NOCHK)

    assert spy.applied == plan and result.writes == len(plan)
    assert switch.writes == len(plan)
    assert spy.kernel.observe() == _after(plan)


@pytest.mark.parametrize("where", ["first", "middle", "last"])
def test_the_kill_comes_right_before_write_k_and_the_kernel_holds_exactly_the_writes_before(
    where: str,
) -> None:
    kernel = _kernel()
    plan = _plan(kernel)
    k = {"first": 0, "middle": len(plan) // 2, "last": len(plan) - 1}[where]
    switch = KillSwitch(kernel, k, kill=_die)
    with pytest.raises(Killed):
        for op in plan:
            switch.apply(op)

    assert kernel.writes == k  # write k was never sent
    assert kernel.observe() == _after(plan[:k])
    assert kernel.observe() != _after(plan[:k + 1])


def test_the_kill_is_called_once_and_only_at_write_k() -> None:
    kernel = _kernel()
    plan = _plan(kernel)
    holder: list[KillSwitch] = []
    kill = Recorder(holder)
    k = 5
    holder.append(KillSwitch(kernel, k, kill=kill))
    for op in plan:  # a kill that returns (only a test's does) lets the writes go on
        holder[0].apply(op)
    assert kill.calls == [k]
    assert kernel.observe() == _after(plan)


def test_writes_are_counted_from_the_start_across_requests() -> None:
    kernel = _kernel()
    holder: list[KillSwitch] = []
    kill = Recorder(holder)
    first = _plan(kernel)
    holder.append(KillSwitch(kernel, len(first) + 1, kill=kill))
    engine = Engine(holder[0])
    engine.setup(NETWORKS, BONDINGS, NOCHK)
    assert kill.calls == [] and holder[0].writes == len(first)

    extra = {"extra": {"nic": "eth2", "bridged": "true", "switch": "legacy"}}
    second = engine.plan(extra, {}, NOCHK)
    assert len(second) >= 2
    engine.setup(extra, {}, NOCHK)
    assert kill.calls == [len(first) + 1]  # the second request's second write


def test_a_refused_write_counts() -> None:
    kernel = _kernel()
    op = _plan(kernel)[0]
    switch = KillSwitch(kernel, 1, kill=_die)
    kernel.fail_at = 0
    with pytest.raises(KernelError, match="injected fault"):
        switch.apply(op)
    with pytest.raises(Killed):
        switch.apply(op)  # the retry is write 1
    assert kernel.writes == 0


def test_observe_nic_facts_and_close_are_delegated() -> None:
    spy = BatchingSpy()
    switch = KillSwitch(spy, 0, kill=lambda: pytest.fail("killed"))
    assert switch.observe() == spy.kernel.observe() and spy.stats_args == [True]
    switch.observe(stats=False)  # the planner's observation keeps skipping the counters
    assert spy.stats_args == [True, False]
    assert switch.nic_facts("eth0") == spy.kernel.nic_facts("eth0")
    switch.close()
    assert spy.closed and switch.writes == 0
    KillSwitch(_kernel(), 0).close()  # an inner backend without close() is fine


def test_arming_logs_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        KillSwitch(_kernel(), 7, kill=lambda: None)
    assert [r.levelno for r in caplog.records] == [logging.WARNING]
    assert KILL_AT_WRITE_ENV in caplog.text and "SIGKILL" in caplog.text


@pytest.mark.parametrize(
    ("environ", "expected"),
    [({}, None), ({KILL_AT_WRITE_ENV: ""}, None), ({KILL_AT_WRITE_ENV: " "}, None),
     ({KILL_AT_WRITE_ENV: "0"}, 0), ({KILL_AT_WRITE_ENV: "17"}, 17),
     ({"VDSM_NET_TEST_SIGKILL": "3", "SIGKILL_AT_WRITE": "3"}, None)],
)
def test_only_the_variable_arms_it(environ: dict[str, str], expected: int | None) -> None:
    assert kill_at_write(environ) == expected


@pytest.mark.parametrize("value", ["-1", "x", "1.5", "0x3", "1e2"])
def test_a_bad_value_is_refused(value: str) -> None:
    with pytest.raises(ValueError, match=KILL_AT_WRITE_ENV):
        kill_at_write({KILL_AT_WRITE_ENV: value})
    with pytest.raises(ValueError):
        KillSwitch(_kernel(), -1)


# -- the agent process (simulated kernel, loopback, no root) ----------------------------------
VDSM_NETD = str(Path(sys.executable).parent / "vdsm-netd")
EXIT_TIMEOUT = 60.0


def _run_agent(tmp_path: Path, value: str) -> subprocess.CompletedProcess[str]:
    pki = tmp_path / "pki"
    init_pki(pki, host_cn="localhost")
    spec = tmp_path / "boot.json"
    spec.write_text(json.dumps({"networks": {"mgmt": {
        "nic": "eth0", "bridged": "true", "ipaddr": "192.0.2.10", "prefix": "24",
        "switch": "legacy"}}}), encoding="utf-8")
    argv = [VDSM_NETD, "--backend", "memory", "--nics", ",".join(NICS), "--listen",
            "127.0.0.1:0", "--pki", str(pki), "--boot-spec", str(spec), "--drift", "off"]
    env = {"PATH": "/usr/bin:/bin", KILL_AT_WRITE_ENV: value}
    return subprocess.run(argv, capture_output=True, text=True, env=env, check=False,
                          timeout=EXIT_TIMEOUT)


def test_vdsm_netd_with_the_variable_warns_and_dies_by_sigkill_at_the_write(
    tmp_path: Path,
) -> None:
    done = _run_agent(tmp_path, "2")  # the boot spec's third write
    assert done.returncode == -signal.SIGKILL, done.stderr
    assert "TEST HOOK ARMED" in done.stderr and "WARNING" in done.stderr
    assert "SIGKILL before write 2" in done.stderr
    assert "boot spec applied" not in done.stderr


def test_vdsm_netd_refuses_a_bad_value(tmp_path: Path) -> None:
    done = _run_agent(tmp_path, "soon")
    assert done.returncode == 2
    assert f"vdsm-netd: {KILL_AT_WRITE_ENV}" in done.stderr
    assert "listening on" not in done.stderr
