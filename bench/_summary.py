"""``make bench``'s results file and plot (issue 17 item 5). On the host, around the guest boot:
  python -m bench._summary machine   the machine before the run (CPU model, cores, load) into
                                    bench/out/machine.json (the load after, at merge);
  python -m bench._summary merge     bench/out/*.json (bench/_results.py, one per script) and each
                                    script's printed output (bench/out/*.txt) into
                                    bench/results.json, and bench/results.png: seconds against N,
                                    log-log, create and remove, one line per tool (needs the
                                    optional ``bench`` extra, matplotlib);
  python -m bench._summary table    the README's peer table (markdown) from bench/results.json.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from bench._peers_report import markdown
from bench._results import OUT

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results.json"
PLOT = HERE / "results.png"
LABELS = {"ip_batch": "ip -batch", "agent": "vdsm-net over the wire",
          "ifupdown2": "ifupdown2", "network_manager": "NetworkManager (nmcli)"}


def machine(cpuinfo: str = "/proc/cpuinfo") -> dict[str, Any]:
    """The CPU model, the number of cores and the load averages of this machine now."""
    model = "unknown"
    with open(cpuinfo, encoding="utf-8", errors="replace") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {"cpu": model, "cores": os.cpu_count(), "load": list(os.getloadavg())}


def merge(out: Path = OUT) -> dict[str, Any]:
    """Every script's figures and printed output under ``out``, with the machine."""
    merged: dict[str, Any] = {"machine": {}, "scripts": {}}
    for path in sorted(out.glob("*.json")):
        data = json.loads(path.read_text())
        if path.stem == "machine":
            merged["machine"] = data
        else:
            merged["scripts"][path.stem] = data
    for path in sorted(out.glob("*.txt")):
        merged["scripts"].setdefault(path.stem, {})["output"] = path.read_text().splitlines()
    return merged


Series = dict[str, dict[str, list[tuple[int, float]]]]  # phase -> tool -> [(N, seconds)]


def series(peers: dict[str, Any], capped: bool = False) -> Series:
    """The plot's lines from bench_peers' figures: per phase and tool, (N, seconds) by N, of
    the finished runs; with ``capped``, the runs stopped at the cap instead (lower bounds)."""
    out: Series = {"create": {}, "remove": {}}
    for tool in sorted(peers.get("tools", {}), key=_order):
        for n, fig in sorted(peers["tools"][tool].items(), key=lambda kv: int(kv[0])):
            for phase in out:
                if phase in fig and bool(fig.get("capped")) == capped:
                    out[phase].setdefault(tool, []).append((int(n), float(fig[phase])))
    return out


def _order(tool: str) -> int:
    return list(LABELS).index(tool) if tool in LABELS else len(LABELS)


def combine(scripts: dict[str, Any]) -> dict[str, Any]:
    """bench_peers' figures for the plot and table: those of ``bench_peers`` over those of
    earlier runs kept as ``bench_peers_*`` (a tool and N missing from the latest run)."""
    names = sorted((k for k in scripts if k.startswith("bench_peers_")), reverse=True)
    runs = [scripts[k] for k in [*names, "bench_peers"] if k in scripts]
    if not runs:
        return {}
    tools: dict[str, dict[str, Any]] = {}
    for run in runs:
        for tool, by_n in run.get("figures", {}).get("tools", {}).items():
            tools.setdefault(tool, {}).update(by_n)
    return {**runs[-1], "figures": {**runs[-1].get("figures", {}), "tools": tools}}


def plot(lines: Series, path: Path, title: str, capped: Series | None = None) -> None:
    """Seconds against N, log-log, create and remove side by side; ``capped`` points (runs
    stopped at the cap) as open markers: the tool would have taken longer."""
    import matplotlib  # the optional bench extra

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5), sharey=True)
    colors = {tool: f"C{i}" for i, tool in enumerate(LABELS)}
    for ax, phase in zip(axes, ("create", "remove"), strict=True):
        for tool, points in lines[phase].items():
            ns, secs = zip(*points, strict=True)
            ax.plot(ns, secs, marker="o", color=colors.get(tool), label=LABELS.get(tool, tool))
        for tool, points in (capped or {}).get(phase, {}).items():
            ns, secs = zip(*points, strict=True)
            ax.plot(ns, secs, marker="^", markerfacecolor="none", linestyle="none",
                    markersize=9, color=colors.get(tool),
                    label=f"{LABELS.get(tool, tool)}: stopped at the cap")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("networks (N)")
        ax.set_title(f"{phase} N VLAN+bridge networks")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("seconds (lower is better)")
    axes[0].legend(fontsize="small")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main(argv: list[str]) -> int:
    if argv == ["machine"]:
        OUT.mkdir(parents=True, exist_ok=True)
        (OUT / "machine.json").write_text(json.dumps(machine(), indent=1) + "\n")
        return 0
    if argv == ["table"]:  # the README's peer table from bench/results.json
        peers = combine(json.loads(RESULTS.read_text())["scripts"])
        print("\n".join(markdown(peers["figures"]["tools"])))
        return 0
    if argv != ["merge"]:
        print(__doc__, file=sys.stderr)
        return 2
    merged = merge()
    merged["machine"]["load_after"] = list(os.getloadavg())
    RESULTS.write_text(json.dumps(merged, indent=1, sort_keys=True) + "\n")
    peers = combine(merged["scripts"])
    if peers.get("figures"):
        m = merged["machine"]
        title = (f"{peers.get('runner')} guest, kernel {peers.get('kernel')}; "
                 f"{m.get('cpu', '?')}, {m.get('cores', '?')} cores")
        plot(series(peers["figures"]), PLOT, title, series(peers["figures"], capped=True))
    print(f"wrote {RESULTS}" + (f" and {PLOT}" if peers.get("figures") else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
