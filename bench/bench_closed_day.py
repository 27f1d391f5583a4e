"""What a small closed day costs: one `daily_refresh` run, raw_ticks to published marts, split.

    python -m bench.bench_closed_day [--ticks 20000] [--batches 2] [--runs 3]
                                     [--engines duckdb,spark]

In `make demo` a closed day holds ~20k ticks, so its run is almost all fixed cost: the run worker
loading the definitions, a process per step, a JVM (Spark engine), dbt's start, the publish. One
day of --ticks ticks is written to raw_ticks as the stream leaves it (bench/batch_data.py), then
`dagster job execute -j daily_refresh` runs that partition as its own process, the way the run
worker of a daemon-launched run does, once per engine per run, on a fresh Dagster instance and a
fresh marts database each time. The run's event log splits the wall time into: the worker's
start (process start to RUN_START), each step's worker start (STEP_WORKER_STARTING to
STEP_START: a Python process per step) and body (STEP_START to STEP_SUCCESS), and the rest.

There is no reference run to divide by: this is a latency with a target (<= 60 s of run time
for the demo's closed day), measured before and after each change in docs/benchmarks.md. Each
run is checked: the run succeeded and the published fct_daily_summary has the day's tickers.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

from bench.batch_data import build_raw_day
from bench.common import (
    OthersWatch,
    bench_services,
    median,
    print_table,
    run_dir,
    unique,
    wait_for_quiet,
    write_result,
)
from stock_lakehouse.settings import PROJECT_ROOT

DAY = date(2026, 11, 20)
RUN_TIMEOUT_S = 900


def run_daily_refresh(engine: str, prefix: str, day: date, folder: Path) -> dict[str, Any]:
    """`dagster job execute` of daily_refresh for one day; wall time and the event-log split."""
    name = unique(f"refresh-{engine}")
    state = folder / name
    env = {
        **os.environ,
        "DAGSTER_HOME": str(PROJECT_ROOT),
        "DAGSTER_STORAGE_DIR": str(state / "dagster"),
        "S3_PREFIX": prefix,
        "COMPACTION_ENGINE": engine,
        "MARTS_BUILD_DB": str(state / "marts" / "build.duckdb"),
        "MARTS_PUBLISHED_DB": str(state / "marts" / "marts.duckdb"),
    }
    command = [
        str(Path(sys.executable).with_name("dagster")),
        *("job", "execute", "-m", "stock_lakehouse.definitions", "-j", "daily_refresh"),
        *("--tags", json.dumps({"dagster/partition": day.isoformat()})),
    ]
    state.mkdir(parents=True)
    watch = OthersWatch()
    started = time.time()
    with (state / "run.log").open("wb") as log:
        # cwd is the run's folder, not the project root: Dagster's CLI loads ./.env over the
        # environment (its values win), which would point the run at the demo's services.
        proc = subprocess.run(
            command, env=env, cwd=state, stdout=log, stderr=subprocess.STDOUT,
            timeout=RUN_TIMEOUT_S, check=False,
        )  # fmt: skip
    ended = time.time()
    others = watch.result()
    if proc.returncode != 0:
        raise RuntimeError(f"daily_refresh exited with {proc.returncode} - see {state / 'run.log'}")
    split = event_split(state / "dagster", started, ended)
    tickers = published_tickers(Path(env["MARTS_PUBLISHED_DB"]), day)
    if not tickers:
        raise RuntimeError(f"no fct_daily_summary rows for {day} in {env['MARTS_PUBLISHED_DB']}")
    return {"engine": engine, "wall_s": ended - started, "split": split, "others": others,
            "tickers": tickers}  # fmt: skip


def event_split(storage: Path, started: float, ended: float) -> dict[str, float]:
    """Seconds per phase of the one run in this instance's event log."""
    import dagster as dg

    os.environ["DAGSTER_STORAGE_DIR"] = str(storage)
    with dg.DagsterInstance.from_config(str(PROJECT_ROOT)) as instance:
        [run] = instance.get_runs()
        if run.status != dg.DagsterRunStatus.SUCCESS:
            raise RuntimeError(f"run {run.run_id} ended {run.status}")
        times: dict[tuple[str | None, str], float] = {}
        for record in instance.all_logs(run.run_id):
            event = record.dagster_event
            if event is not None:
                times.setdefault((record.step_key, event.event_type.name), record.timestamp)
    split = {"worker start": times[(None, "RUN_START")] - started}
    steps = sorted({key for key, kind in times if key and kind == "STEP_START"},
                   key=lambda key: times[(key, "STEP_START")])  # fmt: skip
    for key in steps:
        short = "compaction" if "compacted_ticks" in key else "dbt" if "marts" in key else key
        worker = times.get((key, "STEP_WORKER_STARTING"), times[(key, "STEP_START")])
        split[f"{short}: step process"] = times[(key, "STEP_START")] - worker
        split[f"{short}: step"] = times[(key, "STEP_SUCCESS")] - times[(key, "STEP_START")]
    split["rest"] = (ended - started) - sum(split.values())
    return split


def published_tickers(db: Path, day: date) -> int:
    from stock_lakehouse.clients.duckdb_conn import connect_file

    with connect_file(db, read_only=True) as marts:
        [(count,)] = marts.execute(
            "select count(*) from fct_daily_summary where trade_date = ?", [day]
        ).fetchall()
    return count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ticks", type=int, default=20_000, help="ticks in the closed day")
    parser.add_argument("--batches", type=int, default=2, help="stream appends that wrote it")
    parser.add_argument("--runs", type=int, default=3, help="repetitions (the order alternates)")
    parser.add_argument("--engines", default="duckdb,spark", help="COMPACTION_ENGINE values")
    parser.add_argument(
        "--quiet-timeout", type=float, default=600, help="wait this long for others to calm down"
    )
    args = parser.parse_args(argv)
    engines = args.engines.split(",")

    runs: list[dict[str, Any]] = []
    with bench_services():
        prefix = f"bench/{unique('closed-day')}"
        folder = run_dir(prefix.rsplit("/", 1)[1])
        build_raw_day(prefix, folder, day=DAY, ticks=args.ticks, batches=args.batches)
        for n in range(args.runs):
            for engine in engines if n % 2 == 0 else reversed(engines):
                wait_for_quiet(args.quiet_timeout)
                measured = run_daily_refresh(engine, prefix, DAY, folder)
                measured["run"] = n + 1
                runs.append(measured)
                flag = " (disturbed)" if measured["others"]["disturbed"] else ""
                print(f"run {n + 1} {engine}: {measured['wall_s']:.1f} s{flag}")

    phases = list(dict.fromkeys(phase for r in runs for phase in r["split"]))
    print_table(
        f"daily_refresh of one closed {args.ticks:,}-tick day (seconds)",
        ["run", "engine", "wall", *phases, "others"],
        [
            (
                r["run"],
                r["engine"],
                f"{r['wall_s']:.1f}",
                *(f"{r['split'].get(p, 0):.1f}" for p in phases),
                f"{r['others']['others_share']:.0%}",
            )
            for r in runs
        ],
    )
    clean = [r for r in runs if not r["others"]["disturbed"]]
    write_result(
        "closed_day",
        {
            "command": " ".join(["python -m bench.bench_closed_day", *(argv or sys.argv[1:])]),
            "ticks": args.ticks,
            "batches": args.batches,
            "runs": runs,
            "undisturbed_runs": len(clean),
            **{
                f"median_wall_s_{engine}": median(
                    [r["wall_s"] for r in clean if r["engine"] == engine]
                )
                if any(r["engine"] == engine for r in clean)
                else None
                for engine in engines
            },
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
