"""The fleet's fault knobs: ``--fault HOSTSPEC:KIND[=VALUE]``, so a manager can be exercised at
scale against hosts that misbehave.

HOSTSPEC is ``all``, a host index ``K``, a range ``A-B`` (both included) or a comma-separated
list of those. KIND is one of:

- ``slow[=S]``: every ``Host.setupNetworks`` waits S seconds (default 5) before applying;
- ``refuse[=CODE]``: every ``Host.setupNetworks`` is refused with vdsm's code CODE (default 21),
  nothing applied;
- ``drop[=N]``: the next N ``Host.setupNetworks`` (default 1) drop the caller's connection
  instead of answering, nothing applied;
- ``drift[=S]``: every S seconds (default 10) a device of one of the host's networks (not the
  management network) vanishes behind the agent's back and the host sends
  ``|net|host_conn|no_id``, as a real host's drift report would.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rpc.jsonrpc import CallContext
from vdsm_net.model.errors import ERR_BAD_PARAMS, NetworkError

KINDS = {"slow": 5.0, "refuse": float(ERR_BAD_PARAMS), "drop": 1.0, "drift": 10.0}


@dataclass
class HostFaults:
    """One host's knobs, and what they did (for tests and the bench)."""

    slow: float = 0.0
    refuse: int | None = None
    drop: int = 0
    drift: float = 0.0
    dropped: int = 0
    refused: int = 0
    drifted: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def set(self, kind: str, value: float) -> None:
        if kind == "slow":
            self.slow = value
        elif kind == "refuse":
            self.refuse = int(value)
        elif kind == "drop":
            self.drop = int(value)
        else:
            self.drift = value

    def take_drop(self) -> bool:
        with self.lock:
            if self.drop <= 0:
                return False
            self.drop -= 1
            self.dropped += 1
            return True


@dataclass(frozen=True)
class FaultSpec:
    hosts: frozenset[int] | None  # None: all
    kind: str
    value: float

    def applies(self, index: int) -> bool:
        return self.hosts is None or index in self.hosts


def _hosts(text: str) -> frozenset[int] | None:
    if text == "all":
        return None
    out: set[int] = set()
    for part in text.split(","):
        first, sep, last = part.partition("-")
        if not first.isdigit() or (sep and not last.isdigit()):
            raise ValueError(f"--fault: {text!r} is not all, K, A-B or a list of them")
        lo, hi = int(first), int(last) if sep else int(first)
        if hi < lo:
            raise ValueError(f"--fault: the range {part!r} is empty")
        out.update(range(lo, hi + 1))
    return frozenset(out)


def parse_fault(text: str) -> FaultSpec:
    """``HOSTSPEC:KIND[=VALUE]``; ValueError with the reason otherwise."""
    spec, sep, rest = text.partition(":")
    kind, has_value, raw = rest.partition("=")
    if not sep or kind not in KINDS:
        raise ValueError(f"--fault wants HOSTSPEC:KIND[=VALUE] with KIND one of "
                         f"{', '.join(KINDS)}, not {text!r}")
    try:
        value = float(raw) if has_value else KINDS[kind]
    except ValueError:
        raise ValueError(f"--fault {text!r}: {raw!r} is not a number") from None
    if value < 0 or (kind in ("drift", "refuse") and value == 0):
        raise ValueError(f"--fault {text!r}: the value must be positive")
    return FaultSpec(_hosts(spec), kind, value)


def faults_for(index: int, specs: list[FaultSpec]) -> HostFaults:
    """The knobs of host ``index`` (the last spec that names a kind wins)."""
    faults = HostFaults()
    for spec in specs:
        if spec.applies(index):
            faults.set(spec.kind, spec.value)
    return faults


Drop = Callable[[CallContext], None]
"""Drop the connection a call came on."""


def faulty_setup(setup: Callable[..., Any], faults: HostFaults, drop: Drop, *,
                 context: bool) -> Callable[..., Any]:
    """``Host.setupNetworks`` with the host's knobs in front (registered ``context=True``);
    ``context`` says whether ``setup`` itself takes the call's context."""

    def setup_networks(ctx: CallContext, networks: dict[str, Any], bondings: dict[str, Any],
                       options: dict[str, Any]) -> Any:
        if faults.take_drop():
            drop(ctx)
            raise NetworkError(ERR_BAD_PARAMS, "connection dropped (fleet fault)")
        if faults.refuse is not None:
            with faults.lock:
                faults.refused += 1
            raise NetworkError(faults.refuse, "refused (fleet fault)")
        if faults.slow:
            time.sleep(faults.slow)
        if context:
            return setup(ctx, networks, bondings, options)
        return setup(networks, bondings, options)

    return setup_networks
