"""``vdsm-net-client``: one verb call (``rpc.cli``), plus what a person at a shell needs.

    vdsm-net-client [options] Namespace verb [k=v ...]   one call, as vdsm-client
    vdsm-net-client [options] show                        the networks as a tree
    vdsm-net-client [options] check                       running config vs kernel; 1 if they differ
    vdsm-net-client Host -h | Host VERB -h                the verbs, a verb's parameters
    vdsm-net-client --version | --complete WORDS...       version, bash completion words
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

from rpc import cli
from rpc.client import Client, ClientError, ServerError
from rpc.tls.context import PkiError, client_ssl_context
from vdsm_net import __version__
from vdsm_net.client import catalog
from vdsm_net.client.show import check_lines, show_tree

PROG = cli.PROG
COMMANDS = {"show": "the host's networks as a tree (from Host.getCapabilities)",
            "check": "the running config against the kernel; exit status 1 when they differ"}
# options of rpc.cli that take a value: the positionals start after them
VALUE_OPTS = frozenset({"-a", "--host", "-p", "--port", "--pki", "--timeout", "--flow-id",
                        "-f", "--file"})


def split(argv: Sequence[str]) -> tuple[list[str], list[str], bool]:
    """(options, positionals, whether -h/--help was given)."""
    opts: list[str] = []
    words: list[str] = []
    wants_help = False
    it = iter(argv)
    for arg in it:
        if arg in ("-h", "--help"):
            wants_help = True
        elif arg in VALUE_OPTS:
            opts += [arg, next(it, "")]
        elif arg.startswith("-") and not words:
            opts.append(arg)
        else:
            words.append(arg)
    return opts, words, wants_help


def complete(words: Sequence[str]) -> list[str]:
    """Candidates for the word after ``words`` (the namespace, then its verbs)."""
    if not words:
        return [*catalog.namespaces(), *COMMANDS]
    if len(words) == 1:
        return [v.method for v in catalog.verbs() if v.namespace == words[0]]
    return []


def _caller(opts: list[str]) -> tuple[Any, Client]:
    parsed = cli._parser().parse_args([*opts, "Host", "ping"])
    ctx = client_ssl_context(parsed.pki)
    return parsed, Client.connect(parsed.host, parsed.port, ssl_context=ctx,
                                  timeout=parsed.timeout)


def run_command(command: str, opts: list[str]) -> int:
    try:
        parsed, client = _caller(opts)
        with client:
            if command == "show":
                sys.stdout.write(show_tree(client.call("Host.getCapabilities", {},
                                                       flow_id=parsed.flow_id)))
                return 0
            lines, status = check_lines(client.call("Host.checkNetworks", {},
                                                    flow_id=parsed.flow_id))
    except ServerError as exc:
        print(f"{PROG}: {command}: {exc}", file=sys.stderr)
        return 2
    except (PkiError, ClientError, TimeoutError, OSError) as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 2
    print("\n".join(lines))
    return status


def help_for(words: list[str]) -> str | None:
    """The namespace or verb help, or None for the global one."""
    if not words or words[0] in COMMANDS:
        return None
    if words[0] not in catalog.namespaces():
        return f"{PROG}: unknown namespace {words[0]!r}; known: {', '.join(catalog.namespaces())}\n"
    if len(words) == 1:
        return catalog.namespace_help(words[0])
    verb = catalog.find(words[0], words[1])
    if verb is None:
        return f"{PROG}: {words[0]} has no verb {words[1]!r}; see '{PROG} {words[0]} -h'\n"
    return catalog.verb_help(verb)


def global_help() -> str:
    text = cli._parser().format_help()
    extra = [f"  {name:<8} {what}" for name, what in COMMANDS.items()]
    spaces = ", ".join(catalog.namespaces())
    return (text + "\ncommands:\n" + "\n".join(extra)
            + f"\n\nnamespaces: {spaces} ('{PROG} Host -h' lists its verbs)\n")


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["--version"]:
        print(f"{PROG} {__version__}")
        return 0
    if args[:1] == ["--complete"]:
        print("\n".join(complete(args[1:])))
        return 0
    opts, words, wants_help = split(args)
    if wants_help:
        text = help_for(words)
        sys.stdout.write(global_help() if text is None else text)
        return 0
    if words[:1] and words[0] in COMMANDS and len(words) == 1:
        return run_command(words[0], opts)
    return cli.main(args)


if __name__ == "__main__":
    sys.exit(main())
