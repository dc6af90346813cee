"""Shared helpers for the config tests: a small kernel and the canonicalize/merge/validate run."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from vdsm_net.engine.canonicalize import canonicalize
from vdsm_net.engine.merge import merge
from vdsm_net.engine.validate import validate
from vdsm_net.model.desired import Pairs, Request, RunningConfig
from vdsm_net.model.errors import NetworkError
from vdsm_net.model.kernel import KernelState, Link

NICS = ("eth0", "eth1", "eth2", "eth3")


def kernel(
    nics: tuple[str, ...] = NICS,
    bonds: Mapping[str, tuple[tuple[str, ...], Pairs]] | None = None,
    extra: tuple[Link, ...] = (),
) -> KernelState:
    """NICs, unowned bonds (name -> (slaves, options)) and any extra links."""
    links = {name: Link(name, "nic") for name in nics}
    for bond, (slaves, options) in (bonds or {}).items():
        links[bond] = Link(bond, "bond", bond_options=options)
        for slave in slaves:
            links[slave] = links[slave].with_(master=bond)
    for link in extra:
        links[link.name] = link
    return KernelState(links=links)


def setup(
    networks: Mapping[str, Any],
    bondings: Mapping[str, Any] | None = None,
    options: Mapping[str, Any] | None = None,
    running: RunningConfig | None = None,
    observed: KernelState | None = None,
) -> tuple[Request, RunningConfig]:
    """canonicalize, merge and validate, as the engine does; returns the request and desired."""
    running = running if running is not None else RunningConfig()
    observed = observed if observed is not None else kernel()
    request = canonicalize(networks, bondings or {}, options or {}, running, observed)
    desired = merge(running, request)
    validate(request, running, desired, observed)
    return request, desired


def error_of(
    networks: Mapping[str, Any],
    bondings: Mapping[str, Any] | None = None,
    running: RunningConfig | None = None,
    observed: KernelState | None = None,
) -> NetworkError:
    """The NetworkError that setup() raises (the test fails when it raises none)."""
    with pytest.raises(NetworkError) as info:
        setup(networks, bondings, running=running, observed=observed)
    return info.value


def code_of(
    networks: Mapping[str, Any],
    bondings: Mapping[str, Any] | None = None,
    running: RunningConfig | None = None,
    observed: KernelState | None = None,
) -> int:
    return error_of(networks, bondings, running, observed).code
