"""The verbs a client can call, read from the verb registry (``HostApi.register``) and their
signatures, with the reply shapes of ``vdsm_net.verbs.schema``: what ``Host -h`` lists and
``Host VERB -h`` explains."""

from __future__ import annotations

import inspect
import json
import typing
from dataclasses import dataclass
from typing import Any

from vdsm_net.verbs import api
from vdsm_net.verbs.api import HostApi
from vdsm_net.verbs.schema import RESULTS, MapOf, Shape
from vdsm_net.verbs.shapes import Check

# what a JSON template shows for a parameter of each type
_TEMPLATES: dict[str, Any] = {"object": {}, "string": "", "boolean": False, "number": 0,
                              "array": []}
# worked examples for the verbs whose objects have a known inside
EXAMPLES: dict[str, dict[str, Any]] = {
    "Host.setupNetworks": {
        "networks": {"vmnet": {"nic": "eth1", "bridged": True, "vlan": 100, "mtu": 1500,
                               "bootproto": "none", "ipaddr": "192.0.2.10", "prefix": 24}},
        "bondings": {"bond0": {"nics": ["eth2", "eth3"], "options": "mode=4 miimon=100"}},
        "options": {"connectivityCheck": True, "connectivityTimeout": 120},
    },
}
EXAMPLES["Host.planNetworks"] = EXAMPLES["Host.setupNetworks"]
# for verbs whose method carries no docstring
SUMMARIES = {
    "Host.ping": "Liveness; also confirms a pending connectivity check.",
    "Host.ping2": "Liveness, without confirming anything.",
    "Host.confirmConnectivity": "Confirm that the host is reachable after setupNetworks.",
    "Host.setupNetworks": "Add, change or remove networks and bonds; rolled back on failure.",
    "Host.setSafeNetworkConfig": "Mark the running networks as the safe point.",
    "Host.getCapabilities": "The host's capabilities, networks included.",
    "Host.getNetworkCapabilities": "Networks, bridges, NICs, VLANs, bonds and nameservers.",
}


@dataclass(frozen=True)
class Param:
    name: str
    type: str
    required: bool
    default: Any = None


@dataclass(frozen=True)
class Verb:
    name: str
    summary: str
    params: tuple[Param, ...]
    returns: str

    @property
    def namespace(self) -> str:
        return self.name.split(".", 1)[0]

    @property
    def method(self) -> str:
        return self.name.split(".", 1)[1]

    def template(self) -> dict[str, Any]:
        if self.name in EXAMPLES:
            return EXAMPLES[self.name]
        return {p.name: p.default if not p.required else _TEMPLATES.get(p.type)
                for p in self.params}


def _json_type(hint: Any) -> str:
    origin = typing.get_origin(hint) or hint
    if origin in (dict, typing.Mapping) or hint is Any:
        return "object" if origin is not Any else "any"
    return {str: "string", bool: "boolean", int: "number", float: "number",
            list: "array"}.get(origin, "any")


def _shape_text(spec: Any) -> str:
    if isinstance(spec, Shape):
        return "{" + ", ".join(sorted(spec.fields)) + "}"
    if isinstance(spec, Check):
        return spec.name
    if isinstance(spec, MapOf):
        return "{name: ...}"
    return getattr(spec, "__name__", str(spec))


class _Unbound:
    """Stands in for a HostApi so that ``register`` hands over the plain functions."""

    def __getattr__(self, name: str) -> Any:
        return getattr(HostApi, name)


def _verb(name: str, fn: Any) -> Verb:
    hints = typing.get_type_hints(fn, vars(api))
    params = []
    for p in list(inspect.signature(fn).parameters.values())[1:]:  # after self
        if p.name.startswith("_") or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        required = p.default is inspect.Parameter.empty
        params.append(Param(p.name, _json_type(hints.get(p.name, Any)), required,
                            None if required else p.default))
    doc = " ".join((inspect.getdoc(fn) or "").split("\n\n", 1)[0].split())
    summary = doc.split(". ", 1)[0].split(": ", 1)[-1].rstrip(".").replace("``", "")
    summary = (summary[:1].upper() + summary[1:] + ".") if summary else SUMMARIES.get(
        name, "(no description)")
    return Verb(name, summary, tuple(params), _shape_text(RESULTS.get(name)))


def verbs() -> list[Verb]:
    found: list[Verb] = []
    HostApi.register(typing.cast(HostApi, _Unbound()),
                     lambda name, fn, **_kw: found.append(_verb(name, fn)))
    return sorted(found, key=lambda v: v.name)


def namespaces() -> list[str]:
    return sorted({v.namespace for v in verbs()})


def namespace_help(namespace: str) -> str:
    listed = [v for v in verbs() if v.namespace == namespace]
    width = max((len(v.method) for v in listed), default=0)
    lines = [f"usage: vdsm-net-client [options] {namespace} VERB [k=v ...] | -f FILE",
             "", f"{namespace} verbs:"]
    lines += [f"  {v.method:<{width}}  {v.summary}" for v in listed]
    lines += ["", f"'vdsm-net-client {namespace} VERB -h' shows a verb's parameters."]
    return "\n".join(lines) + "\n"


def verb_help(verb: Verb) -> str:
    lines = [f"usage: vdsm-net-client [options] {verb.namespace} {verb.method}"
             + "".join(f" {p.name}=..." for p in verb.params), "", verb.summary, ""]
    if verb.params:
        lines.append("parameters:")
        for p in verb.params:
            extra = "required" if p.required else f"optional, default {json.dumps(p.default)}"
            lines.append(f"  {p.name:<12} {p.type:<8} {extra}")
    else:
        lines.append("no parameters")
    lines += [f"returns: {verb.returns}", "",
              "JSON template (save as a file and pass it with -f FILE):",
              json.dumps(verb.template(), indent=4), ""]
    return "\n".join(lines)


def find(namespace: str, method: str) -> Verb | None:
    return next((v for v in verbs() if v.name == f"{namespace}.{method}"), None)
