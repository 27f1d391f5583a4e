"""One table of every benchmark's newest result: the figure, its reference, the ratio, the target.

    python -m bench.summary          (make bench runs it after the benchmarks)

Each benchmark measures its reference in the same invocation and writes
bench/results/<name>-<time>.json; this reads the newest file of each and prints nothing it did not
find there. A result with disturbed measurements says how many; those are no figures.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.common import RESULTS_DIR, print_table

Row = tuple[str, str, str, str, str]


def newest(name: str, folder: Path = RESULTS_DIR) -> dict[str, Any] | None:
    files = sorted(folder.glob(f"{name}-[0-9]*.json"))  # freshness-2026..., not freshness-long-...
    return json.loads(files[-1].read_text()) if files else None


def disturbed_count(node: Any) -> tuple[int, int]:
    """(disturbed, all) measurements anywhere in a result: each carries others.disturbed."""
    if isinstance(node, dict):
        if isinstance(node.get("others"), dict) and "disturbed" in node["others"]:
            return int(bool(node["others"]["disturbed"])), 1
        pairs = [disturbed_count(v) for v in node.values()]
    elif isinstance(node, list):
        pairs = [disturbed_count(v) for v in node]
    else:
        return 0, 0
    return sum(p[0] for p in pairs), sum(p[1] for p in pairs)


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def producer_rows(result: dict[str, Any]) -> list[Row]:
    return [
        ("producer (history mode)", "ticks/s", "kcat", _ratio(result.get("median_ratio")), ">= 0.4")
    ]


def ingest_rows(result: dict[str, Any]) -> list[Row]:
    rows = [
        (
            "ingest, backlog",
            "rows/s",
            "Kafka read + from_json -> noop",
            _ratio(result.get("median_ratio")),
            ">= 0.7",
        )
    ]
    if result.get("median_ratio_plain") is not None:  # results before 2026-12-06 lack it
        rows.append(
            (
                "ingest vs plain append",
                "rows/s",
                "Kafka + from_json -> Delta, no validation",
                _ratio(result["median_ratio_plain"]),
                ">= 1.0",
            )
        )
    return rows


def parse_rows(result: dict[str, Any]) -> list[Row]:
    return [
        (
            "parse + validate (no I/O)",
            "rows/s",
            "one typed from_json -> noop",
            _ratio(result.get("ratio", {}).get("job_vs_reference")),
            "-",
        )
    ]


def freshness_rows(result: dict[str, Any]) -> list[Row]:
    rows = []
    for trigger in sorted({r["trigger_s"] for r in result.get("runs", [])}):
        runs = [r for r in result["runs"] if r["trigger_s"] == trigger]
        p95 = statistics.median(r["p95_s"] for r in runs)
        cores = [r["stream_cores"] for r in runs if "stream_cores" in r]
        stream = f", stream {statistics.median(cores):.2f} cores" if cores else ""
        table = (
            f", {result['history_commits']:,}-commit table" if result.get("history_commits") else ""
        )
        rows.append(
            (
                f"freshness at {result.get('rate', '?')} ticks/s{table}",
                f"p95 {p95:.2f} s{stream}",
                f"trigger {trigger:g} s",
                f"+{p95 - trigger:.2f} s",
                "<= trigger + 3 s",
            )
        )
    return rows


def compaction_rows(result: dict[str, Any]) -> list[Row]:
    rows = []
    for engine in ("duckdb", "spark"):
        key = f"median_ratio_{engine}"
        if key in result:
            rows.append(
                (
                    f"compaction, {engine} engine",
                    "rows/s",
                    "DuckDB COPY + dedupe",
                    _ratio(result[key]),
                    ">= 0.5",
                )
            )
    return rows


def closed_day_rows(result: dict[str, Any]) -> list[Row]:
    rows = []
    for engine in ("duckdb", "spark"):
        seconds = result.get(f"median_wall_s_{engine}")
        if seconds is not None:
            rows.append(
                (
                    f"closed {result.get('ticks', 0):,}-tick day, {engine} engine",
                    f"run {seconds:.1f} s",
                    "none (a latency)",
                    "-",
                    "<= 60 s",
                )
            )
    return rows


def query_rows(result: dict[str, Any]) -> list[Row]:
    rows = [
        (
            "dashboard query, raw day",
            "median s",
            "the same day compacted",
            _ratio(result.get("ratio_raw_over_compacted")),
            "(raw / compacted)",
        )
    ]
    if result.get("ratio_live_compacted_raw_over_compacted") is not None:
        rows.append(
            (
                "dashboard query, live-compacted raw day",
                "median s",
                "the same day compacted",
                _ratio(result["ratio_live_compacted_raw_over_compacted"]),
                "< 2 (live / compacted)",
            )
        )
    return rows


COMMANDS = {
    "freshness-long": "python -m bench.bench_freshness --triggers 2 --history-commits 5000",
}
SECTIONS: dict[str, Callable[[dict[str, Any]], list[Row]]] = {
    "producer": producer_rows,
    "ingest": ingest_rows,
    "parse": parse_rows,
    "freshness": freshness_rows,
    "freshness-long": freshness_rows,
    "compaction": compaction_rows,
    "query": query_rows,
    "closed_day": closed_day_rows,
}


def summary_rows(folder: Path = RESULTS_DIR) -> list[tuple[str, ...]]:
    rows = []
    for name, section in SECTIONS.items():
        result = newest(name, folder)
        if result is None:
            rows.append(
                (
                    name,
                    "no result",
                    "-",
                    "-",
                    "-",
                    "-",
                    f"run {COMMANDS.get(name, f'python -m bench.bench_{name}')}",
                )
            )
            continue
        bad, total = disturbed_count(result.get("runs", result.get("queries", [])))
        for row in section(result):
            rows.append((*row, f"{bad} of {total}", str(result.get("finished_at", "?"))))
    return rows


def main() -> int:
    print_table(
        "benchmarks: each figure beside its reference, measured in the same invocation",
        ["stage", "figure", "reference", "ratio", "target", "disturbed", "result of"],
        summary_rows(),
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
