"""Man pages generated from the argparse definitions, so they cannot drift from the code.

    python -m vdsm_net.ops.manpage OUTDIR     writes vdsm-netd.8, vdsm-net-client.1, vdsm-net-pki.1
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from vdsm_net import __version__


def _esc(text: str) -> str:
    out = text.replace("\\", "\\\\").replace("-", "\\-")
    return "\n".join("\\&" + line if line[:1] in (".", "'") else line for line in out.split("\n"))


@dataclass
class Page:
    name: str
    section: int
    summary: str
    parsers: list[argparse.ArgumentParser]
    extra: dict[str, str] = field(default_factory=dict)


def _options(parser: argparse.ArgumentParser) -> list[str]:
    lines: list[str] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                lines += [".TP", f"\\fB{_esc(name)}\\fR", _esc(sub.description or "")]
                lines += _options(sub)
            continue
        if action.help == argparse.SUPPRESS:
            continue
        metavar = action.metavar or (action.dest.upper() if action.nargs != 0 else None)
        if action.choices and not action.metavar:
            metavar = "{" + ",".join(map(str, action.choices)) + "}"
        flags = ", ".join(f"\\fB{_esc(o)}\\fR" for o in action.option_strings) or \
            f"\\fI{_esc(str(metavar))}\\fR"
        if action.option_strings and metavar and action.nargs != 0:
            flags += f" \\fI{_esc(str(metavar))}\\fR"
        text = action.help or ""
        if action.default not in (None, False, argparse.SUPPRESS) and "default" not in text \
                and action.option_strings:
            text += f" (default: {action.default})"
        lines += [".TP", flags, _esc(text)]
    return lines


def render(page: Page) -> str:
    lines = [f'.TH {page.name.upper()} {page.section} "" "vdsm-net {__version__}" "vdsm-net"',
             ".SH NAME", f"{_esc(page.name)} \\- {_esc(page.summary)}", ".SH SYNOPSIS"]
    for parser in page.parsers:
        usage = " ".join(parser.format_usage().split()).removeprefix("usage: ")
        lines += [".nf", _esc(usage), ".fi"]
    lines += [".SH DESCRIPTION", _esc(page.parsers[0].description or page.summary)]
    for parser in page.parsers:
        title = "OPTIONS" if parser is page.parsers[0] else f"OPTIONS OF {parser.prog.upper()}"
        lines += [f'.SH "{title}"', *_options(parser)]
    for title, body in page.extra.items():  # one paragraph line per line of text
        lines += [f'.SH "{title}"', "\n.br\n".join(_esc(ln) for ln in body.split("\n"))]
    return "\n".join(lines) + "\n"


def pages() -> list[Page]:
    from rpc import cli as client_cli
    from rpc.tls import pki
    from vdsm_net import cli
    from vdsm_net.client import catalog
    from vdsm_net.client.main import COMMANDS

    verbs = "\n".join(f"{v.name}: {v.summary}" for v in catalog.verbs())
    see = "vdsm-netd(8), vdsm-net-client(1), vdsm-net-pki(1)"
    return [
        Page("vdsm-netd", 8, "stateless host network agent, wire-compatible with vdsm",
             [cli.agent_parser(), cli.plan_parser(), cli.fleet_parser()],
             {"SIGNALS": "SIGHUP reloads the PKI (new connections get the new certificate, open "
                         "ones keep theirs) and the hooks. SIGTERM and SIGINT stop cleanly.",
              "FLEET FAULTS": cli.FLEET_EPILOG.split("\n", 1)[1],
              "EXIT STATUS": "0 after a clean stop; 2 when it cannot start (a bad flag, a "
                             "missing PKI, a port in use), with one line on stderr.",
              "FILES": "/etc/pki/vdsm (certs/cacert.pem, certs/vdsmcert.pem, "
                       "keys/vdsmkey.pem), /etc/default/vdsm-netd (VDSM_NETD_ARGS for the unit)",
              "SEE ALSO": see}),
        Page("vdsm-net-client", 1, "call a vdsm verb over mutual TLS",
             [client_cli._parser()],
             {"COMMANDS": "\n".join(f"{k}: {v}" for k, v in COMMANDS.items()),
              "VERBS": verbs + "\n'vdsm-net-client Host VERB -h' gives a verb's parameters "
                               "and a JSON template.", "SEE ALSO": see}),
        Page("vdsm-net-pki", 1, "write a development PKI in vdsm's layout", [pki.parser()],
             {"SEE ALSO": see}),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        print("usage: python -m vdsm_net.ops.manpage OUTDIR", file=sys.stderr)
        return 2
    out = Path(args[0])
    out.mkdir(parents=True, exist_ok=True)
    for page in pages():
        path = out / f"{page.name}.{page.section}"
        path.write_text(render(page), encoding="utf-8")
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
