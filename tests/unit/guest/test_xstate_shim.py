"""The ptrace shim (tests/uml/xstate_shim.c) against this host's kernel. UML's buffer is fixed
when it is built (2696 bytes); the host refuses a SETREGSET buffer smaller than its XSAVE area
(AMX hosts: why the shim exists) and reads its own size from a larger one (why plain UML runs on
smaller areas); the shim must set both, whatever the host."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.uml import assets, probes

ROOT = Path(__file__).resolve().parents[3]

# In a child process (under the shim or not): GET with a buffer of each size, put a pattern in
# XMM0 (FXSAVE offset 160) with SSE marked in use (header XSTATE_BV, offset 512), SET that
# buffer, and read the area back whole. Prints {size: [get errno, get length, set errno, same]}.
SCRIPT = r"""
import ctypes, json, sys
from tests.uml import probes
host, out = int(sys.argv[1]), {}
with probes.stopped_child() as pid:
    for size in (host - 64, host + 264):
        buf = ctypes.create_string_buffer(size)
        got = probes.xstate_regset(probes.PTRACE_GETREGSET, pid, buf)
        raw = bytearray(buf.raw)
        raw[160:176] = bytes(range(size % 200, size % 200 + 16))
        raw[512] |= 2
        ctypes.memmove(buf, bytes(raw), size)
        put = probes.xstate_regset(probes.PTRACE_SETREGSET, pid, buf)
        back = ctypes.create_string_buffer(host)
        probes.xstate_regset(probes.PTRACE_GETREGSET, pid, back)
        out[size] = [got[0], got[1], put[0], back.raw[160:176] == bytes(raw[160:176])]
print(json.dumps(out))
"""


def _run(host: int, preload: Path | None) -> dict[int, list[int | bool]]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("LD_PRELOAD", None)
    if preload is not None:
        env["LD_PRELOAD"] = str(preload)
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(host)], env=env, cwd=ROOT,
                          capture_output=True, text=True, check=True, timeout=60)
    return {int(k): v for k, v in json.loads(done.stdout).items()}


@pytest.fixture(scope="module")
def host_size() -> int:
    size = probes.xsave_bytes()
    if size == 0:
        pytest.skip("no XSAVE on this host: UML takes the FXSAVE path, the shim is not used")
    return size


def test_the_host_refuses_only_a_smaller_xstate_buffer_without_the_shim(host_size: int) -> None:
    out = _run(host_size, None)
    smaller = out[host_size - 64]
    assert smaller[:2] == [0, host_size - 64]  # GET truncates to the buffer
    assert smaller[2] != 0  # SET refused (EFAULT): plain UML's boot panic on AMX hosts
    assert out[host_size + 264] == [0, host_size, 0, True]  # the choice's premise: UML runs


def test_the_shim_sets_a_smaller_or_larger_buffer_and_it_reads_back(
    host_size: int, tmp_path: Path
) -> None:
    if not shutil.which("gcc"):
        pytest.skip("gcc is missing (make guest installs it)")
    shim = tmp_path / "xstate_shim.so"
    assets.compile_shim(shim)
    out = _run(host_size, shim)
    assert out[host_size - 64] == [0, host_size - 64, 0, True]
    assert out[host_size + 264] == [0, host_size, 0, True]  # the caller gets the host's area
