"""The dry run for people: the plan as readable lines, or as a Graphviz device graph
(NIC -> bond -> VLAN -> bridge, ports pointing at their masters) with the planned changes
coloured: green created, orange changed, red deleted."""

from __future__ import annotations

from vdsm_net.model.kernel import KernelState, Link
from vdsm_net.model.ops import (
    AddressOp,
    CreateLink,
    DeleteLinks,
    LinkOp,
    Op,
    RouteOp,
    RuleOp,
)

NOTHING = "nothing to do: the kernel already matches the request"
COLOURS = {"create": "darkgreen", "change": "darkorange", "delete": "red3", "keep": "gray40"}
SHAPES = {"nic": "box", "bond": "hexagon", "vlan": "parallelogram", "bridge": "ellipse"}


def _link_text(link: Link) -> str:
    parts = [f"{link.kind} {link.name}"]
    if link.kind == "vlan":
        parts.append(f"id {link.vlan_id} on {link.vlan_base}")
    if link.bond_options:
        parts.append(" ".join(f"{k}={v}" for k, v in link.bond_options))
    if link.kind == "bridge":
        parts.append(f"stp {'on' if link.stp else 'off'}")
    parts.append(f"mtu {link.mtu}")
    return ", ".join(parts)


def op_text(op: Op) -> str:
    """One op as a sentence: ``create bridge vmnet, stp off, mtu 1500``."""
    if isinstance(op, CreateLink):
        text = "create " + _link_text(op.link)
    elif isinstance(op, DeleteLinks):
        text = "delete " + ", ".join(op.names)
    elif isinstance(op, LinkOp):
        fields = {k: v for k, v in op.to_dict().items() if k not in ("op", "name", "reason")}
        if set(fields) == {"up"}:
            text = f"set {op.name} {'up' if fields['up'] else 'down'}"
        else:
            text = f"set {op.name} " + ", ".join(f"{k} {_value(v)}" for k, v in fields.items())
    elif isinstance(op, AddressOp):
        verb = "add" if op.kind.startswith("add") else "remove"
        text = f"{verb} address {op.address.address} on {op.address.ifname}"
    elif isinstance(op, RouteOp):
        r = op.route
        verb = "add" if op.kind.startswith("add") else "remove"
        via = f" via {r.gateway}" if r.gateway else ""
        text = f"{verb} route {r.dst}{via} dev {r.oif} table {r.table}"
    elif isinstance(op, RuleOp):
        rule = op.rule
        verb = "add" if op.kind.startswith("add") else "remove"
        match = " ".join(f"{k} {v}" for k, v in (("from", rule.src), ("to", rule.dst)) if v)
        text = f"{verb} rule {rule.priority}: {match or 'all'} lookup {rule.table}"
    else:
        text = op.describe()
    reason = getattr(op, "reason", "")
    return f"{text} ({reason})" if reason else text


def _value(value: object) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, list):
        return " ".join("=".join(map(str, v)) if isinstance(v, list) else str(v) for v in value)
    return str(value)


def plan_text(plan: list[Op]) -> str:
    if not plan:
        return NOTHING + "\n"
    width = len(str(len(plan)))
    lines = [f"{len(plan)} kernel writes, in order:"]
    lines += [f"  {i:>{width}}. {op_text(op)}" for i, op in enumerate(plan, 1)]
    return "\n".join(lines) + "\n"


def _changes(plan: list[Op], observed: KernelState) -> dict[str, str]:
    out: dict[str, str] = {}
    for op in plan:
        if isinstance(op, CreateLink):
            out[op.link.name] = "create"
        elif isinstance(op, DeleteLinks):
            out.update(dict.fromkeys(op.names, "delete"))
        else:
            for name in op.links:
                if name in observed.links or name not in out:
                    out.setdefault(name, "change")
    return out


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def plan_dot(plan: list[Op], observed: KernelState, target: KernelState) -> str:
    """The device graph of ``observed`` and ``target`` together, coloured by ``plan``; links
    the plan leaves alone are grey, and an edge is drawn in the colour of its port."""
    changes = _changes(plan, observed)
    links = {**observed.links, **target.links}
    ops_by_link: dict[str, list[str]] = {}
    for op in plan:
        for name in op.links:
            ops_by_link.setdefault(name, []).append(op_text(op))
    lines = ["digraph plan {", "  rankdir=LR;", '  node [fontname="monospace"];',
             f"  label={_quote(plan_text(plan).splitlines()[0])}; labelloc=t;"]
    for name in sorted(links):
        link = links[name]
        change = changes.get(name, "keep")
        label = "\\n".join([f"{name} ({link.kind})", *ops_by_link.get(name, [])[:6]])
        label = label.replace('"', "'")
        style = "bold" if change != "keep" else "solid"
        lines.append(f'  {_quote(name)} [label="{label}", shape={SHAPES.get(link.kind, "box")},'
                     f" color={COLOURS[change]}, fontcolor={COLOURS[change]}, style={style}];")
    for name in sorted(links):
        link = target.links.get(name) or links[name]
        colour = COLOURS[changes.get(name, "keep")]
        if link.master and link.master in links:
            lines.append(f"  {_quote(name)} -> {_quote(link.master)} [color={colour}];")
        if link.vlan_base and link.vlan_base in links:
            lines.append(f"  {_quote(link.vlan_base)} -> {_quote(name)} [color={colour}];")
    lines.append("}")
    return "\n".join(lines) + "\n"
