"""Ordinary mistakes at start are one line on stderr and exit status 2, never a traceback:
a missing PKI, a busy port (ours or the metrics one), a bad flag, a non-loopback metrics
address."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from tests.common.agent_proc import Pki

WAIT = 60.0


def _netd(*args: str, command: Sequence[str] = ()) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "vdsm_net.cli", *command, "--backend", "memory", *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=WAIT, check=False)


def _one_line(done: subprocess.CompletedProcess[str]) -> str:
    errors = [line for line in done.stderr.splitlines() if line.startswith("vdsm-netd")]
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert len(errors) == 1, done.stderr
    return errors[0]


@pytest.fixture
def busy() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_a_missing_pki_names_the_file_and_how_to_make_one(tmp_path: Path) -> None:
    line = _one_line(_netd("--listen", "127.0.0.1:0", "--pki", str(tmp_path / "none")))
    assert "PKI file missing" in line and "vdsm-net-pki init" in line
    assert str(tmp_path / "none") in line


def test_a_busy_port_says_so_and_nothing_listens(tmp_path: Path, busy: int) -> None:
    pki = Pki(tmp_path / "pki")
    done = _netd("--listen", f"127.0.0.1:{busy}", "--pki", str(pki.root))
    line = _one_line(done)
    assert line == f"vdsm-netd: cannot listen on 127.0.0.1:{busy}: Address already in use"
    assert not [ln for ln in done.stderr.splitlines() if ln.endswith(": ready")]


def test_a_busy_metrics_port_says_so(tmp_path: Path, busy: int) -> None:
    pki = Pki(tmp_path / "pki")
    done = _netd("--listen", "127.0.0.1:0", "--pki", str(pki.root),
                 "--metrics", f"127.0.0.1:{busy}")
    assert _one_line(done) == (f"vdsm-netd: cannot listen on 127.0.0.1:{busy} (--metrics): "
                               "Address already in use")


@pytest.mark.parametrize(("args", "wanted"), [
    (["--frobnicate"], "unrecognized arguments: --frobnicate"),
    (["--drift", "maybe"], "argument --drift: invalid choice: 'maybe'"),
    (["--listen", "nowhere"], "--listen wants HOST:PORT"),
    (["--metrics", "192.0.2.1:9100"], "--metrics must listen on a loopback address"),
    (["--metrics", "9100"], "--metrics wants HOST:PORT"),
])
def test_a_bad_flag_is_one_line(args: Sequence[str], wanted: str) -> None:
    assert wanted in _one_line(_netd(*args))


def test_plan_with_a_bad_flag_is_one_line() -> None:
    assert "the following arguments are required: -f/--file" in _one_line(
        _netd(command=["plan"]))
