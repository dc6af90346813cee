"""make bench's results file and plot data, and bench_peers' table cells and ratios."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bench._peers_report import TIMES, cell, markdown, ratio, table
from bench._results import record
from bench._summary import combine, machine, merge, plot, series

PEERS: dict[str, Any] = {"cap": 300, "tools": {
    "agent": {"10": {"create": 0.1, "remove": 0.05}, "100": {"create": 1.0, "remove": 0.5}},
    "ifupdown2": {"100": {"create": 40.0, "remove": 10.0, "capped": False},
                  "10": {"create": 5.0, "remove": 2.0, "capped": False}},
    "network_manager": {"10": {"create": 8.0, "remove": 2.0, "capped": False},
                        "100": {"create": 300.5, "created": 42, "capped": True}},
}}


def test_record_then_merge_keeps_figures_output_and_machine(tmp_path: Path) -> None:
    record("bench_peers", PEERS, out=tmp_path)
    (tmp_path / "bench_peers.txt").write_text("line 1\nline 2\n")
    (tmp_path / "bench_ovs.txt").write_text("ovs table\n")
    (tmp_path / "machine.json").write_text(json.dumps({"cpu": "X", "cores": 2}))
    merged = merge(tmp_path)
    assert merged["machine"] == {"cpu": "X", "cores": 2}
    peers = merged["scripts"]["bench_peers"]
    assert peers["figures"] == PEERS and peers["output"] == ["line 1", "line 2"]
    assert set(peers) >= {"kernel", "runner"}
    assert merged["scripts"]["bench_ovs"] == {"output": ["ovs table"]}


def test_machine_reads_the_cpu_model(tmp_path: Path) -> None:
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nmodel name\t: Test CPU 3000\n")
    got = machine(str(info))
    assert got["cpu"] == "Test CPU 3000" and got["cores"] >= 1 and len(got["load"]) == 3


def test_series_sorted_by_n_without_capped_runs() -> None:
    lines = series(PEERS)
    assert lines["create"]["ifupdown2"] == [(10, 5.0), (100, 40.0)]
    assert lines["create"]["network_manager"] == [(10, 8.0)]
    assert lines["remove"]["agent"] == [(10, 0.05), (100, 0.5)]
    assert series(PEERS, capped=True) == {"create": {"network_manager": [(100, 300.5)]},
                                          "remove": {}}


def test_ratio_is_the_peer_over_the_agent_and_none_when_capped() -> None:
    assert ratio(PEERS["tools"], "ifupdown2", "100", "create") == pytest.approx(40.0)
    assert ratio(PEERS["tools"], "network_manager", "100", "create") is None
    assert ratio(PEERS["tools"], "network_manager", "1000", "create") is None


def test_cells_show_seconds_cap_progress_and_missing() -> None:
    assert cell(PEERS["tools"]["ifupdown2"]["10"], "create", "10") == "5.00"
    nm = PEERS["tools"]["network_manager"]["100"]
    assert cell(nm, "create", "100") == ">300 (42/100 up)"
    assert cell(nm, "remove", "100") == "-"
    rows = table(PEERS["tools"])
    assert any("(40x)" in r and ">300 (42/100 up)" in r for r in rows)


def test_plot_writes_a_png(tmp_path: Path) -> None:
    path = tmp_path / "p.png"
    plot(series(PEERS), path, "test", series(PEERS, capped=True))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_markdown_table_has_a_row_per_n_with_ratios() -> None:
    rows = markdown(PEERS["tools"])
    assert rows[0].count("create / remove") == 3
    assert rows[2].startswith("| 10 | 0.10 / 0.05 | 5.00 (50x) / 2.00 (40x) | 8.00 (80x)"
                              .replace("x)", f"{TIMES})"))
    assert ">300 (42/100 up) / -" in rows[3]


def test_combine_takes_the_latest_run_and_fills_in_from_earlier_ones() -> None:
    early = {"figures": {"tools": {"ifupdown2": {"10": {"create": 5.0}},
                                   "agent": {"10": {"create": 9.0}}}}, "runner": "old"}
    late = {"figures": {"cap": 150, "tools": {"agent": {"10": {"create": 0.1}}}}, "runner": "new"}
    got = combine({"bench_peers_run1": early, "bench_peers": late, "bench_kernel": {}})
    assert got["runner"] == "new" and got["figures"]["cap"] == 150
    assert got["figures"]["tools"] == {"agent": {"10": {"create": 0.1}},
                                       "ifupdown2": {"10": {"create": 5.0}}}
    assert combine({"bench_kernel": {}}) == {}
