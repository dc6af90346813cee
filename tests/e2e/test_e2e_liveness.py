"""The liveness verbs and the transport's guard rails, against the real agent process."""

from __future__ import annotations

import json
import ssl
import subprocess
import sys
from pathlib import Path

import pytest

from rpc.client import Client, ClientError, ServerError
from rpc.tls.context import CA_FILE
from tests.e2e import e2e_kernel as k
from tests.e2e.e2e_agent import Agent
from vdsm_net.verbs import schema as t


def test_ping_ping2_confirm_connectivity_answer_true(shared_agent: Agent) -> None:
    with shared_agent.client() as cli:
        assert cli.call("Host.ping") is True
        assert cli.call("Host.ping2") is True
        assert cli.call("Host.confirmConnectivity") is True


def test_unknown_verb_is_method_not_found(shared_agent: Agent) -> None:
    with shared_agent.client() as cli:
        with pytest.raises(ServerError) as err:
            cli.call("Host.noSuchVerb")
        assert err.value.code == -32601
        assert cli.call("Host.ping2") is True  # the connection survives the error


def test_client_without_certificate_is_refused(shared_agent: Agent) -> None:
    """Mutual TLS: a client that trusts the CA but shows no certificate gets no session."""
    ctx = ssl.create_default_context(cafile=str(shared_agent.pki / CA_FILE))
    ctx.check_hostname = False
    with pytest.raises((ClientError, TimeoutError)):
        cli = Client.connect("127.0.0.1", shared_agent.port, ssl_context=ctx, timeout=10)
        try:
            cli.call("Host.ping2", timeout=10)
        finally:
            cli.close()
    assert shared_agent.alive
    with shared_agent.client() as cli:
        assert cli.call("Host.ping2") is True


def test_vdsm_net_client_prints_results_and_fails_with_status_1(
    shared_agent: Agent, tmp_path: Path
) -> None:
    """The vdsm-client-like CLI against the real process: JSON out, errors on stderr."""
    base = [str(Path(sys.executable).parent / "vdsm-net-client"), "--pki", str(shared_agent.pki),
            "-a", "127.0.0.1", "-p", str(shared_agent.port)]
    ok = subprocess.run([*base, "Host", "ping2"], capture_output=True, text=True, timeout=120,
                        check=False)
    assert (ok.returncode, ok.stdout.strip()) == (0, "true"), ok.stderr
    request = tmp_path / "req.json"
    request.write_text(json.dumps({"networks": {"x": {"nic": "missing_nic"}}, "bondings": {},
                                   "options": {"connectivityCheck": "false"}}))
    bad = subprocess.run([*base, "-f", str(request), "Host", "setupNetworks"],
                         capture_output=True, text=True, timeout=120, check=False)
    assert bad.returncode == 1 and bad.stdout == ""
    assert "code=23" in bad.stderr and "missing_nic" in bad.stderr


def test_statistics_on_the_real_kernel_have_vdsm_types(shared_agent: Agent) -> None:
    with shared_agent.client() as cli:
        stats = cli.call("Host.getNetworkStatistics")
        host_stats = cli.call("Host.getStats")
    t.check(stats, t.NETWORK_STATISTICS)
    t.check(host_stats, t.HOST_STATS)
    assert set(k.NICS) <= set(stats["network"])
    assert stats["network"]["dummy_0"]["state"] == "down"  # the dummies start down
