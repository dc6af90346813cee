"""A fleet without etcd: each host on its own port and, by CONNECT's host header, on one more
(rpc.vhost); the command line's refusals."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from rpc.client import Client, ClientError, ServerError
from rpc.stomp.codec import Frame, Parser, encode_frame
from rpc.tls.context import client_ssl_context
from tests.unit.fleet.fleet_helpers import FleetThread

BIN = Path(sys.executable).parent
VLAN = {"networks": {"vm": {"nic": "eth1", "vlan": 7, "bridged": True}}, "bondings": {},
        "options": {"connectivityCheck": False}}


@pytest.fixture(scope="module")
def fleet(manager_pki: Path) -> Iterator[FleetThread]:
    running = FleetThread(manager_pki, 3, vhost=True, faults=("1:refuse=26",)).start()
    try:
        yield running
    finally:
        running.stop()


def _vhost(fleet: FleetThread, pki: Path, name: str) -> Client:
    assert fleet.fleet.vhost is not None
    return Client.connect("127.0.0.1", fleet.fleet.vhost.port, pki_dir=pki, timeout=10,
                          vhost=name)


def test_each_host_has_its_port_identity_and_boot_network(fleet: FleetThread,
                                                          manager_pki: Path) -> None:
    for k in range(3):
        host = fleet.host(k)
        with Client.connect("127.0.0.1", host.port, pki_dir=manager_pki, timeout=10) as c:
            assert c.call("Host.getCapabilities")["uuid"] == f"fleet-{k}"
            mgmt = c.call("Host.getNetworkCapabilities")["networks"]["ovirtmgmt"]
            assert mgmt["addr"] == f"172.16.0.{10 + k}"


def test_connect_host_header_reaches_that_host_only(fleet: FleetThread, manager_pki: Path) -> None:
    with _vhost(fleet, manager_pki, "fleet-2") as c:
        assert c.call("Host.getCapabilities")["uuid"] == "fleet-2"
        assert c.call("Host.setupNetworks", VLAN)["code"] == 0
    assert {"vm", "eth1.7"} <= fleet.links(2)
    assert "eth1.7" not in fleet.links(0)
    with _vhost(fleet, manager_pki, "fleet-1") as c:  # the host's own faults follow it
        with pytest.raises(ServerError) as err:
            c.call("Host.setupNetworks", VLAN)
        assert err.value.code == 26
    assert "eth1.7" not in fleet.links(1)


def test_an_unknown_host_gets_a_stomp_error(fleet: FleetThread, manager_pki: Path) -> None:
    with pytest.raises(ClientError, match="unknown host 'nobody'"):
        _vhost(fleet, manager_pki, "nobody")


def test_subscribe_before_connect_is_handed_over_too(fleet: FleetThread,
                                                     manager_pki: Path) -> None:
    """The engine's order: SUBSCRIBE, then CONNECT; both reach the chosen host."""
    import socket
    import ssl

    assert fleet.fleet.vhost is not None
    ctx: ssl.SSLContext = client_ssl_context(manager_pki)
    raw = socket.create_connection(("127.0.0.1", fleet.fleet.vhost.port), timeout=10)
    with ctx.wrap_socket(raw, server_hostname="localhost") as tls:
        tls.sendall(encode_frame("SUBSCRIBE", {"destination": "r", "id": "1"})
                    + encode_frame("CONNECT", {"accept-version": "1.2", "host": "fleet-0"})
                    + encode_frame("SEND", {"destination": "jms.topic.vdsm_requests",
                                            "reply-to": "r"},
                                   '{"jsonrpc": "2.0", "method": "Host.getCapabilities", '
                                   '"id": "x"}'))
        parser, frames = Parser(), list[Frame]()
        while len(frames) < 2:
            frames += parser.feed(tls.recv(65536))
    assert [f.command for f in frames] == ["CONNECTED", "MESSAGE"]
    assert b'"uuid": "fleet-0"' in (frames[1].body or b"")


def test_the_command_line_lists_fleet_and_refuses_bad_flags_in_one_line() -> None:
    out = subprocess.run([str(BIN / "vdsm-netd"), "--help"], capture_output=True, text=True)
    assert "vdsm-netd fleet --hosts N" in out.stdout
    for argv, why in [(["--hosts", "2", "--listen", "127.0.0.1:40000", "--fault", "x"],
                       "HOSTSPEC:KIND"),
                      (["--hosts", "2", "--listen", "nowhere"], "HOST:PORT"),
                      (["--hosts", "0", "--listen", "127.0.0.1:40000"], "does not fit")]:
        out = subprocess.run([str(BIN / "vdsm-netd"), "fleet", *argv], capture_output=True,
                             text=True, timeout=60)
        assert out.returncode == 2 and why in out.stderr, out.stderr
        assert "Traceback" not in out.stderr and len(out.stderr.splitlines()) == 1


def test_bash_completion_offers_fleet_and_its_flags() -> None:
    from tests.unit.verbs.test_verbs_client_cli import _complete

    assert _complete("vdsm-netd", "vdsm-netd f") == ["fleet"]
    assert _complete("vdsm-netd", "vdsm-netd fleet --ho") == ["--host-prefix", "--hosts"]
