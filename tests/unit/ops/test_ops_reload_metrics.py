"""A running vdsm-netd: SIGHUP with a really rotated host certificate (new connections get it,
an open one keeps working), one log line per call, and the Prometheus and health endpoint."""

from __future__ import annotations

import re
import signal
import socket
import ssl
import urllib.error
import urllib.request
from pathlib import Path

from cryptography import x509

from rpc.client import Client, ServerError
from rpc.tls.context import client_ssl_context
from tests.common.agent_proc import AgentProc, Pki

WAIT = 60.0


def _served_cert(port: int, pki: Path) -> x509.Certificate:
    ctx = client_ssl_context(pki)
    with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as raw, \
            ctx.wrap_socket(raw) as tls:
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der)


def _cn(cert: x509.Certificate) -> str:
    return str(cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value)


def test_sighup_serves_the_rotated_certificate_to_new_connections(tmp_path: Path) -> None:
    pki = Pki(tmp_path / "pki")
    with AgentProc(pki.root) as agent:
        assert _cn(_served_cert(agent.port, pki.root)) == "host-1.example"
        with Client.connect("127.0.0.1", agent.port, ssl_context=client_ssl_context(pki.root),
                            timeout=WAIT) as kept:
            rotated = pki.rotate("host-2.example")
            assert _cn(_served_cert(agent.port, pki.root)) == "host-1.example"  # not yet
            mark = len(agent.lines)
            agent.signal(signal.SIGHUP)
            agent.wait_for(re.compile("reload: PKI"), mark)
            served = _served_cert(agent.port, pki.root)
            assert served.serial_number == rotated.cert.serial_number
            assert kept.call("Host.ping2", {}) is True  # the open one keeps its session
        assert agent.proc.poll() is None


def test_sighup_with_a_broken_pki_keeps_the_old_certificate(tmp_path: Path) -> None:
    pki = Pki(tmp_path / "pki")
    with AgentProc(pki.root) as agent:
        before = pki.host.cert.serial_number
        (pki.root / "keys/vdsmkey.pem").write_text("not a key\n")
        mark = len(agent.lines)
        agent.signal(signal.SIGHUP)
        line = agent.wait_for(re.compile("reload: PKI .* not loaded.*"), mark).group(0)
        assert "Traceback" not in "\n".join(agent.lines)
        assert "keeping the old one" in line
        assert _served_cert(agent.port, pki.root).serial_number == before


def test_each_call_is_one_line_with_verb_flow_peer_subject_and_code(tmp_path: Path) -> None:
    pki = Pki(tmp_path / "pki")
    with AgentProc(pki.root) as agent, Client.connect(
            "127.0.0.1", agent.port, ssl_context=client_ssl_context(pki.root),
            timeout=WAIT) as cli:
        mark = len(agent.lines)
        cli.call("Host.getNetworkCapabilities", {}, flow_id="flow-42")
        try:
            cli.call("Host.setupNetworks", {"networks": {"n": {"nic": "nope"}}, "bondings": {},
                                            "options": {"connectivityCheck": False}})
        except ServerError as exc:
            code = exc.code
        ok = agent.wait_for(re.compile(r"call Host.getNetworkCapabilities .*"), mark).group(0)
        bad = agent.wait_for(re.compile(r"call Host.setupNetworks .*"), mark).group(0)
    local = r"127\.0\.0\.1:\d+"
    assert re.fullmatch(
        rf"call Host.getNetworkCapabilities flow=flow-42 peer={local} "
        r"subject=O=VDSM Certificate,CN=engine.example \d+\.\d{3}s code=0", ok), ok
    assert bad.endswith(f"code={code}") and code != 0 and "flow=- " in bad


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=WAIT) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def test_metrics_count_calls_by_verb_and_code_and_healthz_is_ready(tmp_path: Path) -> None:
    pki = Pki(tmp_path / "pki")
    with AgentProc(pki.root, ["--metrics", "127.0.0.1:0"]) as agent:
        mport = int(agent.wait_for(re.compile(r"metrics on http://127.0.0.1:(\d+)")).group(1))
        base = f"http://127.0.0.1:{mport}"
        with Client.connect("127.0.0.1", agent.port, ssl_context=client_ssl_context(pki.root),
                            timeout=WAIT) as cli:
            for _ in range(3):
                cli.call("Host.getNetworkCapabilities", {})
            cli.call("Host.setupNetworks", {
                "networks": {"vmnet": {"nic": "eth1", "bridged": True}}, "bondings": {},
                "options": {"connectivityCheck": False}})
            status, text = _get(base + "/metrics")
            assert status == 200
            assert 'vdsm_net_calls_total{code="0",verb="Host.getNetworkCapabilities"} 3.0' in text
            assert 'vdsm_net_call_seconds_count{verb="Host.getNetworkCapabilities"} 3.0' in text
            assert "vdsm_net_connected_clients 1.0" in text
            assert "vdsm_net_plan_ops_count 1.0" in text and "vdsm_net_rollbacks_total 0.0" in text
        status, body = _get(base + "/healthz")
        assert (status, body.strip()) == (200, '{"backend": true, "ready": true}')
        assert _get(base + "/nothing")[0] == 404


def test_metrics_are_off_by_default(tmp_path: Path) -> None:
    pki = Pki(tmp_path / "pki")
    with AgentProc(pki.root) as agent:
        assert not [line for line in agent.lines if "metrics on" in line]


def test_a_tls_handshake_with_a_stranger_certificate_is_refused(tmp_path: Path) -> None:
    """The reload keeps requiring client certificates of our CA."""
    pki = Pki(tmp_path / "pki")
    other = Pki(tmp_path / "other")
    with AgentProc(pki.root) as agent:
        agent.signal(signal.SIGHUP)
        agent.wait_for(re.compile("reload: PKI"))
        ctx = client_ssl_context(other.root)
        ctx.verify_mode = ssl.CERT_NONE
        with socket.create_connection(("127.0.0.1", agent.port), timeout=WAIT) as raw:
            try:
                with ctx.wrap_socket(raw) as tls:
                    tls.sendall(b"CONNECT\n\n\0")
                    assert tls.recv(100) == b""
            except (ssl.SSLError, ConnectionError):
                pass
