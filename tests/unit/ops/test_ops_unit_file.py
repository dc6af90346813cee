"""The systemd unit: notify type with a watchdog, a restart policy that does not loop on a
configuration error (exit 2), hardening that still allows netlink, and an ExecStart that
vdsm-netd's own parser accepts."""

from __future__ import annotations

import configparser
import shlex
from pathlib import Path

from vdsm_net.cli import agent_parser

UNIT = Path(__file__).resolve().parents[3] / "contrib/systemd/vdsm-netd.service"


def _service() -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(UNIT)
    return parser["Service"]


def test_notify_watchdog_and_restart_policy() -> None:
    svc = _service()
    assert (svc["Type"], svc["NotifyAccess"]) == ("notify", "main")
    assert svc["WatchdogSec"] and svc["Restart"] == "on-failure"
    assert svc["RestartPreventExitStatus"] == "2"
    assert svc["ExecReload"] == "/bin/kill -HUP $MAINPID"


def test_hardening_keeps_netlink() -> None:
    svc = _service()
    caps = svc["CapabilityBoundingSet"].split()
    assert {"CAP_NET_ADMIN", "CAP_NET_RAW"} <= set(caps)
    assert "AF_NETLINK" in svc["RestrictAddressFamilies"].split()
    assert (svc["ProtectSystem"], svc["ReadWritePaths"]) == ("strict", "/run")
    assert svc["NoNewPrivileges"] == "yes"


def test_execstart_flags_parse() -> None:
    argv = shlex.split(_service()["ExecStart"].replace("$VDSM_NETD_ARGS", ""))
    assert argv[0] == "/usr/bin/vdsm-netd"
    args = agent_parser().parse_args(argv[1:])
    assert args.pki == "/etc/pki/vdsm" and args.backend == "netlink"
