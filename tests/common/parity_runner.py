"""Runs parity scenarios through an Engine on one backend, and normalizes what it observes so that
two backends can be compared: modulo ifindex and MACs the kernel picks at random.

Backend-agnostic: a ``World`` is a backend plus a way to change it behind the agent's back.
The simulated world lives here; the real one in the kernel tier (it needs ``ip``).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Protocol

from tests.common.parity_scenarios import NICS, Foreign, Scenario, Step
from vdsm_net.backends.base import Backend
from vdsm_net.backends.memory.kernel import MemoryKernel
from vdsm_net.engine.engine import Engine
from vdsm_net.model.errors import NetworkError
from vdsm_net.model.kernel import KernelState, Link
from vdsm_net.model.ops import CreateLink, DeleteLinks, SetMaster

Normal = dict[str, Any]


class World(Protocol):
    @property
    def backend(self) -> Backend: ...

    def foreign(self, action: Foreign) -> None:
        """Make the change behind the agent's back (no engine involved)."""
        ...


class MemoryWorld:
    def __init__(self) -> None:
        self.kernel = MemoryKernel(NICS)

    @property
    def backend(self) -> Backend:
        return self.kernel

    def foreign(self, action: Foreign) -> None:
        k = self.kernel
        if action.action == "bridge":
            k.apply(CreateLink(Link(action.name, "bridge")))
        elif action.action == "delete":
            k.apply(DeleteLinks((action.name,)))
        elif action.action == "nomaster":
            k.apply(SetMaster(action.name, None))
        else:
            k.add_foreign_link(action.name + "p", "nic")
            k.add_foreign_link(action.name, "nic", master=action.master)


def _link_fields(link: Link, keep_mac: bool) -> dict[str, Any]:
    out = {f.name: getattr(link, f.name) for f in dataclasses.fields(link) if f.compare}
    if not keep_mac:
        out.pop("mac")
    return out


def normalize(state: KernelState, scenario: Scenario, engine: Engine) -> Normal:
    """The comparable part of a state: the NICs, the owned links and the scenario's foreign
    links (compared fields only; the MAC only where a bond's hwaddr forces it), and every
    address, static route and rule."""
    names = set(NICS) | scenario.foreign_links
    names |= {n for n, link in state.links.items() if link.tag is not None}
    forced = {b.name for b in engine.running.bonds.values() if b.hwaddr}
    return {
        "links": {
            n: _link_fields(state.links[n], n in forced) for n in sorted(names & set(state.links))
        },
        "addresses": sorted(state.addresses),
        "routes": sorted(state.routes, key=str),
        "rules": sorted(state.rules, key=str),
        "tc": sorted(o.describe() for o in state.tc),
    }


def differences(a: Normal, b: Normal, labels: tuple[str, str] = ("a", "b")) -> list[str]:
    """Readable differences between two normalized states, field by field."""
    out: list[str] = []
    la, lb = labels
    for name in sorted(set(a["links"]) | set(b["links"])):
        x, y = a["links"].get(name), b["links"].get(name)
        if x is None or y is None:
            out.append(f"link {name}: only on {la if y is None else lb}")
            continue
        for key in sorted(set(x) | set(y)):
            if x.get(key) != y.get(key):
                out.append(f"link {name}.{key}: {la}={x.get(key)!r} {lb}={y.get(key)!r}")
    for what in ("addresses", "routes", "rules", "tc"):
        only_a = [v for v in a[what] if v not in b[what]]
        only_b = [v for v in b[what] if v not in a[what]]
        if only_a or only_b:
            out.append(f"{what}: only on {la}: {only_a}; only on {lb}: {only_b}")
    return out


def run_step(world: World, engine: Engine, scenario: Scenario, step: Step) -> list[str]:
    """Apply one step; return what went wrong (empty when the step behaved as specified):
    the outcome (success, or the expected error with nothing changed), the step's
    expectations, and idempotence (a second plan of the same request is empty)."""
    problems: list[str] = []
    for action in step.before:
        world.foreign(action)
    pre = normalize(world.backend.observe(), scenario, engine)
    try:
        engine.setup(*step.request())
    except NetworkError as exc:
        if step.error != exc.code:
            return [f"unexpected error {exc.code}: {exc.message}"]
        after = normalize(world.backend.observe(), scenario, engine)
        problems += [f"changed by a failed request: {d}" for d in differences(pre, after)]
    else:
        if step.error is not None:
            problems.append(f"expected error {step.error}, the request succeeded")
    state = world.backend.observe()
    problems += [f"expected: {e.what}" for e in step.expect if not e.holds(state)]
    if step.error is None:
        again = engine.plan(*step.again())
        problems += [f"not idempotent: {op.describe()}" for op in again]
    return problems


def run_on_both(real: World, scenario: Scenario, label: str = "kernel") -> None:
    """Every step on ``real`` and on a fresh simulated kernel: each behaves as the step says,
    and after each step the two observed states are equal (normalized)."""
    sim = MemoryWorld()
    engines = {label: Engine(real.backend), "sim": Engine(sim.backend)}
    worlds: dict[str, World] = {label: real, "sim": sim}
    for i, step in enumerate(scenario.steps):
        for name in (label, "sim"):
            problems = run_step(worlds[name], engines[name], scenario, step)
            assert problems == [], f"step {i} on {name}"
        a = normalize(real.backend.observe(), scenario, engines[label])
        b = normalize(sim.backend.observe(), scenario, engines["sim"])
        assert differences(a, b, (label, "sim")) == [], f"step {i}"
