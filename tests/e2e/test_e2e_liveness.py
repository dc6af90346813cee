"""The liveness verbs and the transport's guard rails, against the real agent process."""

from __future__ import annotations

import ssl

import pytest

from rpc.client import Client, ClientError, ServerError
from rpc.tls import CA_FILE
from tests.e2e.e2e_agent import Agent


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
