"""JSON-RPC 2.0 dispatch with vdsm's error shapes.

Methods are plain synchronous callables; the server runs :meth:`Dispatcher.dispatch` in a worker
thread, except for methods registered with ``inline=True`` (trivial, never blocking ones such
as pings): a small request made only of those is answered on the event loop itself, with no
thread hop (see :meth:`Dispatcher.runs_inline`). Errors are
``{"code", "message"}`` with no ``data`` member:

- an exception with an int ``code`` and a str ``message`` (vdsm_net.errors.NetworkError, say)
  gives exactly that code and message;
- params that do not fit the method's signature (one missing, one it does not take, too many)
  give -32602 naming the parameter (vdsm lets Python's TypeError out as -32603);
- any other exception gives -32603 with the exception text appended as vdsm's context;
- while ``ready`` is False every request gets 99 "Recovering from crash or Initializing".

A method registered with ``context=True`` gets the :class:`CallContext` as its first argument,
before the request's params, so no request can forge it. One response is a bare object, several
are a JSON array, and notifications (no id, or a null id) are run without a reply.

JSON is strict both ways: a body holding ``NaN``, ``Infinity`` or a number too large for a float
(``1e400``) is refused with -32600 (Python's json module reads those as floats and writes them
back as ``NaN``/``Infinity``, which is not JSON), and no reply ever holds one.
"""

from __future__ import annotations

import inspect
import json
import logging
import math
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
RECOVERY = 99

MESSAGES = {
    PARSE_ERROR: "Invalid JSON was received by the server. "
    "An error occurred on the server while parsing the JSON text.",
    INVALID_REQUEST: "Invalid request",
    METHOD_NOT_FOUND: "The method does not exist or is not available",
    INVALID_PARAMS: "Invalid method parameter(s)",
    INTERNAL_ERROR: "Internal JSON-RPC error",
    RECOVERY: "Recovering from crash or Initializing",
}

_NO_ID = object()
_NO_PARAMS: tuple[()] = ()  # params left out: no arguments


@dataclass(frozen=True)
class CallContext:
    """Who is calling: the first argument of methods registered with ``context=True``."""

    connection_id: int = 0
    local_address: tuple[Any, ...] | None = None
    peer_address: tuple[Any, ...] | None = None
    flow_id: str | None = None


@dataclass(frozen=True)
class Reply:
    """A serialised reply. ``null_id`` is True for a single response whose id is null."""

    text: str
    null_id: bool


class RpcError(Exception):
    """A JSON-RPC level error; also the duck-typed shape of application errors."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def error_message(code: int, context: Mapping[str, Any] | None = None) -> str:
    """vdsm's ContextException text: the standard message, then ``: {context}`` if any."""
    base = MESSAGES[code]
    return f"{base}: {dict(context)!r}" if context else base


def _error(code: int, context: Mapping[str, Any] | None = None) -> RpcError:
    return RpcError(code, error_message(code, context))


def response(req_id: Any, *, result: Any = None, error: Exception | None = None) -> dict[str, Any]:
    """A response object with vdsm's key order: jsonrpc, id, result or error."""
    if error is None:
        return {"jsonrpc": "2.0", "id": req_id, "result": True if result is None else result}
    return {"jsonrpc": "2.0", "id": req_id, "error": error_object(error)}


def error_object(exc: Exception) -> dict[str, Any]:
    code = getattr(exc, "code", None)
    message = getattr(exc, "message", None)
    if isinstance(code, int) and not isinstance(code, bool) and isinstance(message, str):
        return {"code": code, "message": message}
    return {"code": INTERNAL_ERROR, "message": error_message(INTERNAL_ERROR, {"reason": str(exc)})}


class NonFiniteNumber(ValueError):
    """A JSON text holds NaN, Infinity or a number beyond a float's range: not JSON."""


def _no_constant(name: str) -> Any:
    raise NonFiniteNumber(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise NonFiniteNumber(f"{text[:32]} is out of range")
    return value


# json.loads' own decoder, strict about numbers (both hooks run only for float literals and for
# NaN/Infinity, so integers and everything else still take the C scanner's quick paths).
DECODER = json.JSONDecoder(parse_constant=_no_constant, parse_float=_finite_float)


def decode(body: bytes | str) -> Any:
    """json.loads, strictly (see the module): ValueError or RecursionError for what is not JSON."""
    if isinstance(body, bytes | bytearray):  # as json.loads reads bytes (UTF-8, -16 or -32)
        body = body.decode(json.detect_encoding(body), "surrogatepass")
    return DECODER.decode(body)


def undecodable_reply(exc: Exception) -> Reply:
    """The answer to a body :func:`decode` refused: -32600 for a non-finite number, else -32700."""
    if isinstance(exc, NonFiniteNumber):
        err = _error(INVALID_REQUEST, {"reason": str(exc)})
        return Reply(_dumps(response(None, error=err)), True)
    return parse_error_reply()


def _dumps(obj: Any) -> str:
    """vdsm writes with json.dumps' default separators; NaN and Infinity raise ValueError."""
    return json.dumps(obj, allow_nan=False)


# json.dumps(response(req_id, result=True)) for a str id, without building the dict: the same
# encoder function json.dumps uses for a str, between the fixed parts of that object.
_encode_str: Callable[[str], str] = json.encoder.encode_basestring_ascii
_TRUE_HEAD = '{"jsonrpc": "2.0", "id": '
_TRUE_TAIL = ', "result": true}'


def parse_error_reply() -> Reply:
    """The answer to a body that is not JSON."""
    return Reply(_dumps(response(None, error=_error(PARSE_ERROR))), True)


def notification(method: str, params: Mapping[str, Any]) -> str:
    """A serialised JSON-RPC notification (no id), as vdsm sends events."""
    return _dumps({"jsonrpc": "2.0", "method": method, "params": dict(params)})


@dataclass(frozen=True)
class _Method:
    fn: Callable[..., Any]
    wants_ctx: bool
    inline: bool = False


def _misfit(method: _Method, args: Sequence[Any], kwargs: Mapping[str, Any]) -> str | None:
    """Why these params cannot be passed to ``method`` ("missing a required argument: 'x'",
    "got an unexpected keyword argument 'y'", ...), or None when they can: then a TypeError
    came from inside the method. Asked only after a call raised TypeError."""
    try:
        sig = inspect.signature(method.fn)
    except (TypeError, ValueError):  # no signature to read (some builtins)
        return None
    lead = (CallContext(),) if method.wants_ctx else ()
    try:
        sig.bind(*lead, *args, **kwargs)
    except TypeError as exc:
        return str(exc)
    return None


class Dispatcher:
    """Maps method names (``Namespace.verb``) to callables and answers request bodies."""

    def __init__(
        self, methods: Mapping[str, Callable[..., Any]] | None = None, *, ready: bool = True
    ) -> None:
        # Writers (register, mark_inline) take the lock and replace whole entries; a reader's
        # single dict look-up is atomic and needs none.
        self._methods: dict[str, _Method] = {}
        self._lock = threading.Lock()
        self.ready = ready
        for name, fn in (methods or {}).items():
            self.register(name, fn)

    def register(
        self, name: str, fn: Callable[..., Any], *, inline: bool = False, context: bool = False
    ) -> None:
        """Add or replace a method. ``inline=True`` promises that ``fn`` is quick and never
        blocks (no I/O, no waiting on locks held for long): the server may then run it on its
        event loop. Everything else runs in the server's thread pool. ``context=True``: ``fn``
        takes the caller's :class:`CallContext` as its first argument."""
        with self._lock:
            self._methods[name] = _Method(fn, context, inline)

    def mark_inline(self, *names: str) -> None:
        """Declare already registered methods inline (see :meth:`register`); KeyError if one
        is not registered."""
        with self._lock:
            for name in names:
                method = self._methods[name]
                self._methods[name] = _Method(method.fn, method.wants_ctx, True)

    def runs_inline(self, doc: Any) -> bool:
        """Whether the decoded request ``doc`` may be answered on the event loop: no request in
        it names a registered method that is not inline. (Malformed requests, unknown methods
        and the not-ready answer only build an error, which is as cheap.)"""
        reqs = doc if isinstance(doc, list) else (doc,)
        methods = self._methods
        for req in reqs:
            if isinstance(req, dict):
                name = req.get("method")
                method = methods.get(name) if isinstance(name, str) else None
                if method is not None and not method.inline:
                    return False
        return True

    def methods(self) -> list[str]:
        with self._lock:
            return sorted(self._methods)

    def dispatch(self, body: bytes | str, ctx: CallContext | None = None) -> Reply | None:
        """Run every request in ``body``; the serialised reply, or None if nothing answers."""
        try:
            doc = decode(body)
        except (ValueError, RecursionError) as exc:
            return undecodable_reply(exc)
        return self.run(doc, ctx)

    def run(self, doc: Any, ctx: CallContext | None = None) -> Reply | None:
        """Like :meth:`dispatch`, for a body already decoded by :func:`decode`."""
        if isinstance(doc, list):
            if not doc:
                err = _error(INVALID_REQUEST, {"reason": "request batch is empty"})
                return Reply(_dumps(response(None, error=err)), True)
            answers = [a for a in (self._one(r, ctx) for r in doc) if a is not None]
        else:
            answers = [a for a in [self._one(doc, ctx)] if a is not None]
        if not answers:
            return None
        if len(answers) == 1:
            return Reply(answers[0][0], answers[0][1])
        return Reply("[" + ", ".join(text for text, _ in answers) + "]", False)

    def _one(self, req: Any, ctx: CallContext | None) -> tuple[str, bool] | None:
        """Validate and run one request: (serialised response, id is null), or None."""
        if not isinstance(req, dict):
            err = _error(INVALID_REQUEST, {"reason": "not an object"})
            return _dumps(response(None, error=err)), True
        req_id = req.get("id")
        if req_id is not None and (
            isinstance(req_id, bool)
            or not isinstance(req_id, str | int | float)
            or (isinstance(req_id, float) and not math.isfinite(req_id))
        ):
            err = _error(INVALID_REQUEST, {"reason": "invalid id"})
            return _dumps(response(None, error=err)), True
        try:
            method, args, kwargs = self._validate(req)
        except RpcError as exc:
            if req_id is None:
                log.debug("notification %r failed: %s", req.get("method"), exc)
                return None
            return _dumps(response(req_id, error=exc)), False
        text = self.answer(req_id, req.get("method"), method, args, kwargs, ctx)
        return None if text is None else (text, False)

    def answer_inline(
        self, doc: Any, context: Callable[[str | None], CallContext], flow_id: str | None
    ) -> str | None:
        """Run ``doc`` here and return its serialised response, when it is a single valid
        request with a str or int id, to an inline method, while ready. Otherwise None, and
        nothing ran: the general path answers it (errors included). ``context(flow_id)``
        makes the CallContext, only for a method registered with ``context=True``."""
        if type(doc) is not dict or doc.get("jsonrpc") != "2.0" or not self.ready:
            return None
        req_id = doc.get("id")
        name = doc.get("method")
        if (type(req_id) is not str and type(req_id) is not int) or type(name) is not str:
            return None
        method = self._methods.get(name)  # one dict read: atomic, no lock needed
        if method is None or not method.inline:
            return None
        params = doc.get("params", _NO_PARAMS)
        kind = type(params)
        if kind is dict:
            args: Sequence[Any] = _NO_PARAMS
            kwargs: dict[str, Any] = params
        elif kind is list or params is _NO_PARAMS:
            args, kwargs = params, {}
        else:
            return None
        ctx = context(flow_id) if method.wants_ctx else None
        return self.answer(req_id, name, method, args, kwargs, ctx)

    def answer(
        self,
        req_id: Any,
        name: Any,
        method: _Method,
        args: Sequence[Any],
        kwargs: dict[str, Any],
        ctx: CallContext | None,
    ) -> str | None:
        """Run a validated call: its serialised response, or None for a notification."""
        try:
            if method.wants_ctx:
                result = method.fn(ctx if ctx is not None else CallContext(), *args, **kwargs)
            else:
                result = method.fn(*args, **kwargs)
            if req_id is None:
                return None
            if (result is None or result is True) and type(req_id) is str:
                return _TRUE_HEAD + _encode_str(req_id) + _TRUE_TAIL
            return _dumps(response(req_id, result=result))
        except Exception as exc:  # every failure (serialising included) is an error response
            if req_id is None:
                log.debug("notification %r failed: %s", name, exc)
                return None
            if isinstance(exc, TypeError) and (misfit := _misfit(method, args, kwargs)):
                log.info("method %s: %s", name, misfit)
                exc = _error(INVALID_PARAMS, {"reason": misfit})
            elif not isinstance(exc, RpcError):
                log.warning("method %s failed: %s", name, str(exc) or type(exc).__name__)
            return _dumps(response(req_id, error=exc))

    def _validate(self, req: dict[str, Any]) -> tuple[_Method, list[Any], dict[str, Any]]:
        if req.get("jsonrpc") != "2.0":
            raise _error(INVALID_REQUEST, {"reason": "Wrong protocol version"})
        name = req.get("method")
        if not isinstance(name, str):
            raise _error(INVALID_REQUEST, {"reason": "missing method"})
        params = req.get("params", [])
        if not isinstance(params, list | dict):
            raise _error(INVALID_REQUEST, {"reason": "wrong params type"})
        if not self.ready:
            raise RpcError(RECOVERY, MESSAGES[RECOVERY])
        method = self._methods.get(name)
        if method is None:
            raise _error(METHOD_NOT_FOUND, {"method": name})
        if isinstance(params, dict):
            return method, [], dict(params)
        return method, list(params), {}
