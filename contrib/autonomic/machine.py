"""The per-host state machine (pure: every function takes ``now`` and returns a new record).

    Maintenance     maintenance is on: nothing is observed or pushed (D)
    NonResponsive   no registration, or the host cannot be reached: nothing is pushed (F)
    NonOperational  a required network the host has is down: nothing is pushed (E)
    Applying        a push is under way, or the host answered 40 (busy) and it is retried
    Error           the host refused the rendered policy (code, message); retried with backoff
    Up              the host matches the policy

The record lives in etcd (``state/<hostid>``) with its retry schedule, so a new leader carries on
where the old one stopped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

UP = "Up"
APPLYING = "Applying"
NON_OPERATIONAL = "NonOperational"
NON_RESPONSIVE = "NonResponsive"
MAINTENANCE = "Maintenance"
ERROR = "Error"

ERR_BUSY = 40
ERR_NON_OPERATIONAL = 1001  # the manager's own code: not one of vdsm's
ERR_UNREACHABLE = 1002
ERR_NOT_CONVERGED = 1003  # a push succeeded, yet the host still differs

BUSY_BACKOFF = (1.0, 30.0)  # first delay, cap (seconds); doubled on every failed attempt
ERROR_BACKOFF = (5.0, 120.0)
UNREACHABLE_RETRY = 3.0  # an unreachable or non-operational host is looked at again this often
RETRIED = frozenset({"Applying", "Error", "NonResponsive", "NonOperational"})
"""States whose ``retry_at`` schedules the next visit."""


@dataclass(frozen=True)
class HostState:
    state: str
    error: dict[str, Any] | None = None
    in_use: tuple[str, ...] = ()
    boot_id: str = ""
    updated_at: float = 0.0
    attempts: int = 0
    retry_at: float = 0.0
    generation: str = ""
    """What the last push (or refusal) was for: the policy revision and the host's boot; a new
    generation is retried at once, whatever the backoff."""

    def to_json(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "error": self.error,
            "inUse": list(self.in_use),
            "bootId": self.boot_id,
            "updatedAt": self.updated_at,
            "attempts": self.attempts,
            "retryAt": self.retry_at,
            "generation": self.generation,
        }

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> HostState:
        error = doc.get("error")
        return cls(
            state=str(doc.get("state", NON_RESPONSIVE)),
            error=dict(error) if isinstance(error, dict) else None,
            in_use=tuple(str(n) for n in doc.get("inUse") or ()),
            boot_id=str(doc.get("bootId") or ""),
            updated_at=float(doc.get("updatedAt") or 0.0),
            attempts=int(doc.get("attempts") or 0),
            retry_at=float(doc.get("retryAt") or 0.0),
            generation=str(doc.get("generation") or ""),
        )


@dataclass(frozen=True)
class Observation:
    """What one visit learned of a host, before deciding."""

    differences: Sequence[str] = ()
    in_use: Sequence[str] = ()
    required_down: Sequence[str] = ()
    unreachable: str | None = None
    refused: tuple[int, str] | None = None  # the policy cannot be rendered for this host


@dataclass(frozen=True)
class Outcome:
    """How a push ended."""

    kept_in_use: Sequence[str] = field(default_factory=tuple)
    error: tuple[int, str] | None = None
    unreachable: str | None = None
    still_differs: Sequence[str] = ()
    """What the look right after a successful push still found different."""


NEW = HostState(state=NON_RESPONSIVE)


def _error(code: int, message: str) -> dict[str, Any]:
    return {"code": code, "message": message}


def _backoff(attempts: int, policy: tuple[float, float]) -> float:
    first, cap = policy
    return float(min(cap, first * 2 ** max(0, attempts - 1)))


def due(prev: HostState, now: float, generation: str) -> bool:
    """May the host be pushed now? Always for a new generation, else after the backoff."""
    return generation != prev.generation or now >= prev.retry_at


def maintenance(prev: HostState, now: float, boot_id: str) -> HostState:
    return replace(prev, state=MAINTENANCE, error=None, boot_id=boot_id, updated_at=now,
                   attempts=0, retry_at=0.0)


def gone(prev: HostState, now: float) -> HostState:
    """The registration expired: the agent is down or cannot reach etcd."""
    return replace(prev, state=NON_RESPONSIVE, updated_at=now,
                   error=_error(ERR_UNREACHABLE, "the host is not registered"))


def unreachable(prev: HostState, now: float, why: str) -> HostState:
    """F: nothing is pushed; the host is looked at again soon."""
    return replace(prev, state=NON_RESPONSIVE, error=_error(ERR_UNREACHABLE, why),
                   updated_at=now, retry_at=now + UNREACHABLE_RETRY)


def decide(
    prev: HostState, now: float, boot_id: str, generation: str, obs: Observation
) -> tuple[HostState, bool]:
    """The record after a visit, and whether to push the rendered policy now."""
    base = replace(prev, boot_id=boot_id, updated_at=now)
    if obs.unreachable is not None:
        return unreachable(base, now, obs.unreachable), False
    if obs.refused is not None:
        return _failed(base, now, generation, obs.refused), False
    if obs.required_down:
        message = "required network down: " + ", ".join(obs.required_down)
        return replace(base, state=NON_OPERATIONAL, in_use=tuple(obs.in_use),
                       error=_error(ERR_NON_OPERATIONAL, message),
                       retry_at=now + UNREACHABLE_RETRY), False
    if not obs.differences:
        return replace(base, state=UP, error=None, in_use=tuple(obs.in_use), attempts=0,
                       retry_at=0.0, generation=generation), False
    if not due(prev, now, generation):
        return replace(base, in_use=tuple(obs.in_use)), False
    if generation != prev.generation:
        base = replace(base, attempts=0)
    return replace(base, state=APPLYING, generation=generation), True


def _failed(base: HostState, now: float, generation: str, error: tuple[int, str]) -> HostState:
    attempts = (base.attempts if generation == base.generation else 0) + 1
    code, message = error
    busy = code == ERR_BUSY
    return replace(
        base,
        state=APPLYING if busy else ERROR,
        error=_error(code, message),
        attempts=attempts,
        retry_at=now + _backoff(attempts, BUSY_BACKOFF if busy else ERROR_BACKOFF),
        generation=generation,
    )


def pushed(prev: HostState, now: float, outcome: Outcome) -> HostState:
    """The record after a push (``prev`` is the Applying record ``decide`` returned)."""
    base = replace(prev, updated_at=now)
    if outcome.unreachable is not None:
        return unreachable(base, now, outcome.unreachable)
    if outcome.error is not None:
        return _failed(base, now, prev.generation, outcome.error)
    in_use = tuple(sorted(outcome.kept_in_use))
    if outcome.still_differs:
        # the host answered Done but reports otherwise: not repeated in a tight loop
        message = "the host still differs after a push: " + "; ".join(outcome.still_differs[:3])
        failed = _failed(base, now, prev.generation, (ERR_NOT_CONVERGED, message))
        return replace(failed, in_use=in_use)
    return replace(base, state=UP, error=None, in_use=in_use, attempts=0, retry_at=0.0)
