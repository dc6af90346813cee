"""Run one hook script within its time limit, with every process it starts.

``python -m vdsm_net.verbs.hook_runner SECONDS SCRIPT``: the script runs with stdin and stdout on
/dev/null and this process's stderr. This process is a child subreaper (prctl
PR_SET_CHILD_SUBREAPER), so whatever the script starts stays below it even after
``setsid cmd &`` or a double fork: the hook is done when the script and every descendant have
exited. If that has not happened within SECONDS, every descendant is killed (SIGKILL, found
through /proc, whatever its session or process group). Then one JSON line on stdout says how it
ended: ``{"returncode": N}`` or ``{"killed": "why"}``. Killing the stray processes is what lets
the agent answer in time: they hold the stderr pipe the agent reads.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import sys
import time

PR_SET_CHILD_SUBREAPER = 36
POLL = 0.01  # seconds between looks at the children
KILL_ROUNDS = 50  # a descendant that forks while being killed is found again next round


def become_subreaper() -> bool:
    libc = ctypes.CDLL(None, use_errno=True)
    return bool(libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0)


def descendants(root: int) -> set[int]:
    """Every process below ``root``, from the parent links in /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as f:
                stat = f.read()
        except OSError:
            continue  # gone meanwhile
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    out: set[int] = set()
    todo = [root]
    while todo:
        for pid in children.get(todo.pop(), ()):
            if pid not in out:
                out.add(pid)
                todo.append(pid)
    return out


def _reap(script_pid: int) -> tuple[bool, int | None]:
    """Reap what has exited: (any child left, the script's exit code if it was reaped)."""
    code = None
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return False, code
        if pid == 0:
            return True, code
        if pid == script_pid:
            code = os.waitstatus_to_exitcode(status)


def kill_all() -> None:
    for _ in range(KILL_ROUNDS):
        pids = descendants(os.getpid())
        if not pids:
            break
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(POLL)
        _reap(0)
    while _reap(0)[0]:
        time.sleep(POLL)


def run(seconds: float, script: str) -> dict[str, object]:
    deadline = time.monotonic() + seconds
    devnull = os.open(os.devnull, os.O_RDWR)
    actions = [(os.POSIX_SPAWN_DUP2, devnull, 0), (os.POSIX_SPAWN_DUP2, devnull, 1)]
    try:
        pid = os.posix_spawn(script, [script], dict(os.environ), file_actions=actions)
    except OSError as exc:
        print(f"{os.path.basename(script)}: cannot run: {exc}", file=sys.stderr)
        return {"returncode": -1}
    finally:
        os.close(devnull)
    code: int | None = None
    while time.monotonic() < deadline:
        left, got = _reap(pid)
        code = got if got is not None else code
        if not left:
            return {"returncode": code if code is not None else -1}
        time.sleep(POLL)
    why = "still running" if code is None else "exited, but left processes running"
    kill_all()
    return {"killed": why}


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print("usage: python -m vdsm_net.verbs.hook_runner SECONDS SCRIPT", file=sys.stderr)
        return 2
    if not become_subreaper():
        print("hook_runner: cannot become a child subreaper", file=sys.stderr)
    result = run(float(argv[1]), argv[2])
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
