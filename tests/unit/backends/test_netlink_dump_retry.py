"""A netlink dump the kernel interrupts (NLM_F_DUMP_INTR: it changed under the dump) is taken
again after a pause that doubles, up to a bound; only the last failure reaches the caller."""

from __future__ import annotations

import errno
import time

import pytest

from vdsm_net.backends.netlink import backend as nl


class Interrupting:
    """A socket whose first ``fails`` requests come back interrupted."""

    def __init__(self, fails: int) -> None:
        self.fails = fails
        self.requests: list[bytes] = []

    def get(self, request: bytes) -> list[tuple[bytes, int, int]]:
        self.requests.append(request)
        if len(self.requests) <= self.fails:
            raise InterruptedError(errno.EINTR, "netlink dump interrupted")
        return [(b"msg", 0, 3)]


def backend_on(sock: Interrupting) -> nl.NetlinkBackend:
    backend = nl.NetlinkBackend.__new__(nl.NetlinkBackend)  # no worker: only the socket
    backend._sock = sock  # type: ignore[assignment]
    return backend


def test_an_interrupted_dump_is_taken_again_after_growing_pauses(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pauses: list[float] = []
    monkeypatch.setattr(time, "sleep", pauses.append)
    sock = Interrupting(fails=3)
    assert backend_on(sock)._get(b"dump") == [(b"msg", 0, 3)]
    assert sock.requests == [b"dump"] * 4 and pauses == [0.01, 0.02, 0.04]


def test_a_kernel_that_never_settles_fails_the_dump_after_the_last_try(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pauses: list[float] = []
    monkeypatch.setattr(time, "sleep", pauses.append)
    sock = Interrupting(fails=100)
    with pytest.raises(InterruptedError):
        backend_on(sock)._get(b"dump")
    assert len(sock.requests) == nl._DUMP_RETRIES
    assert max(pauses) == nl._DUMP_PAUSE_MAX and sum(pauses) < 5.0
