"""Which runner boots the test guest on this machine, and why.

In order of preference (fastest first):
1. `uml` when the host's XSAVE area fits UML's and a probe boot works;
2. `uml-xstate` when the host's XSAVE area is larger than UML's and a probe boot under the
   ptrace shim works;
3. `qemu-kvm` only when KVM is really usable (see probes.kvm_verdict) and a probe boot works;
4. `qemu-tcg` otherwise.
`VDSM_NET_TIER_RUNNER=uml|uml-xstate|qemu-kvm|qemu-tcg` forces one; a forced runner that cannot
run here is a failure, never a fallback.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from tests.uml import assets, boot, probes

FORCE_VARIABLE = "VDSM_NET_TIER_RUNNER"
PROBE_TIMEOUT = 120.0


class ChoiceError(Exception):
    """No runner can be used as asked."""


@dataclass(frozen=True)
class Choice:
    runner: str
    reason: str


class Machine(Protocol):
    """The facts the choice depends on (real probes, or a hand-made machine in the unit tier)."""

    def xsave(self) -> int: ...

    def kvm(self) -> probes.KvmVerdict: ...

    def probe(self, runner: str) -> str | None:
        """None when `runner` boots a guest here; else why not."""


def choose(forced: str | None, machine: Machine) -> Choice:
    if forced:
        if forced not in boot.RUNNERS:
            raise ChoiceError(
                f"{FORCE_VARIABLE}={forced!r} is not a runner (one of {', '.join(boot.RUNNERS)})"
            )
        if forced == "qemu-kvm":
            verdict = machine.kvm()
            if not verdict.usable:
                raise ChoiceError(
                    f"{FORCE_VARIABLE}=qemu-kvm, but KVM is not usable: {verdict.reason}"
                )
        return Choice(forced, f"forced by {FORCE_VARIABLE}")
    notes: list[str] = []
    size = machine.xsave()
    limit = probes.UML_XSTATE_BYTES
    candidate = "uml-xstate" if probes.needs_xstate_shim(size) else "uml"
    if candidate == "uml-xstate":
        notes.append(f"uml: the host's XSAVE area is {size} bytes, UML's {limit}")
    why = machine.probe(candidate)
    if why is None:
        detail = "under the ptrace shim " if candidate == "uml-xstate" else ""
        return Choice(
            candidate, f"XSAVE area {size} bytes (UML's {limit}); a probe boot {detail}works"
        )
    notes.append(f"{candidate}: {why}")
    verdict = machine.kvm()
    if verdict.usable:
        why = machine.probe("qemu-kvm")
        if why is None:
            return Choice("qemu-kvm", f"{'; '.join(notes)}; KVM is usable ({verdict.reason})")
        notes.append(f"qemu-kvm: {why}")
    else:
        notes.append(f"qemu-kvm: {verdict.reason}")
    return Choice("qemu-tcg", "; ".join(notes))


PROBE_INIT = """#!/bin/sh
mount -t proc proc /proc 2>/dev/null
echo ok >{status}
sync
echo o >/proc/sysrq-trigger
"""


class RealMachine:
    """This machine: ptrace and /proc probes, and real probe boots."""

    def __init__(self, cache: Path) -> None:
        self.cache = cache
        self._xsave: int | None = None

    def xsave(self) -> int:
        if self._xsave is None:
            self._xsave = probes.xsave_bytes()
        return self._xsave

    def kvm(self) -> probes.KvmVerdict:
        return probes.kvm_verdict()

    def probe(self, runner: str) -> str | None:
        with tempfile.TemporaryDirectory(prefix="vdsm-net-probe-") as tmp:
            status = Path(tmp) / "status"
            init = Path(tmp) / "init"
            init.write_text(PROBE_INIT.format(status=status), encoding="utf-8")
            init.chmod(0o755)
            try:
                rc = boot.boot(runner, init, self.cache, PROBE_TIMEOUT, quiet=True)
            except (assets.AssetError, OSError) as exc:
                return f"cannot start: {exc}"
            if status.exists() and status.read_text(encoding="utf-8").strip() == "ok":
                return None
            return f"a probe boot did not reach its init (exit {rc})"


def _fingerprint(machine: RealMachine) -> str:
    files = (Path("/usr/bin/linux.uml"), Path(__file__).with_name("xstate_shim.c"),
             Path("/usr/bin/qemu-system-x86_64"))
    return probes.fingerprint(machine.xsave(), files)


def cached_choice(cache: Path, env: dict[str, str] | None = None) -> Choice:
    """The choice for this machine: forced, or remembered for the same machine facts, or made
    afresh with probe boots (and remembered)."""
    env = dict(os.environ) if env is None else env
    machine = RealMachine(cache)
    forced = env.get(FORCE_VARIABLE) or None
    if forced:
        return choose(forced, machine)
    path = cache / "choice.json"
    key = _fingerprint(machine)
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
        if saved.get("fingerprint") == key:
            return Choice(saved["runner"], f"{saved['reason']} (probed earlier on this machine)")
    except (OSError, ValueError, KeyError, TypeError):
        pass
    choice = choose(None, machine)
    cache.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"fingerprint": key, "runner": choice.runner,
                                "reason": choice.reason}), encoding="utf-8")
    return choice


def allowed(machine: Machine) -> list[tuple[str, str | None]]:
    """Every runner with None when this machine's facts allow it, else why not (for the runner
    smoke tests). Decided without a boot: the smoke boot itself is the test, so a broken runner
    that the machine allows fails there instead of being listed as unavailable."""
    out: list[tuple[str, str | None]] = []
    size = machine.xsave()
    for runner in boot.RUNNERS:
        why: str | None = None
        if runner == "uml" and probes.needs_xstate_shim(size):
            why = f"the host's XSAVE area is {size} bytes, UML's {probes.UML_XSTATE_BYTES}"
        elif runner == "qemu-kvm":
            verdict = machine.kvm()
            why = None if verdict.usable else verdict.reason
        out.append((runner, why))
    return out
