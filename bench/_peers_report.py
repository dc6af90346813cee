"""bench_peers.py's table: seconds per tool and N, and how many times slower than the agent each
peer is (its time divided by the agent's: above 1 the agent is faster)."""

from __future__ import annotations

from typing import Any

TOOLS = ("ip_batch", "agent", "ifupdown2", "network_manager")
TIMES = "\u00d7"  # the README's ratio sign
Results = dict[str, dict[str, dict[str, Any]]]  # tool -> N -> figures


def cell(fig: dict[str, Any] | None, phase: str, n: str) -> str:
    """``12.3`` seconds, ``>900 (316/1000 up)`` for a capped create, ``-`` when not run."""
    if not fig or phase not in fig:
        return "-"
    if fig.get("capped") and (phase == "create" or "remove" not in fig or phase == "remove"):
        if phase == "create" and fig.get("created", 0) < int(n):
            return f">{fig[phase]:.0f} ({fig.get('created', 0)}/{n} up)"
        if phase == "remove" and fig.get("left"):
            return f">{fig[phase]:.0f} ({fig['left']} left)"
    return f"{fig[phase]:.2f}"


def ratio(results: Results, tool: str, n: str, phase: str) -> float | None:
    """``tool``'s time over the agent's for the same N and phase (None if either is missing or
    the tool's run was capped: then the ratio is at least the capped time's)."""
    mine, ref = results.get(tool, {}).get(n, {}), results.get("agent", {}).get(n, {})
    if phase not in mine or not ref.get(phase) or mine.get("capped"):
        return None
    return float(mine[phase]) / float(ref[phase])


def table(results: Results) -> list[str]:
    tools = [t for t in TOOLS if t in results]
    sizes = sorted({n for t in tools for n in results[t]}, key=int)
    lines = [f"{'N':>5} {'phase':>7} " + " ".join(f"{t:>24}" for t in tools)]
    for n in sizes:
        for phase in ("create", "remove"):
            cells = []
            for t in tools:
                text = cell(results[t].get(n), phase, n)
                r = ratio(results, t, n, phase)
                peer = r is not None and t not in ("agent", "ip_batch")
                cells.append(f"{text} ({r:.0f}x)" if peer else text)
            lines.append(f"{n:>5} {phase:>7} " + " ".join(f"{c:>24}" for c in cells))
    return lines


def print_table(results: Results, cap: float) -> None:
    print(f"\npeers: seconds (lower is better); (Kx) = K times the agent's time; cap {cap:.0f} s")
    print("\n".join(table(results)))
    adopt = [(n, f) for n, f in results.get("agent", {}).items() if "adopt_ready" in f]
    for n, f in adopt:
        print(f"agent restart with {n} networks in the kernel: ping2 answered after "
              f"{f['adopt_ready']:.2f} s, getCapabilities with all of them after "
              f"{f['adopt_caps']:.2f} s; RSS {f['rss_mb']:.1f} MB")


def markdown(results: Results) -> list[str]:
    """The README's peer table: seconds create / remove per tool and N, the peers' ratios to
    the agent in brackets."""
    tools = [t for t in TOOLS if t in results]
    names = {"ip_batch": "`ip -batch`", "agent": "the agent over the wire",
             "ifupdown2": "ifupdown2", "network_manager": "NetworkManager (nmcli)"}
    lines = ["| N | " + " | ".join(f"{names[t]} create / remove, s" for t in tools) + " |",
             "|---|" + "---|" * len(tools)]
    sizes = sorted({n for t in tools for n in results[t]}, key=int)
    for n in sizes:
        cells = []
        for t in tools:
            parts = []
            for phase in ("create", "remove"):
                text = cell(results[t].get(n), phase, n)
                r = ratio(results, t, n, phase)
                peer = r is not None and t not in ("agent", "ip_batch")
                parts.append(f"{text} ({r:.0f}{TIMES})" if peer else text)
            cells.append(" / ".join(parts))
        lines.append(f"| {n} | " + " | ".join(cells) + " |")
    return lines
