"""``make run`` refuses a taken port before it touches anything: no namespace, no temp dir, no
agent, one line that says how to pick another port."""

from __future__ import annotations

import glob
import socket
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def _namespaces() -> str:
    done = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=False)
    return done.stdout


def test_a_taken_port_is_refused_without_touching_anything() -> None:
    before_ns, before_dirs = _namespaces(), set(glob.glob("/tmp/vdsm-net-demo.*"))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        env = {"PORT": str(port), "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
        done = subprocess.run([str(ROOT / "contrib/run-demo.sh")], capture_output=True,
                              text=True, env=env, timeout=60, check=False)
    assert done.returncode == 1
    assert done.stderr.strip() == (f"make run: port {port} is taken (Address already in use); "
                                   "pick another with 'make run PORT=N'")
    assert "listening" not in done.stdout
    assert _namespaces() == before_ns and set(glob.glob("/tmp/vdsm-net-demo.*")) == before_dirs


def test_a_port_that_is_not_a_number_is_refused() -> None:
    done = subprocess.run([str(ROOT / "contrib/run-demo.sh")], capture_output=True, text=True,
                          env={"PORT": "http", "PATH": "/usr/bin:/bin"}, timeout=60, check=False)
    assert (done.returncode, done.stderr.strip()) == (
        1, "make run: PORT=http is not a port number")
