"""vdsm's hook protocol for the network verbs (vdsm-wire §4.8).

Every executable regular file in ``<root>/<hook name>/`` runs, sorted by name. The data goes as
JSON into a temp file whose path is in the environment variable ``_hook_json``; a script changes
the data by rewriting that file, which is read back after the last script. Exit codes:

- 0: ok;
- 1: an error is recorded, the next script still runs;
- 2: an error is recorded and no further script runs;
- above 2: a warning that counts as an error (the next script still runs).

Unlike vdsm, every script has a time limit (``timeout``, 30 s by default) that covers every
process it starts: each script runs under ``hook_runner``, a child subreaper, so a script that
is still running, or that exited leaving ``setsid cmd &`` behind, is killed with all its
descendants at the limit and counts as an error. With ``raise_error`` any recorded error
raises :class:`HookError` carrying the stderr of the last failing script. Temp files live in a
private directory (mode 0700) that is removed afterwards.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vdsm_net.verbs.shapes import HookScript

log = logging.getLogger(__name__)

BEFORE_NETWORK_SETUP = "before_network_setup"
AFTER_NETWORK_SETUP = "after_network_setup"
AFTER_NETWORK_SETUP_FAIL = "after_network_setup_fail"
DEFAULT_TIMEOUT = 30.0
HOOK_JSON_ENV = "_hook_json"
RUNNER = "vdsm_net.verbs.hook_runner"
RUNNER_GRACE = 10.0  # seconds the runner gets past the limit to kill and report


class HookError(Exception):
    """A hook failed; ``str()`` is the failing script's stderr (or why it failed)."""


@dataclass(frozen=True)
class ScriptResult:
    script: str
    returncode: int | None  # None: killed after the time limit
    stderr: str

    @property
    def failed(self) -> bool:
        return self.returncode != 0


def _is_script(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(65536), b""):
            digest.update(chunk)
    return digest.hexdigest()


class Hooks:
    """The hooks under ``root``; a ``None`` root means no hooks at all."""

    def __init__(self, root: str | Path | None, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.root = Path(root) if root is not None else None
        self.timeout = timeout

    def scripts(self, hook: str) -> list[Path]:
        if self.root is None:
            return []
        directory = self.root / hook
        try:
            entries = sorted(directory.iterdir(), key=lambda p: p.name)
        except OSError:
            return []
        return [p for p in entries if _is_script(p)]

    def inventory(self) -> dict[str, dict[str, HookScript]]:
        """``{<hook dir>: {<script>: {"checksum": <sha256 hex>}}}`` for getCapabilities."""
        out: dict[str, dict[str, HookScript]] = {}
        if self.root is None:
            return out
        try:
            dirs = sorted(p for p in self.root.iterdir() if p.is_dir())
        except OSError:
            return out
        for directory in dirs:
            found: dict[str, HookScript] = {}
            for script in self.scripts(directory.name):
                with contextlib.suppress(OSError):
                    found[script.name] = {"checksum": _sha256(script)}
            if found:
                out[directory.name] = found
        return out

    def run(self, hook: str, data: dict[str, Any], raise_error: bool) -> dict[str, Any]:
        """Run ``hook``'s scripts over ``data``; the data as the scripts left it."""
        scripts = self.scripts(hook)
        if not scripts:
            return data
        tmpdir = tempfile.mkdtemp(prefix=f"vdsm-net-{hook}-")  # mode 0700
        try:
            path = Path(tmpdir) / "hook.json"
            path.write_text(json.dumps(data), encoding="utf-8")
            failure: ScriptResult | None = None
            for script in scripts:
                result = self._run_one(script, path)
                if result.failed:
                    failure = result
                    log.warning("hook %s/%s failed (%s): %s", hook, script.name,
                                result.returncode, result.stderr.strip())
                if result.returncode == 2:
                    break
            if failure is not None and raise_error:
                raise HookError(failure.stderr)
            try:
                out = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                if raise_error:
                    raise HookError(f"{hook}: hooks left invalid JSON: {exc}") from exc
                return data
            if not isinstance(out, dict):
                if raise_error:
                    raise HookError(f"{hook}: hooks left JSON that is not an object")
                return data
            return out
        finally:
            shutil.rmtree(tmpdir, ignore_errors=True)

    def _run_one(self, script: Path, data_path: Path) -> ScriptResult:
        env = dict(os.environ)
        env[HOOK_JSON_ENV] = str(data_path)
        argv = [sys.executable, "-m", RUNNER, f"{self.timeout:g}", os.path.abspath(script)]
        try:
            proc = subprocess.Popen(
                argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, start_new_session=True, cwd=str(data_path.parent),
            )
        except OSError as exc:
            return ScriptResult(script.name, -1, f"{script.name}: cannot run: {exc}")
        try:
            out, err = proc.communicate(timeout=self.timeout + RUNNER_GRACE)
        except subprocess.TimeoutExpired:  # the runner itself is stuck: never expected
            _kill_without_waiting_for_pipes(proc)
            return ScriptResult(script.name, None, f"{script.name}: runner did not finish")
        stderr = err.decode("utf-8", "replace")
        try:
            status = json.loads(out.decode("utf-8", "replace").strip().splitlines()[-1])
        except (ValueError, IndexError):
            return ScriptResult(script.name, -1, stderr or f"{script.name}: runner failed")
        if "killed" in status:
            return ScriptResult(
                script.name, None,
                f"{script.name}: killed after {self.timeout:g} s time limit "
                f"({status['killed']})",
            )
        return ScriptResult(script.name, int(status.get("returncode", -1)), stderr)


def _kill_without_waiting_for_pipes(proc: subprocess.Popen[bytes]) -> None:
    """Kill the runner's process group and reap it; a stray process may still hold its pipes,
    so they are closed instead of read to the end."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.kill()
    for pipe in (proc.stdout, proc.stderr):
        if pipe is not None:
            pipe.close()
    proc.wait()


def network_setup_data(
    networks: dict[str, Any], bondings: dict[str, Any], options: dict[str, Any]
) -> dict[str, Any]:
    """The data every network setup hook gets."""
    return {"request": {"networks": networks, "bondings": bondings, "options": options}}


def request_of(data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """``(networks, bondings, options)`` back from hook data; HookError when malformed."""
    request = data.get("request")
    if not isinstance(request, dict):
        raise HookError("hook data has no 'request' object")
    parts = []
    for key in ("networks", "bondings", "options"):
        value = request.get(key, {})
        if not isinstance(value, dict):
            raise HookError(f"hook data: request.{key} is not an object")
        parts.append(value)
    return parts[0], parts[1], parts[2]
