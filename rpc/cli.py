"""``vdsm-net-client``: call one verb, like vdsm-client.

    vdsm-net-client [-a HOST] [-p PORT] [--pki DIR] [--timeout S] [--flow-id ID]
                    [-f FILE|-] Namespace verb [k=v ...]

``k=v`` values are strings; ``-f`` reads a JSON object of parameters (``-`` is stdin) and cannot
be combined with ``k=v``. The result is printed as ``json.dumps(indent=4, sort_keys=True)``; an
error goes to stderr and the exit status is 1.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

from rpc.client import DEFAULT_PORT, Client, ClientError, ServerError
from rpc.tls.context import DEFAULT_PKI_DIR, PkiError, client_ssl_context

PROG = "vdsm-net-client"


class UsageError(Exception):
    pass


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description="Call a vdsm verb over mutual TLS.")
    p.add_argument("-a", "--host", default="localhost", help="host (default localhost)")
    p.add_argument("-p", "--port", type=int, default=DEFAULT_PORT, help="port (default 54321)")
    p.add_argument(
        "--pki", default=DEFAULT_PKI_DIR, help=f"PKI directory (default {DEFAULT_PKI_DIR})"
    )
    p.add_argument("--timeout", type=float, default=60.0, help="seconds (default 60)")
    p.add_argument("--flow-id", default=None, help="sent as ovirtCorrelationId")
    p.add_argument("-f", "--file", default=None, help="JSON object of parameters, or - for stdin")
    p.add_argument("namespace", help="e.g. Host")
    p.add_argument("method", help="e.g. ping2")
    p.add_argument("args", nargs="*", metavar="k=v", help="string parameters")
    return p


def parse_params(args: Sequence[str], file: str | None) -> dict[str, Any]:
    if file is not None:
        if args:
            raise UsageError("-f cannot be combined with k=v arguments")
        try:
            if file == "-":
                text = sys.stdin.read()
            else:
                with open(file, encoding="utf-8") as f:
                    text = f.read()
            params = json.loads(text)
        except (OSError, ValueError) as exc:
            raise UsageError(f"cannot read parameters from {file}: {exc}") from exc
        if not isinstance(params, dict):
            raise UsageError("the parameters file must hold a JSON object")
        return params
    params = {}
    for arg in args:
        key, sep, value = arg.partition("=")
        if not sep or not key:
            raise UsageError(f"invalid argument {arg!r}: expected k=v")
        params[key] = value
    return params


def main(argv: Sequence[str] | None = None) -> int:
    opts = _parser().parse_args(argv)
    method = f"{opts.namespace}.{opts.method}"
    try:
        params = parse_params(opts.args, opts.file)
        ctx = client_ssl_context(opts.pki)
        with Client.connect(opts.host, opts.port, ssl_context=ctx, timeout=opts.timeout) as cli:
            result = cli.call(method, params, flow_id=opts.flow_id)
    except ServerError as exc:
        print(f"{PROG}: Command {method} with args {params} failed:\n{exc}", file=sys.stderr)
        return 1
    except (UsageError, PkiError, ClientError, TimeoutError, OSError) as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(result, indent=4, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
