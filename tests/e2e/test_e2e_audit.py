"""The stateless audit (issue 6, item 5): a whole life of vdsm-netd writes no file.

Snapshot ``(size, mtime, inode)`` of every regular file under the directories an agent could
plausibly write, run a full scenario, snapshot again: nothing may be created, modified or deleted.

Walked (every regular file, symlinks not followed):
- /etc, /var, /home, /opt, /srv, /usr/local, /usr/libexec (vdsm's hook dir lives there);
- /root, without the toolchain trees .pyenv, .rustup, .cargo, .m2 and .npm (~360k files, over a
  minute per walk in UML), the UML harness's .uml and the session machinery's .claude;
- the repository, without the caches (.venv's and everyone's ``__pycache__``, .pytest_cache,
  .hypothesis, .mypy_cache, .ruff_cache) and .git (developers commit on the same filesystem while
  the tier runs; the agent has no git code).
Not walked: /proc, /sys, /dev, /run, /tmp (the PKI, the agent's log and the harness's work dir
are all under /tmp), and the rest of /usr (package-managed, read-only in practice).

UML's root is the host's filesystem (hostfs), so a write made on the host during the test (a
developer's edit in the repository, a package install) shows up here too; the failure message lists
every path, so such a false alarm is easy to tell from an agent write.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from rpc.client import ServerError
from tests.e2e import e2e_life as life
from tests.e2e.conftest import StartAgent
from tests.e2e.e2e_requests import DONE, NOCHK, bond, check_opts, setup

REPO = Path(__file__).resolve().parents[2]
ROOTS = ("/etc", "/var", "/home", "/opt", "/srv", "/usr/local", "/usr/libexec", "/root", str(REPO))
SKIP_NAMES = frozenset(
    {"__pycache__", ".pytest_cache", ".hypothesis", ".mypy_cache", ".ruff_cache", ".git"}
)
SKIP_PATHS = frozenset(
    f"/root/{name}" for name in (".pyenv", ".rustup", ".cargo", ".m2", ".npm", ".uml", ".claude")
)
Snapshot = dict[str, tuple[int, int, int]]


def _walk(top: str) -> Iterator[tuple[str, os.stat_result]]:
    try:
        entries = list(os.scandir(top))
    except OSError:  # vanished or unreadable: nothing to compare under it
        return
    for entry in entries:
        if entry.name in SKIP_NAMES or entry.path in SKIP_PATHS:
            continue
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if stat.S_ISDIR(st.st_mode):
            yield from _walk(entry.path)
        elif stat.S_ISREG(st.st_mode):
            yield entry.path, st


def snapshot(roots: tuple[str, ...] = ROOTS) -> Snapshot:
    """``path -> (size, mtime_ns, inode)`` of every regular file under ``roots``."""
    return {path: (st.st_size, st.st_mtime_ns, st.st_ino)
            for root in roots for path, st in _walk(root)}


def changes(before: Snapshot, after: Snapshot) -> list[str]:
    out = [f"created {p}" for p in sorted(after.keys() - before.keys())]
    out += [f"deleted {p}" for p in sorted(before.keys() - after.keys())]
    out += [f"modified {p}: {before[p]} -> {after[p]}"
            for p in sorted(before.keys() & after.keys()) if before[p] != after[p]]
    return out


def test_the_snapshot_sees_a_created_and_a_modified_file(tmp_path: Path) -> None:
    """The witness itself: a file created or rewritten under a walked root is reported."""
    target = tmp_path / "probe.txt"
    target.write_text("one", encoding="utf-8")
    roots = (str(tmp_path),)
    before = snapshot(roots)
    target.write_text("two!", encoding="utf-8")
    (tmp_path / "new.txt").write_text("x", encoding="utf-8")
    found = changes(before, snapshot(roots))
    assert [c.split(":")[0] for c in found] == [f"created {tmp_path}/new.txt",
                                              f"modified {target}"]


def test_a_whole_life_of_the_agent_writes_no_file(
    netns: str, start_agent: StartAgent, tmp_path: Path
) -> None:
    spec = life.write_boot_spec(tmp_path / "boot.json")
    before = snapshot()

    agent = start_agent(netns, spec)  # the boot spec
    data = {"data": {"bonding": "bond0", "vlan": "10", "bridged": "true", "stp": "no",
                     "ipaddr": "192.0.2.10", "prefix": "24", "switch": "legacy"}}
    extra = {"extra": {"nic": "dummy_3", "bridged": "false", "ipaddr": "203.0.113.5",
                       "prefix": "24", "switch": "legacy"}}
    bonds = bond(("dummy_1", "dummy_2"), "mode=1")
    with agent.client() as cli:
        assert setup(cli, data, bonds) == DONE
        assert cli.call("Host.setSafeNetworkConfig") is True
        with pytest.raises(ServerError) as lost:  # nobody confirms: rolled back
            setup(cli, extra, {}, check_opts(1))
        assert lost.value.code == 10
        assert setup(cli, extra, {}, {**NOCHK, "commitOnSuccess": True}) == DONE
        assert setup(cli, {"extra": {"remove": "true"}, "data": {"remove": "true"}},
                     {"bond0": {"remove": "true"}}) == DONE
        assert cli.call("Host.setSafeNetworkConfig") is True
        assert set(cli.call("Host.getCapabilities")["networks"]) == {life.MGMT}
    agent.stop()
    start_agent(netns, spec).stop()  # a restart that adopts, then a clean stop

    found = changes(before, snapshot())
    assert not found, "files written during the agent's life:\n" + "\n".join(found)
