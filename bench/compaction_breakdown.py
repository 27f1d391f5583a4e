"""Where the compaction job spends a day's time, from its own Spark event log (not a benchmark).

    python -m bench.compaction_breakdown [--ticks 5000000] [--batches 50]
    python -m bench.compaction_breakdown --prefix bench/compaction-1a2b3c4d   (reuse that day)

bench_compaction times `spark_jobs/compact_ticks.py` from outside. This runs the very same job,
the same way, with Spark's event log switched on (PYSPARK_SUBMIT_ARGS, so the job is not edited
and a changed job is still broken down right), and splits the day's `seconds` by DataFrame action
(root SQL execution: `count at ...`, `save at ...`, Delta's `getHistory`), each with the Delta log
replays Spark ran while planning it, the Spark jobs, tasks, task CPU and rows it read or shuffled.
What is left is time outside any action: Python, py4j, the Delta log read by deltalake, and so on.
In-process step timings (like ingest_breakdown) would have to copy compact_day and drift from it.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from pathlib import Path
from typing import Any

from bench.batch_data import DEFAULT_DAY, build_raw_day
from bench.bench_compaction import COMPACT_JOB, RUN_TIMEOUT_S
from bench.common import (
    OthersWatch,
    bench_services,
    print_table,
    run_dir,
    unique,
    wait_for_quiet,
    write_result,
)
from bench.stream_job import start_python, stop_job


def reported_day(result_json: Path) -> dict[str, Any]:
    """The day's figures from the job's `--result-json`, named as this breakdown prints them."""
    [day] = json.loads(result_json.read_text())["days"]
    return {
        "day": day["trade_date"],
        "rows": day["compacted_rows"],
        "duplicates_dropped": day["duplicates_dropped"],
        "files_in": day["raw_files"],
        "files_out": day["compacted_files"],
        "bytes_in": day["raw_bytes"],
        "bytes_out": day["compacted_bytes"],
        "seconds": day["seconds"],
        "finished_at": day["finished_at"],
    }


def run_with_event_log(prefix: str, day: date, folder: Path) -> tuple[Path, Path, Path]:
    """compact_ticks as bench_compaction runs it, plus an event log; (job log, its
    --result-json, event log)."""
    events = folder / unique("events")
    events.mkdir(parents=True)
    log = events / "compact_ticks.log"
    result_json = folder / f"{events.name}-result.json"
    submit = f"--conf spark.eventLog.enabled=true --conf spark.eventLog.dir=file://{events}"
    # One plain JSON-lines file (Spark 4 defaults to rolling, zstd-compressed logs).
    submit += " --conf spark.eventLog.rolling.enabled=false --conf spark.eventLog.compress=false"
    env = {"S3_PREFIX": prefix, "PYSPARK_SUBMIT_ARGS": f"{submit} pyspark-shell"}
    args = [str(COMPACT_JOB), "--start", day.isoformat(), "--result-json", str(result_json)]
    proc = start_python(args, log, env)
    try:
        code = proc.wait(timeout=RUN_TIMEOUT_S)
    finally:
        stop_job(proc)
    if code != 0:
        raise RuntimeError(f"compact_ticks exited with {code} - see {log}")
    written = [p for p in events.iterdir() if p.name != log.name]
    if len(written) != 1:
        raise RuntimeError(f"expected one Spark event log in {events}, found {len(written)}")
    return log, result_json, written[0]


def day_window(day: dict[str, Any]) -> tuple[float, float]:
    """(start, end) of the day in epoch ms: when the job reported it, minus its `seconds`."""
    end = day["finished_at"] * 1000
    return end - day["seconds"] * 1000, end


SQL_START = "org.apache.spark.sql.execution.ui.SparkListenerSQLExecutionStart"
SQL_END = "org.apache.spark.sql.execution.ui.SparkListenerSQLExecutionEnd"


def read_events(event_log: Path) -> tuple[float, dict[int, dict[str, Any]], list[dict[str, Any]]]:
    """(application start, SQL executions by id, Spark jobs) from an event log; times in ms.

    Each Spark job belongs to a SQL execution, and nested executions (Delta's log replays while
    planning a read, for instance) to a root one: the DataFrame action the job called.
    """
    executions: dict[int, dict[str, Any]] = {}
    jobs: dict[int, dict[str, Any]] = {}
    stage_job: dict[int, int] = {}
    app_start = 0.0
    for line in event_log.read_text().splitlines():
        event = json.loads(line)
        kind = event["Event"]
        if kind == "SparkListenerApplicationStart":
            app_start = event["Timestamp"]
        elif kind == SQL_START:
            executions[int(event["executionId"])] = {
                "root": int(event.get("rootExecutionId", event["executionId"])),
                "description": event["description"],
                "start": int(event["time"]),
                "end": None,
            }
        elif kind == SQL_END:
            executions[int(event["executionId"])]["end"] = int(event["time"])
        elif kind == "SparkListenerJobStart":
            execution = (event.get("Properties") or {}).get("spark.sql.execution.id")
            jobs[event["Job ID"]] = {
                "execution": int(execution) if execution is not None else None,
                "start": event["Submission Time"],
                "end": None,
                "tasks": sum(s["Number of Tasks"] for s in event["Stage Infos"]),
                "task_cpu_s": 0.0,
                "rows_read": 0,
                "shuffle_rows": 0,
            }
            for stage in event["Stage IDs"]:
                stage_job[stage] = event["Job ID"]
        elif kind == "SparkListenerJobEnd":
            jobs[event["Job ID"]]["end"] = event["Completion Time"]
        elif kind == "SparkListenerTaskEnd" and event["Stage ID"] in stage_job:
            job, metrics = jobs[stage_job[event["Stage ID"]]], event.get("Task Metrics") or {}
            job["task_cpu_s"] += metrics.get("Executor CPU Time", 0) / 1e9
            job["rows_read"] += metrics.get("Input Metrics", {}).get("Records Read", 0)
            job["shuffle_rows"] += metrics.get("Shuffle Write Metrics", {}).get(
                "Shuffle Records Written", 0
            )
    return app_start, executions, [j for j in jobs.values() if j["end"] is not None]


def covered_ms(intervals: list[tuple[float, float]]) -> float:
    """Length of the union of [start, end) intervals."""
    total, reach = 0.0, float("-inf")
    for start, end in sorted(intervals):
        if end > reach:
            total += end - max(start, reach)
            reach = end
    return total


def action_label(description: str) -> str:
    """`count at NativeMethodAccessorImpl.java:0` -> `count`; a Python call site keeps its line:
    `first at /work/main/spark_jobs/compact_ticks.py:114` -> `first (compact_ticks.py:114)`."""
    action, _, site = description.partition(" at ")
    return f"{action} ({Path(site).name})" if site.split(":")[0].endswith(".py") else action


def breakdown(log: Path, result_json: Path, event_log: Path) -> dict[str, Any]:
    """The day's time per DataFrame action (root SQL execution), and what ran outside them."""
    day = reported_day(result_json)
    day_start, day_end = day_window(day)
    app_start, executions, jobs = read_events(event_log)
    roots = {
        i: e
        for i, e in executions.items()
        if e["root"] == i and e["end"] is not None and day_start <= e["start"] < day_end
    }
    steps = []
    for number, (i, root) in enumerate(sorted(roots.items(), key=lambda r: r[1]["start"])):
        mine = [
            j
            for j in jobs
            if j["execution"] is not None and executions[j["execution"]]["root"] == i
        ]
        steps.append(
            {
                "step": f"{number + 1}. {action_label(root['description'])}",
                "at_s": (root["start"] - day_start) / 1000,
                "wall_s": (root["end"] - root["start"]) / 1000,
                "in_jobs_s": covered_ms([(j["start"], j["end"]) for j in mine]) / 1000,
                "spark_jobs": len(mine),
                "nested_executions": sum(1 for e in executions.values() if e["root"] == i) - 1,
                **{k: sum(j[k] for j in mine) for k in ("tasks", "task_cpu_s", "rows_read")},
                "shuffle_rows": sum(j["shuffle_rows"] for j in mine),
            }
        )
    day_s = (day_end - day_start) / 1000
    in_actions = covered_ms([(r["start"], r["end"]) for r in roots.values()]) / 1000
    in_day = [j for j in jobs if day_start <= j["start"] < day_end]
    return {
        "day": day,
        "before_day_s": (day_start - app_start) / 1000,  # session, S3 probe, table check
        "day_s": day_s,
        "steps": steps,
        "outside_actions_s": day_s - in_actions,  # Python: Delta log via deltalake, py4j, ...
        "in_spark_jobs_s": covered_ms([(j["start"], j["end"]) for j in in_day]) / 1000,
        "task_cpu_s": sum(j["task_cpu_s"] for j in in_day),
        "log": str(log),
        "event_log": str(event_log),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ticks", type=int, default=5_000_000)
    parser.add_argument("--batches", type=int, default=50)
    parser.add_argument("--day", type=date.fromisoformat, default=DEFAULT_DAY)
    parser.add_argument("--prefix", help="reuse the raw day of an earlier run (keeps .state/bench)")
    parser.add_argument("--quiet-timeout", type=float, default=600)
    args = parser.parse_args(argv)
    with bench_services(fresh=args.prefix is None) as settings:
        prefix = args.prefix or f"bench/{unique('breakdown')}"
        folder = run_dir(prefix.rsplit("/", 1)[1])
        if args.prefix is None:
            build_raw_day(prefix, folder, day=args.day, ticks=args.ticks, batches=args.batches)
        wait_for_quiet(args.quiet_timeout)
        watch = OthersWatch()
        log, result_json, event_log = run_with_event_log(prefix, args.day, folder)
        others = watch.result()
    result = breakdown(log, result_json, event_log)
    day = result["day"]
    print_table(
        f"compact_ticks, one day: {day['rows']:,} rows, {day['files_in']} -> {day['files_out']} "
        f"files in {day['seconds']:.1f} s (+{result['before_day_s']:.1f} s from JVM start to the "
        f"day); others {others['others_share']:.0%}",
        ["DataFrame action", "at s", "wall s", "in jobs s", "jobs", "tasks", "task CPU s",
         "rows read", "shuffled rows"],
        [
            (
                s["step"], f"{s['at_s']:.1f}", f"{s['wall_s']:.1f}", f"{s['in_jobs_s']:.1f}",
                s["spark_jobs"], s["tasks"], f"{s['task_cpu_s']:.1f}", f"{s['rows_read']:,}",
                f"{s['shuffle_rows']:,}",
            )
            for s in result["steps"]
        ]
        + [
            ("outside any action", "", f"{result['outside_actions_s']:.1f}", *[""] * 6),
            ("the day", "", f"{result['day_s']:.1f}", f"{result['in_spark_jobs_s']:.1f}", "",
             "", f"{result['task_cpu_s']:.1f}", "", ""),
        ],
    )  # fmt: skip
    write_result(
        "compaction-breakdown",
        {
            "command": " ".join(["python -m bench.compaction_breakdown", *(argv or sys.argv[1:])]),
            "prefix": prefix,
            "spark_master": settings.spark.master,
            "others": others,
            **result,
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
