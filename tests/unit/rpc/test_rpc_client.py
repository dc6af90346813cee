"""rpc.client.Client over loopback mutual TLS: callers that read for themselves, callers that
wait for another's read, events read by the shared watcher, failures mid-call."""

from __future__ import annotations

import concurrent.futures
import queue
import socket
import threading
from pathlib import Path
from typing import Any

import pytest

from rpc.background import BackgroundServer
from rpc.client import Client, ClientError, ServerError
from tests.unit.rpc.conftest import Verbs
from tests.unit.rpc.rpc_helpers import WAIT


def test_many_threads_call_one_client_at_once(server: BackgroundServer, pki: Path) -> None:
    with Client.connect("127.0.0.1", server.port, pki_dir=pki, timeout=WAIT) as cli:
        def work(i: int) -> list[Any]:
            return [cli.call("Host.echo", [f"t{i}-{n}"]) for n in range(50)]

        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            results = list(pool.map(work, range(8)))
    assert results == [[f"t{i}-{n}" for n in range(50)] for i in range(8)]


def test_a_slow_call_does_not_hold_up_pings_on_the_same_client(
    server: BackgroundServer, pki: Path, verbs: Verbs
) -> None:
    """The engine's pattern: setupNetworks waits while confirmConnectivity keeps it."""
    verbs.gate.clear()
    verbs.slow_started.clear()
    with (Client.connect("127.0.0.1", server.port, pki_dir=pki, timeout=WAIT) as cli,
          concurrent.futures.ThreadPoolExecutor(1) as pool):
        slow = pool.submit(cli.call, "Test.slow")
        assert verbs.slow_started.wait(WAIT)
        assert [cli.call("Host.ping2") for _ in range(20)] == [True] * 20
        assert not slow.done()
        verbs.gate.set()
        assert slow.result(WAIT) == "slow done"


def test_events_arrive_while_nobody_calls_and_during_calls(
    server: BackgroundServer, pki: Path
) -> None:
    got: queue.Queue[tuple[str, dict[str, Any]]] = queue.Queue()
    with Client.connect("127.0.0.1", server.port, pki_dir=pki, timeout=WAIT) as cli:
        cli.subscribe_events(lambda method, params: got.put((method, params)))
        assert cli.call("Host.ping2") is True  # the SUBSCRIBE is in before the events
        server.call(server.server.publish_event, "|idle|", {"n": 1})
        method, params = got.get(timeout=WAIT)  # read by the shared watcher
        assert (method, params["n"]) == ("|idle|", 1)
        for n in range(20):
            server.call(server.server.publish_event, "|busy|", {"n": n})
            assert cli.call("Host.echo", ["x"]) == "x"
        seen = sorted(got.get(timeout=WAIT)[1]["n"] for _ in range(20))
        assert seen == list(range(20))


def test_a_subscribed_client_s_replies_do_not_wake_the_watcher(
    server: BackgroundServer, pki: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A caller holds the watcher off its socket while it reads its own reply, and arms it
    again after: the watcher reads only what arrives between calls."""
    reads: list[int] = []
    read_available = Client.read_available

    def counted(self: Client) -> bool:
        reads.append(1)
        return read_available(self)

    monkeypatch.setattr(Client, "read_available", counted)
    got: queue.Queue[tuple[str, dict[str, Any]]] = queue.Queue()
    with Client.connect("127.0.0.1", server.port, pki_dir=pki, timeout=WAIT) as cli:
        cli.subscribe_events(lambda method, params: got.put((method, params)))
        assert cli.call("Host.ping2") is True  # the SUBSCRIBE is in
        reads.clear()
        assert [cli.call("Host.ping2") for _ in range(50)] == [True] * 50
        assert reads == []
        server.call(server.server.publish_event, "|idle|", {"n": 1})
        assert got.get(timeout=WAIT)[1]["n"] == 1  # armed again: the watcher read it
        assert reads


def test_a_call_times_out_and_the_client_stays_usable(
    server: BackgroundServer, pki: Path, verbs: Verbs
) -> None:
    verbs.gate.clear()
    with Client.connect("127.0.0.1", server.port, pki_dir=pki, timeout=WAIT) as cli:
        with pytest.raises(TimeoutError, match=r"no response to Test\.slow within 0\.2 s"):
            cli.call("Test.slow", timeout=0.2)
        verbs.gate.set()
        assert cli.call("Host.ping2") is True


def test_a_server_that_closes_fails_every_waiting_call(pki: Path) -> None:
    """Callers reading and callers waiting all get ClientError when the connection drops."""
    from rpc.server import StompServer, server_ssl_context
    from tests.unit.rpc.conftest import make_dispatcher

    verbs = Verbs()
    srv = StompServer(make_dispatcher(verbs), server_ssl_context(pki), "127.0.0.1", 0)
    with BackgroundServer(srv) as bg:
        cli = Client.connect("127.0.0.1", bg.port, pki_dir=pki, timeout=WAIT)
        with concurrent.futures.ThreadPoolExecutor(3) as pool:
            calls = [pool.submit(cli.call, "Test.slow") for _ in range(3)]
            assert verbs.slow_started.wait(WAIT)
            bg.call(srv.close)
            for call in calls:
                with pytest.raises(ClientError, match="connection closed"):
                    call.result(WAIT)
        with pytest.raises(ClientError):
            cli.call("Host.ping2")
        cli.close()
        verbs.gate.set()


def test_errors_and_batches_of_answers(server: BackgroundServer, pki: Path) -> None:
    with Client.connect("127.0.0.1", server.port, pki_dir=pki, timeout=WAIT) as cli:
        with pytest.raises(ServerError) as err:
            cli.call("Test.fail", {"code": 25, "message": "bad"})
        assert (err.value.code, err.value.message) == (25, "bad")
        big = "y" * 200_000  # several TLS records, so not the one-read path
        assert cli.call("Host.echo", [big]) == big


def test_a_closed_client_refuses_calls_and_closing_twice_is_fine(
    server: BackgroundServer, pki: Path
) -> None:
    cli = Client.connect("127.0.0.1", server.port, pki_dir=pki, timeout=WAIT)
    cli.close()
    cli.close()
    with pytest.raises(ClientError, match="client closed"):
        cli.call("Host.ping2")


def test_no_connected_frame_is_a_client_error(pki: Path) -> None:
    """A TLS peer that never answers CONNECT."""
    from rpc.server import server_ssl_context

    ctx = server_ssl_context(pki)
    lsock = socket.create_server(("127.0.0.1", 0))
    done = threading.Event()

    def serve() -> None:
        raw, _ = lsock.accept()
        with ctx.wrap_socket(raw, server_side=True):
            done.wait(WAIT)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    with pytest.raises(ClientError, match="no CONNECTED frame"):
        Client.connect("127.0.0.1", lsock.getsockname()[1], pki_dir=pki, timeout=0.5)
    done.set()
    thread.join(WAIT)
    lsock.close()
