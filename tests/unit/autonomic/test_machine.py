"""The per-host state machine, on plain numbers for time."""

from __future__ import annotations

from dataclasses import replace

from autonomic import machine
from autonomic.machine import HostState, Observation, Outcome, decide, pushed

T = 1000.0
UP = HostState(state=machine.UP, generation="g1", boot_id="b1")


def test_no_difference_is_up_and_nothing_is_pushed() -> None:
    rec, push = decide(machine.NEW, T, "b1", "g1", Observation(in_use=["vm"]))
    assert (rec.state, push, rec.in_use, rec.generation) == (machine.UP, False, ("vm",), "g1")


def test_a_difference_is_pushed_and_success_is_up_with_kept_networks_in_use() -> None:
    rec, push = decide(UP, T, "b1", "g1", Observation(differences=["x: missing"]))
    assert (rec.state, push) == (machine.APPLYING, True)
    done = pushed(rec, T + 1, Outcome(kept_in_use=["red", "blue"]))
    assert (done.state, done.in_use, done.error, done.updated_at) == (
        machine.UP, ("blue", "red"), None, T + 1)


def test_a_required_network_down_is_non_operational_and_nothing_is_pushed() -> None:
    rec, push = decide(UP, T, "b1", "g2", Observation(differences=["x"],
                                                      required_down=["vmnet (bond0 down)"]))
    assert (rec.state, push) == (machine.NON_OPERATIONAL, False)
    assert rec.error is not None and "vmnet" in rec.error["message"]
    back, push = decide(rec, T + 5, "b1", "g2", Observation())
    assert (back.state, back.error, push) == (machine.UP, None, False)


def test_unreachable_is_non_responsive_retried_soon_and_reconciled_when_back() -> None:
    rec, push = decide(UP, T, "b1", "g1", Observation(unreachable="timed out"))
    assert (rec.state, push) == (machine.NON_RESPONSIVE, False)
    assert rec.retry_at == T + machine.UNREACHABLE_RETRY
    back, push = decide(rec, T + 4, "b1", "g1", Observation(differences=["drift"]))
    assert (back.state, push) == (machine.APPLYING, True)


def test_busy_is_retried_with_a_growing_delay() -> None:
    rec, _ = decide(UP, T, "b1", "g2", Observation(differences=["x"]))
    first = pushed(rec, T, Outcome(error=(40, "Resource unavailable")))
    assert (first.state, first.error, first.attempts) == (
        machine.APPLYING, {"code": 40, "message": "Resource unavailable"}, 1)
    assert first.retry_at == T + 1.0
    early, push = decide(first, T + 0.5, "b1", "g2", Observation(differences=["x"]))
    assert not push and early.state == machine.APPLYING
    again, push = decide(first, T + 1.0, "b1", "g2", Observation(differences=["x"]))
    assert push
    second = pushed(again, T + 1, Outcome(error=(40, "busy")))
    assert (second.attempts, second.retry_at) == (2, T + 1 + 2.0)


def test_an_error_is_kept_with_code_and_message_until_the_backoff_or_a_new_generation() -> None:
    rec, _ = decide(UP, T, "b1", "g2", Observation(differences=["x"]))
    err = pushed(rec, T, Outcome(error=(24, "nic eth9 in use")))
    assert (err.state, err.error) == (machine.ERROR, {"code": 24, "message": "nic eth9 in use"})
    _, push = decide(err, T + 1, "b1", "g2", Observation(differences=["x"]))
    assert not push
    _, push = decide(err, T + 1, "b1", "g3", Observation(differences=["x"]))  # new policy
    assert push
    _, push = decide(err, err.retry_at, "b1", "g2", Observation(differences=["x"]))
    assert push


def test_a_policy_that_cannot_be_rendered_for_the_host_is_an_error_not_a_push() -> None:
    rec, push = decide(UP, T, "b1", "g2", Observation(refused=(21, "no address")))
    assert (rec.state, push, rec.error) == (machine.ERROR, False,
                                            {"code": 21, "message": "no address"})


def test_maintenance_and_a_lost_registration() -> None:
    err = replace(UP, state=machine.ERROR, error={"code": 1, "message": "m"}, retry_at=T + 9)
    m = machine.maintenance(err, T, "b2")
    assert (m.state, m.error, m.boot_id, m.retry_at) == (machine.MAINTENANCE, None, "b2", 0.0)
    g = machine.gone(UP, T)
    assert g.state == machine.NON_RESPONSIVE and g.error is not None


def test_the_record_round_trips_through_json() -> None:
    rec = HostState(machine.ERROR, {"code": 25, "message": "x"}, ("a",), "b", T, 2, T + 5, "g")
    assert HostState.from_json(rec.to_json()) == rec
    assert rec.to_json()["inUse"] == ["a"]


def test_a_push_that_does_not_converge_is_not_repeated_in_a_loop() -> None:
    rec, _ = decide(UP, T, "b1", "g2", Observation(differences=["x: mtu"]))
    ok = pushed(rec, T, Outcome())
    assert (ok.state, ok.attempts, ok.retry_at, ok.error) == (machine.UP, 0, 0.0, None)
    still = pushed(rec, T, Outcome(still_differs=["x: mtu 1500, policy 9000"]))
    assert (still.state, still.attempts, still.retry_at) == (machine.ERROR, 1, T + 5.0)
    assert still.error is not None and still.error["code"] == machine.ERR_NOT_CONVERGED
    assert "x: mtu 1500" in still.error["message"]
    _, push = decide(still, T + 1, "b1", "g2", Observation(differences=["x: mtu"]))
    assert not push
    again, push = decide(still, T + 5.0, "b1", "g2", Observation(differences=["x: mtu"]))
    assert push
    second = pushed(again, T + 5, Outcome(still_differs=["x"]))
    assert (second.attempts, second.retry_at) == (2, T + 5 + 10.0)
    fine, _ = decide(second, T + 6, "b1", "g2", Observation())
    assert (fine.state, fine.attempts, fine.retry_at) == (machine.UP, 0, 0.0)
