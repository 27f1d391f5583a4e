"""The command line and the Dagster reporting of a compaction run, the same for both engines.

Run by hand, a job logs one line per day and exits non-zero when a day was refused or its check
failed; launched by Dagster (Pipes), it also reports the materialization metadata and every
day's figures, which the asset turns into the audit's blocking checks, one result per day.
`--result-json PATH` writes every day's `DayResult`, and when the day ended, for scripts and
benchmarks; a path that cannot be written is refused before any work starts.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Callable
from dataclasses import asdict
from datetime import date, timedelta
from pathlib import Path

from dagster_pipes import PipesEnvVarParamsLoader, open_dagster_pipes

from stock_lakehouse.compaction.plan import CannotRun, DayResult
from stock_lakehouse.parent_watch import exit_with_parent
from stock_lakehouse.settings import Settings, get_settings

log = logging.getLogger("compact_ticks")

RunDays = Callable[..., list[DayResult]]


def log_day(result: DayResult) -> None:
    if result.refused:
        log.error("%s: refused, its previous version stays: %s", result.trade_date, result.refused)
        return
    log.info(
        "%s: %d rows (%d duplicates dropped), %d -> %d files, %d -> %d bytes in %.1fs (%s)",
        result.trade_date,
        result.compacted_rows,
        result.duplicates_dropped,
        result.raw_files,
        result.compacted_files,
        result.raw_bytes,
        result.compacted_bytes,
        result.seconds,
        result.engine,
    )


def materialization_metadata(
    results: list[DayResult], seconds: float, engine: str
) -> dict[str, object]:
    """What the Dagster asset shows: totals of the run, and one line per day."""
    days = "\n".join(
        f"| {r.trade_date} | {r.compacted_rows} | {r.duplicates_dropped} | "
        f"{r.raw_files} -> {r.compacted_files} | {r.raw_bytes} -> {r.compacted_bytes} | "
        f"{'refused: ' + r.refused if r.refused else 'published'} |"
        for r in results
    )
    return {
        "engine": engine,
        "rows": sum(r.compacted_rows for r in results),
        "duplicates_dropped": sum(r.duplicates_dropped for r in results),
        "input_files": sum(r.raw_files for r in results),
        "output_files": sum(r.compacted_files for r in results),
        "input_bytes": sum(r.raw_bytes for r in results),
        "output_bytes": sum(r.compacted_bytes for r in results),
        "duration_seconds": round(seconds, 2),
        "raw_version": max((r.raw_version for r in results), default=-1),
        "refused_days": ", ".join(r.trade_date for r in results if r.refused) or "none",
        "days": {
            "raw_value": "| day | rows | duplicates dropped | files | bytes | |\n"
            "|---|---|---|---|---|---|\n" + days,
            "type": "md",
        },
    }


def parse_args(argv: list[str] | None, description: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--start", type=date.fromisoformat, required=True, help="first day")
    parser.add_argument(
        "--end", type=date.fromisoformat, help="day after the last (default: start + 1)"
    )
    parser.add_argument("--target-file-mb", type=float, help="default COMPACTION_TARGET_FILE_MB")
    parser.add_argument("--result-json", type=Path, help="write each day's result here as JSON")
    args = parser.parse_args(argv)
    args.end = args.end or args.start + timedelta(days=1)
    if args.end <= args.start:
        parser.error(f"--end {args.end} must be after --start {args.start}")
    if args.result_json is not None and (why := unwritable(args.result_json)):
        parser.error(f"--result-json {args.result_json} cannot be written: {why}")
    return args


def unwritable(path: Path) -> str | None:
    """Why `path` could not be written at the end of the run, or None; it is not created here."""
    folder = path.parent
    if path.is_dir():
        return "it is a folder"
    if not folder.is_dir():
        return f"{folder} is not a folder"
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        return "permission denied"
    return None


class DayClock:
    """When each day's result came in (epoch seconds), for `--result-json`."""

    def __init__(self) -> None:
        self.finished: dict[str, float] = {}

    def __call__(self, result: DayResult) -> None:
        self.finished[result.trade_date] = time.time()


def write_result_json(
    path: Path, engine: str, results: list[DayResult], clock: DayClock | None = None
) -> None:
    finished = clock.finished if clock else {}
    days = [
        {
            **asdict(r),
            "duplicates_dropped": r.duplicates_dropped,
            "check_passed": r.check_passed,
            "finished_at": finished.get(r.trade_date),
        }
        for r in results
    ]
    path.write_text(json.dumps({"engine": engine, "days": days}, indent=2))


def job_main(argv: list[str] | None, engine: str, run_days: RunDays, description: str) -> int:
    """Parse the range, run `run_days(settings, start, end, target_file_mb, on_day=...)`, report."""
    args = parse_args(argv, description)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("py4j").setLevel(logging.WARNING)
    settings: Settings = get_settings()
    started = time.monotonic()
    clock = DayClock()
    if not PipesEnvVarParamsLoader().is_dagster_pipes_process():

        def on_day(result: DayResult) -> None:
            clock(result)
            log_day(result)

        try:
            results = run_days(settings, args.start, args.end, args.target_file_mb, on_day=on_day)
        except CannotRun as exc:
            print(f"compact_ticks: {exc}", file=sys.stderr)
            return 2
        if args.result_json:
            write_result_json(args.result_json, engine, results, clock)
        return 0 if all(r.check_passed for r in results) else 1
    # Launched by a Dagster run worker: if it dies, run retries start another compaction of the
    # same days; this one must not go on writing beside it.
    exit_with_parent("compact_ticks")
    with open_dagster_pipes() as pipes:  # launched by Dagster: report into the run

        def report(result: DayResult) -> None:
            clock(result)
            log_day(result)
            pipes.log.info(f"compacted {result.trade_date}: {asdict(result)}")

        try:
            results = run_days(settings, args.start, args.end, args.target_file_mb, on_day=report)
        except CannotRun as exc:
            pipes.log.error(str(exc))
            print(f"compact_ticks: {exc}", file=sys.stderr)
            return 2
        if args.result_json:
            write_result_json(args.result_json, engine, results, clock)
        if any(not r.refused for r in results):  # a refused day keeps its last materialization
            pipes.report_asset_materialization(
                metadata=materialization_metadata(results, time.monotonic() - started, engine)
            )
        # Every day's figures: the asset turns them into one result per check and day.
        pipes.report_custom_message({"days": [asdict(r) for r in results]})
    return 0
