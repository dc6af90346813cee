"""The in-memory merge: running config + canonical request -> the desired running config."""

from __future__ import annotations

from typing import TypeVar

from vdsm_net.model.desired import Request, RunningConfig

_T = TypeVar("_T")


def _apply(current: dict[str, _T], changes: dict[str, _T | None], full: bool) -> dict[str, _T]:
    out: dict[str, _T] = {} if full else dict(current)
    for name, value in changes.items():
        if value is None:
            out.pop(name, None)
        else:
            out[name] = value
    return out


def merge(running: RunningConfig, request: Request) -> RunningConfig:
    """Delta semantics: what the request does not mention is kept, ``None`` (remove) deletes, the
    rest replaces. With ``options.full_state`` the request is the whole picture: every running
    network or bond it does not name is dropped. Pure: neither input is changed."""
    full = request.options.full_state
    return RunningConfig(
        networks=_apply(running.networks, request.networks, full),
        bonds=_apply(running.bonds, request.bondings, full),
    )
