"""JSON-RPC dispatch with vdsm's error shapes, batches, notifications, the call context,
strict JSON and readiness."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rpc.jsonrpc import CallContext, Dispatcher, Reply
from tests.unit.rpc.conftest import Verbs, make_dispatcher
from vdsm_net.model.errors import NetworkError


@pytest.fixture
def disp() -> Dispatcher:
    return make_dispatcher(Verbs())


def call(disp: Dispatcher, body: Any, ctx: CallContext | None = None) -> Any:
    reply = disp.dispatch(body if isinstance(body, str | bytes) else json.dumps(body), ctx)
    return None if reply is None else json.loads(reply.text)


def req(method: str, params: Any = None, rid: Any = 1) -> dict[str, Any]:
    r: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "id": rid}
    if params is not None:
        r["params"] = params
    return r


def test_success_shape_key_order_and_separators(disp: Dispatcher) -> None:
    reply = disp.dispatch(json.dumps(req("Host.echo", {"text": "hi"}, "a")))
    assert reply == Reply('{"jsonrpc": "2.0", "id": "a", "result": "hi"}', False)


def test_none_result_is_true_and_params_default(disp: Dispatcher) -> None:
    assert call(disp, req("Host.ping2")) == {"jsonrpc": "2.0", "id": 1, "result": True}


def test_named_and_positional_params(disp: Dispatcher) -> None:
    assert call(disp, req("Host.echo", {"text": "n"}))["result"] == "n"
    assert call(disp, req("Host.echo", ["p", 2, 3]))["result"] == ["p", 2, 3]


def test_one_element_array_answers_a_bare_object(disp: Dispatcher) -> None:
    assert call(disp, [req("Host.ping2", rid="x")]) == {"jsonrpc": "2.0", "id": "x", "result": True}


def test_several_requests_answer_an_array(disp: Dispatcher) -> None:
    out = call(disp, [req("Host.ping2", rid=1), req("Host.echo", {"text": "b"}, rid=2)])
    assert out == [
        {"jsonrpc": "2.0", "id": 1, "result": True},
        {"jsonrpc": "2.0", "id": 2, "result": "b"},
    ]


def test_notifications_are_run_without_reply() -> None:
    seen: list[str] = []
    disp = Dispatcher({"Host.note": lambda text: seen.append(text)})
    note = {"jsonrpc": "2.0", "method": "Host.note", "params": {"text": "a"}}
    assert disp.dispatch(json.dumps(note)) is None
    assert disp.dispatch(json.dumps([note, {**note, "id": None}])) is None
    out = call(disp, [note, {**note, "id": 7}])
    assert out == {"jsonrpc": "2.0", "id": 7, "result": True}
    assert seen == ["a", "a", "a", "a", "a"]


def test_parse_error(disp: Dispatcher) -> None:
    reply = disp.dispatch(b"{not json")
    assert reply is not None and reply.null_id
    out = json.loads(reply.text)
    assert out["id"] is None and out["error"]["code"] == -32700
    assert set(out["error"]) == {"code", "message"}
    assert call(disp, b"\xff\xfe")["error"]["code"] == -32700
    assert call(disp, "[" * 100000)["error"]["code"] == -32700


@pytest.mark.parametrize(
    "body",
    [
        {"jsonrpc": "1.0", "method": "Host.ping2", "id": 1},
        {"method": "Host.ping2", "id": 1},
        {"jsonrpc": "2.0", "id": 1},
        {"jsonrpc": "2.0", "method": 5, "id": 1},
        {"jsonrpc": "2.0", "method": "Host.ping2", "params": "x", "id": 1},
        {"jsonrpc": "2.0", "method": "Host.ping2", "params": 3, "id": 1},
    ],
)
def test_invalid_request(disp: Dispatcher, body: dict[str, Any]) -> None:
    out = call(disp, body)
    assert out["error"]["code"] == -32600
    assert out["error"]["message"].startswith("Invalid request")
    assert "result" not in out


def test_empty_batch_and_bad_elements(disp: Dispatcher) -> None:
    out = call(disp, [])
    assert out["id"] is None and out["error"]["code"] == -32600
    out = call(disp, [1, req("Host.ping2", rid=3)])
    assert out[0]["id"] is None and out[0]["error"]["code"] == -32600
    assert out[1] == {"jsonrpc": "2.0", "id": 3, "result": True}
    assert call(disp, 42)["error"]["code"] == -32600


def test_method_not_found_message(disp: Dispatcher) -> None:
    out = call(disp, req("Host.foo"))
    assert out["error"] == {
        "code": -32601,
        "message": "The method does not exist or is not available: {'method': 'Host.foo'}",
    }


def test_internal_error_appends_the_exception_text(disp: Dispatcher) -> None:
    out = call(disp, req("Test.crash"))
    assert out["error"] == {
        "code": -32603,
        "message": "Internal JSON-RPC error: {'reason': 'boom'}",
    }


def test_params_that_do_not_fit_are_invalid_params_naming_the_parameter() -> None:
    def setup(networks: dict[str, Any], bondings: dict[str, Any], options: Any = None) -> bool:
        return True

    def inner_type_error(x: int) -> None:
        raise TypeError("from inside the verb")

    d = Dispatcher({"Host.setup": setup, "Test.inner": inner_type_error})
    d.register("Test.ctx", lambda ctx, a: a, context=True)
    cases = [
        ("Host.setup", {"networks": {}}, "missing a required argument: 'bondings'"),
        ("Host.setup", {"networks": {}, "bondings": {}, "extra": 1},
         "got an unexpected keyword argument 'extra'"),
        ("Host.setup", [{}, {}, {}, {}], "too many positional arguments"),
        ("Test.ctx", {}, "missing a required argument: 'a'"),  # the context is not counted
    ]
    for method, params, reason in cases:
        err = call(d, req(method, params))["error"]
        assert err == {"code": -32602,
                       "message": f"Invalid method parameter(s): {{'reason': {reason!r}}}"}
    assert call(d, req("Host.setup", {"networks": {}, "bondings": {}}))["result"] is True
    assert call(d, req("Test.ctx", {"a": 5}))["result"] == 5
    # a TypeError raised inside a verb whose params fit is still an internal error
    inner = call(d, req("Test.inner", {"x": 1}))["error"]
    assert inner == {"code": -32603,
                     "message": "Internal JSON-RPC error: {'reason': 'from inside the verb'}"}


def test_unserialisable_result_is_an_internal_error() -> None:
    disp = Dispatcher({"Host.obj": lambda: object()})
    assert call(disp, req("Host.obj"))["error"]["code"] == -32603


def test_application_errors_keep_code_and_message(disp: Dispatcher) -> None:
    out = call(disp, req("Test.fail", {"code": 24, "message": "nic used"}))
    assert out == {"jsonrpc": "2.0", "id": 1, "error": {"code": 24, "message": "nic used"}}


def test_network_error_contract() -> None:
    def setup() -> None:
        raise NetworkError(23, "Nic dummy_x does not exist")

    out = call(Dispatcher({"Host.setupNetworks": setup}), req("Host.setupNetworks", rid=".."))
    assert out == {
        "jsonrpc": "2.0",
        "id": "..",
        "error": {"code": 23, "message": "Nic dummy_x does not exist"},
    }


def test_ctx_is_injected_and_never_taken_from_params(disp: Dispatcher) -> None:
    ctx = CallContext(5, ("127.0.0.1", 54321), ("127.0.0.1", 40000), "flow")
    out = call(disp, req("Test.whoami"), ctx)["result"]
    assert out == {
        "local": ["127.0.0.1", 54321],
        "peer": ["127.0.0.1", 40000],
        "flow": "flow",
        "conn": 5,
    }
    assert call(disp, req("Test.whoami"))["result"]["conn"] == 0
    # a param named like the context's parameter cannot replace it: the call is refused
    forged = call(disp, req("Test.whoami", {"_ctx": "forged"}), ctx)["error"]
    assert forged["code"] == -32602 and "'_ctx'" in forged["message"]


def test_the_context_is_declared_at_registration_not_found_by_signature() -> None:
    d = Dispatcher()
    d.register("A.named", lambda _ctx="not given": _ctx)
    d.register("A.declared", lambda ctx, x=1: [ctx.connection_id, x], context=True)
    ctx = CallContext(7)
    assert call(d, req("A.named"), ctx)["result"] == "not given"
    assert call(d, req("A.declared", {"x": 2}), ctx)["result"] == [7, 2]
    assert call(d, req("A.declared", [3]), ctx)["result"] == [7, 3]


def test_readiness_gate() -> None:
    disp = Dispatcher({"Host.ping2": lambda: None}, ready=False)
    out = call(disp, req("Host.ping2"))
    assert out["error"] == {"code": 99, "message": "Recovering from crash or Initializing"}
    assert call(disp, req("Host.nope"))["error"]["code"] == 99
    disp.ready = True
    assert call(disp, req("Host.ping2"))["result"] is True


def test_register_after_construction() -> None:
    disp = Dispatcher()
    disp.register("Host.x", lambda: 3)
    assert disp.methods() == ["Host.x"]
    assert call(disp, req("Host.x"))["result"] == 3


_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=12))


@given(
    rid=st.one_of(st.text(max_size=40), st.integers(min_value=-(2**70), max_value=2**70)),
    result=st.one_of(st.none(), st.just(True), st.just(False), _SCALARS, st.lists(_SCALARS)),
)
def test_success_text_is_json_dumps_of_vdsm_response(rid: str | int, result: Any) -> None:
    d = Dispatcher()
    d.register("A.b", lambda: result, inline=True)
    text = d.answer_inline({"jsonrpc": "2.0", "method": "A.b", "id": rid}, _no_ctx, None)
    expected = {"jsonrpc": "2.0", "id": rid, "result": True if result is None else result}
    assert text == json.dumps(expected)


def _no_ctx(flow_id: str | None) -> CallContext:
    raise AssertionError("no method here is registered with context=True")


@pytest.mark.parametrize(
    "body",
    [
        '{"jsonrpc": "2.0", "method": "Host.ping2", "id": NaN}',
        '{"jsonrpc": "2.0", "method": "Host.ping2", "id": -Infinity}',
        '{"jsonrpc": "2.0", "method": "Host.ping2", "id": 1e400}',
        '{"jsonrpc": "2.0", "method": "Host.echo", "params": [1E999], "id": 1}',
        b'{"jsonrpc": "2.0", "method": "Host.ping2", "id": NaN}',
    ],
)
def test_non_finite_numbers_are_invalid_requests(disp: Dispatcher, body: str | bytes) -> None:
    reply = disp.dispatch(body)
    assert reply is not None and reply.null_id
    out = json.loads(reply.text, parse_constant=lambda c: pytest.fail(f"{c} in a reply"))
    assert out["id"] is None and out["error"]["code"] == -32600


def test_no_reply_holds_a_non_finite_number() -> None:
    d = Dispatcher({"A.nan": lambda: float("nan"), "A.inf": lambda: [float("inf")]})
    for method in ("A.nan", "A.inf"):
        out = call(d, req(method))
        assert out["error"]["code"] == -32603 and "JSON" in out["error"]["message"]
    # a decoded document from elsewhere with a non-finite id is refused, not echoed
    reply = d.run(req("A.nan", rid=float("nan")))
    assert reply is not None and json.loads(reply.text)["error"]["code"] == -32600
    assert call(d, req("A.nan", rid=1.5))["id"] == 1.5
