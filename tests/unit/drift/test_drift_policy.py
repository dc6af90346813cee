"""The drift policy on the simulated kernel: report and enforce, when the callback fires, event
filtering, waiting for writers, the thread's debounce and periodic compare, and a clean stop."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from vdsm_net.drift.monitor import CAPS_KEY, DriftMonitor, DriftReport
from vdsm_net.model.errors import KernelError
from vdsm_net.model.ops import SetMaster, SetMtu

from .drift_helpers import BODY, NOCHK, FakeEvents, configured

WAIT = 10.0  # generous upper bound for a thread to react; never a pass/fail timing


class Reports:
    def __init__(self) -> None:
        self.got: list[DriftReport] = []
        self.event = threading.Event()

    def __call__(self, report: DriftReport) -> None:
        self.got.append(report)
        self.event.set()

    def next(self) -> DriftReport:
        assert self.event.wait(WAIT), "no drift callback"
        self.event.clear()
        return self.got[-1]


def test_off_is_no_monitor() -> None:
    engine, _ = configured()
    with pytest.raises(ValueError):
        DriftMonitor(engine, "off")


def test_report_calls_back_only_when_the_drift_set_changes() -> None:
    engine, kernel = configured()
    reports = Reports()
    mon = DriftMonitor(engine, "report", reports)
    assert mon.check().drift == () and reports.got == []
    kernel.apply(SetMtu("net1", 1500))
    assert mon.check().drift == ("net1.mtu: desired 9000, kernel 1500",)
    assert len(reports.got) == 1 and reports.got[0].drift == mon.report.drift
    mon.check()
    assert len(reports.got) == 1  # same drift: said once
    kernel.apply(SetMaster("eth1", None))
    drift = mon.check().drift
    # releasing a bond port closes it and restores its MTU, as the bonding driver does
    assert drift == (
        "bond0: port eth1 detached", "eth1.mtu: desired 9000, kernel 1500",
        "eth1.state: desired up, kernel down", "net1.mtu: desired 9000, kernel 1500",
    )
    assert len(reports.got) == 2
    assert kernel.observe().links["net1"].mtu == 1500  # report mode changes nothing
    engine.reconcile()
    assert mon.check().drift == () and len(reports.got) == 3 and reports.got[-1].drift == ()


def test_report_is_exposed_as_a_wire_dict() -> None:
    engine, kernel = configured()
    mon = DriftMonitor(engine, "report")
    kernel.apply(SetMtu("net1", 1500))
    wire = mon.check().to_wire()
    assert CAPS_KEY == "driftReport"
    assert wire["mode"] == "report" and wire["drift"] == ["net1.mtu: desired 9000, kernel 1500"]
    assert wire["repaired"] == [] and isinstance(wire["checkedAt"], int) and "error" not in wire


def test_enforce_repairs_and_reports_what_it_repaired() -> None:
    engine, kernel = configured()
    reports = Reports()
    mon = DriftMonitor(engine, "enforce", reports)
    kernel.apply(SetMtu("net1", 1500))
    kernel.apply(SetMaster("eth2", None))
    report = mon.check()
    assert report.drift == () and report.error == ""
    assert report.repaired == (
        "bond0: port eth2 detached", "eth2.mtu: desired 9000, kernel 1500",
        "eth2.state: desired up, kernel down", "net1.mtu: desired 9000, kernel 1500",
    )
    state = kernel.observe()
    assert state.links["net1"].mtu == 9000 and state.links["eth2"].master == "bond0"
    assert reports.got == [report]
    writes = kernel.writes
    assert mon.check().repaired == report.repaired  # still said, nothing new, nothing written
    assert kernel.writes == writes and len(reports.got) == 1


def test_enforce_failure_is_reported_reverted_and_not_retried_until_periodic() -> None:
    engine, kernel = configured()
    reports = Reports()
    mon = DriftMonitor(engine, "enforce", reports)
    kernel.apply(SetMtu("net1", 1500))
    kernel.fail_at = 0  # the next write fails
    report = mon.check()
    assert report.error and report.drift == ("net1.mtu: desired 9000, kernel 1500",)
    assert report.repaired == () and len(reports.got) == 1
    writes = kernel.writes
    mon.check()  # an event after the failed repair: the same drift is not repaired again
    assert kernel.writes == writes
    report = mon.check(retry=True)  # the periodic compare tries again
    assert report.drift == () and report.repaired and not report.error
    assert kernel.observe().links["net1"].mtu == 9000


def test_enforce_keeps_foreign_links_alone() -> None:
    engine, kernel = configured()
    kernel.add_foreign_link("tap0")
    kernel.apply(SetMtu("tap0", 1400))
    mon = DriftMonitor(engine, "enforce")
    writes = kernel.writes
    assert mon.check().drift == ()
    assert kernel.writes == writes and kernel.observe().links["tap0"].mtu == 1400


def test_pokes_about_unmanaged_links_are_dropped() -> None:
    engine, kernel = configured()
    kernel.add_foreign_link("tap0")
    mon = DriftMonitor(engine, "report")
    mon.check()
    assert mon.poke(frozenset({"tap0", "lo"})) is False and mon.ignored == 1
    assert mon.poke(frozenset({"net1"})) is True
    assert mon.poke(frozenset({None})) is True  # unknown link: compare to be sure
    assert mon.ignored == 1


def test_scope_follows_the_running_config_and_tagged_leftovers() -> None:
    engine, _ = configured()
    mon = DriftMonitor(engine, "report")
    assert mon.poke(frozenset({"eth0"})) is True
    assert mon.poke(frozenset({"blue"})) is False
    engine.setup({"blue": {"nic": "eth0", "vlan": 7}, "mgmt": {"remove": True}}, {}, NOCHK)
    assert mon.poke(frozenset({"blue"})) is True and mon.poke(frozenset({"eth0.7"})) is True


def test_compare_waits_for_a_writer_and_never_sees_a_half_apply() -> None:
    engine, kernel = configured()
    reports = Reports()
    mon = DriftMonitor(engine, "report", reports)
    mon.check()
    inside, release = threading.Event(), threading.Event()

    def confirm(_since: float, _timeout: float) -> bool:
        inside.set()  # the new bridge is in the kernel, the running config not yet updated
        return release.wait(WAIT)

    opts: dict[str, Any] = {"connectivityCheck": True, "connectivityTimeout": 30}
    writer = threading.Thread(
        target=engine.setup, args=({"net2": {"nic": "eth3", "vlan": 5}}, {}, opts, confirm)
    )
    writer.start()
    assert inside.wait(WAIT)
    assert "net2" in kernel.observe().links
    assert engine.snapshot(timeout=0) is None
    checker = threading.Thread(target=mon.check)
    checker.start()
    checker.join(0.2)
    assert checker.is_alive()  # blocked by the writer
    release.set()
    writer.join(WAIT)
    checker.join(WAIT)
    assert not checker.is_alive() and mon.report.drift == () and reports.got == []


def test_thread_compares_after_an_event_and_stops_cleanly() -> None:
    engine, kernel = configured()
    reports = Reports()
    sources: list[FakeEvents] = []

    def events(sink: Any) -> FakeEvents:
        sources.append(FakeEvents(sink))
        return sources[-1]

    mon = DriftMonitor(engine, "report", reports, events=events, quiet=0.01).start()
    try:
        assert sources[0].started and mon.alive and mon.checks == 1
        kernel.apply(SetMtu("net1", 1500))
        sources[0].sink(frozenset({"net1"}))
        assert reports.next().drift == ("net1.mtu: desired 9000, kernel 1500",)
    finally:
        mon.stop()
    assert sources[0].stopped and not mon.alive


def test_a_burst_of_events_is_one_compare() -> None:
    engine, kernel = configured()
    reports = Reports()
    src: list[FakeEvents] = []

    def events(sink: Any) -> FakeEvents:
        src.append(FakeEvents(sink))
        return src[-1]

    mon = DriftMonitor(engine, "enforce", reports, events=events, quiet=1.0, max_delay=3.0).start()
    try:
        kernel.apply(SetMtu("net1", 1500))
        for name in ("net1", "eth3", "net1", "tap9", "net1"):
            src[0].sink(frozenset({name}))
        assert reports.next().repaired == ("net1.mtu: desired 9000, kernel 1500",)
        # baseline + the debounced compare + the compare after the repair
        assert mon.checks == 3 and mon.ignored == 1
    finally:
        mon.stop()


def test_periodic_compare_finds_drift_without_events() -> None:
    engine, kernel = configured()
    reports = Reports()
    mon = DriftMonitor(engine, "report", reports, interval=0.05).start()
    try:
        kernel.apply(SetMtu("net1", 1500))
        assert reports.next().drift == ("net1.mtu: desired 9000, kernel 1500",)
    finally:
        mon.stop()
    assert not mon.alive


def test_a_failing_callback_does_not_stop_the_monitor() -> None:
    engine, kernel = configured()
    calls: list[DriftReport] = []

    def bad(report: DriftReport) -> None:
        calls.append(report)
        raise RuntimeError("publish failed")

    mon = DriftMonitor(engine, "report", bad)
    kernel.apply(SetMtu("net1", 1500))
    mon.check()
    kernel.apply(SetMtu("net1", 1400))
    assert mon.check().drift == ("net1.mtu: desired 9000, kernel 1400",) and len(calls) == 2


def test_kernel_error_type_is_what_reconcile_raises() -> None:
    engine, kernel = configured()
    kernel.apply(SetMtu("net1", 1500))
    kernel.fail_at = 0  # the next write fails
    with pytest.raises(KernelError):
        engine.reconcile()
    assert kernel.observe().links["net1"].mtu == 1500  # reverted to what was observed
    assert engine.running.networks.keys() == BODY["networks"].keys()


def test_enforce_waits_when_the_kernel_moved_during_the_compare() -> None:
    engine, kernel = configured()
    mon = DriftMonitor(engine, "enforce")
    mon.check()
    kernel.apply(SetMtu("net1", 1500))
    writes = kernel.writes
    assert mon.poke(frozenset({"net1"}))  # an event no quiet period has covered yet
    assert mon.check().drift == () and kernel.writes == writes  # deferred, not repaired


def test_the_event_source_is_muted_around_the_engine_writes_only() -> None:
    """The agent's own writes are followed by a compare anyway: the source may drop their
    events unnamed. Muted before a plan's writes, unmuted after, also when they fail; an
    identical re-apply writes nothing and mutes nothing; stop() ends the listening."""
    engine, kernel = configured()
    src: list[FakeEvents] = []

    def events(sink: Any) -> FakeEvents:
        src.append(FakeEvents(sink))
        return src[-1]

    mon = DriftMonitor(engine, "report", Reports(), events=events, interval=3600.0).start()
    try:
        engine.setup({"net1": {"nic": "eth3", "bridged": "true", "mtu": 1500}}, {}, NOCHK)
        assert src[0].muted == [True, False]
        engine.setup({"net1": {"nic": "eth3", "bridged": "true", "mtu": 1500}}, {}, NOCHK)
        assert src[0].muted == [True, False]
        kernel.fail_at = 0  # the next write fails: the revert runs muted too
        with pytest.raises(KernelError):
            engine.setup({"net1": {"nic": "eth3", "bridged": "true", "mtu": 9000}}, {}, NOCHK)
        assert src[0].muted == [True, False, True, False]
    finally:
        mon.stop()
    assert engine.write_listeners == []


def test_a_failing_write_listener_does_not_fail_the_setup() -> None:
    engine, kernel = configured()

    def broken(_on: bool) -> None:
        raise RuntimeError("listener")

    engine.write_listeners.append(broken)
    engine.setup({"net1": {"nic": "eth3", "bridged": "true", "mtu": 1500}}, {}, NOCHK)
    assert kernel.observe().links["net1"].mtu == 1500
