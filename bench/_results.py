"""Where the bench scripts leave their figures for ``make bench``'s results file: one JSON per
script under bench/out/ (gitignored), with the kernel and the guest runner it ran on;
bench/results.py merges them into bench/results.json."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent / "out"


def record(script: str, figures: dict[str, Any], out: Path = OUT) -> Path:
    """Write ``figures`` of ``script`` (its file name without .py) as out/SCRIPT.json."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{script}.json"
    data = {"script": script, "kernel": platform.release(),
            "runner": os.environ.get("VDSM_NET_GUEST", "host"), "figures": figures}
    path.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    return path


def wire_figures(rows: list[Any]) -> dict[str, Any]:
    """bench_wire's rows as figures: best create/remove over the wire and of ``ip -batch``, the
    median getCapabilities and ``ip -j`` show (seconds), per N."""
    figures: dict[str, Any] = {}
    for r in rows:
        fig = {"create": min(t.wall for t in r.create), "remove": min(t.wall for t in r.remove),
               "batch_create": min(r.batch_create), "batch_remove": min(r.batch_remove)}
        if r.caps:
            fig["caps"] = sorted(t.wall for t in r.caps)[len(r.caps) // 2]
            fig["ip_show"] = r.ip_show
        figures[str(r.n)] = fig
    return figures
