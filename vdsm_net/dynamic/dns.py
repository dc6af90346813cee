"""The nameservers policy (vdsm-wire §4.5): runtime-only, for the default-route network only.

What the host should use: the default-route network's explicit ``nameservers``; for a DHCPv4
default-route network without them, its lease's DNS servers (auto-dns); nothing to decide (None)
when no network has the default route, so the host's resolver is left as it is.

Where it goes, never anywhere persistent:
- through systemd-resolved's per-link DNS (``resolvectl dns LINK ...``) where resolved runs;
- else into the resolver file, only when it resolves to a path under /run (/etc/resolv.conf as a
  link into /run); otherwise the result is logged and the file left alone.
Top-level caps ``nameservers`` are read back from the resolver file, so they show the outcome.
The file is ``$VDSM_NET_RESOLV_CONF`` when set (tests), else /etc/resolv.conf.
"""

from __future__ import annotations

import logging
import os
import shutil
import stat
import subprocess
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from vdsm_net.dynamic.resolv import RESOLV_CONF, RESOLV_ENV, host_nameservers
from vdsm_net.model.desired import RunningConfig

log = logging.getLogger(__name__)

RUNTIME_ROOTS = ("/run/",)
RESOLVED_DIR = "/run/systemd/resolve"


def resolver_path() -> str:
    return os.environ.get(RESOLV_ENV) or RESOLV_CONF


def desired_nameservers(
    config: RunningConfig, leases: Mapping[str, Mapping[str, Any]]
) -> tuple[str | None, list[str] | None]:
    """``(link, servers)`` for the default-route network; servers None means leave DNS alone."""
    name = config.default_route_network()
    if name is None:
        return None, None
    net = config.networks[name]
    if net.nameservers:
        return net.top, list(net.nameservers)
    if net.bootproto == "dhcp":
        lease = leases.get(net.top or "")
        return net.top, list(lease["dns"]) if lease else None
    return net.top, []


def runtime_only(path: str, roots: Sequence[str] = RUNTIME_ROOTS) -> bool:
    """Whether ``path`` really lives under a runtime-only root (symlinks followed)."""
    return (os.path.realpath(path) + "/").startswith(tuple(roots))


HEADER = "# nameservers written by vdsm-net (runtime only)"
_OLD_HEADERS = (HEADER, "# written by vdsm-net (runtime only)")


def _is_nameserver_line(line: str) -> bool:
    fields = line.split()
    return bool(fields) and fields[0] == "nameserver"


def render_resolv(servers: Sequence[str], current: str = "") -> str:
    """``current`` with its nameserver lines replaced by ``servers``: only those lines are the
    agent's, so ``search``, ``options``, ``domain`` and comments stay as they were. The new
    lines go where the first old one was (at the top when there was none)."""
    lines = current.splitlines()
    keep = [ln for ln in lines if not _is_nameserver_line(ln) and ln not in _OLD_HEADERS]
    at = next((i for i, ln in enumerate(lines) if _is_nameserver_line(ln)), 0)
    at = sum(1 for ln in lines[:at] if not _is_nameserver_line(ln) and ln not in _OLD_HEADERS)
    ours = [HEADER, *(f"nameserver {s}" for s in servers)] if servers else []
    out = keep[:at] + ours + keep[at:]
    return "\n".join(out) + "\n" if out else ""


def _mode(path: str) -> int:
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        return 0o644


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as f:
            return f.read()
    except FileNotFoundError:
        return ""


def apply_nameservers(
    link: str | None,
    servers: Sequence[str] | None,
    path: str | None = None,
    roots: Sequence[str] = RUNTIME_ROOTS,
    resolved_dir: str = RESOLVED_DIR,
) -> str:
    """Apply the policy. Returns what was done: 'unchanged', 'resolved', 'written', 'refused'."""
    if servers is None:
        return "unchanged"
    if link and os.path.isdir(resolved_dir) and shutil.which("resolvectl"):
        done = subprocess.run(["resolvectl", "dns", link, *servers], capture_output=True,
                              check=False)
        if done.returncode == 0:
            return "resolved"
        log.warning("resolvectl dns %s failed: %s", link, done.stderr.decode(errors="replace"))
    target = path or resolver_path()
    if list(servers) == host_nameservers(target):  # what the host has: nothing to do or warn
        return "unchanged"
    if not runtime_only(target, roots):
        log.warning("nameservers %s not applied: %s is not under %s (never persisted)",
                    list(servers), target, ", ".join(roots))
        return "refused"
    real = os.path.realpath(target)
    current = _read(real)
    tmp = real + ".vdsm-net.tmp"
    with open(tmp, "w", encoding="utf-8", errors="surrogateescape") as f:
        f.write(render_resolv(servers, current))
        os.fchmod(f.fileno(), _mode(real))  # every user resolves names: not the umask's mode
    os.replace(tmp, real)
    log.info("%s: nameservers set to %s; its other lines kept", real, list(servers))
    return "written"


class Nameservers:
    """The policy over time: remembers what it wrote, so that what it wrote can be cleared.

    ``nameservers: []`` on a DHCP default-route network whose lease has no DNS (yet), or the
    default-route network removed or losing the role, leaves no desired servers (None); if this
    agent wrote some, they are cleared (vdsm-wire §4.5: losing the role clears DNS). A host
    resolver this agent never wrote stays untouched. A lease that arrives later is applied by
    ``update`` called from the lease monitor.
    """

    def __init__(
        self,
        path: str | None = None,
        roots: Sequence[str] = RUNTIME_ROOTS,
        resolved_dir: str = RESOLVED_DIR,
    ) -> None:
        self._where = (path, tuple(roots), resolved_dir)
        self._written: tuple[str | None, tuple[str, ...]] | None = None
        self._lock = threading.Lock()

    def _apply(self, link: str | None, servers: Sequence[str]) -> str:
        path, roots, resolved_dir = self._where
        return apply_nameservers(link, servers, path, roots, resolved_dir)

    def update(self, config: RunningConfig, leases: Mapping[str, Mapping[str, Any]]) -> str:
        """Apply the policy for ``config``; returns what was done (see ``apply_nameservers``)."""
        link, servers = desired_nameservers(config, leases)
        with self._lock:
            old = self._written
            if servers is None:
                if old is None or not old[1]:
                    return "unchanged"
                link, servers = old[0], []
            want = (link, tuple(servers))
            if want == old:
                return "unchanged"
            if old is not None and old[1] and old[0] != link:
                self._apply(old[0], [])  # per-link DNS of a link that lost the role
            done = self._apply(link, servers)
            if done in ("written", "resolved"):
                self._written = want
            return done
