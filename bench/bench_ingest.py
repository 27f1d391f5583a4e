"""Sustained ingest through Spark into raw_ticks, beside two references on the same topic.

    python -m bench.bench_ingest [--ticks 1000000] [--runs 2] [--max-offsets 200000]

One topic is filled first (history mode, no bad ticks). Then, in an order that rotates from run to
run, three processes drain it: the real stream job (`spark_jobs/stream_ticks.py --available-now`,
fresh S3 prefix and checkpoint), the ceiling (bench/noop_ingest.py: Kafka read + from_json into
`noop`) and the plain job (bench/noop_ingest.py --sink delta: the same raw_ticks columns appended
to Delta by Spark's own sink, no validation, no quarantine). The rate is rows / query time, from the
moment the query started to the end of its last batch, so the JVM start (10-20 s here) is left
out; wall time including it is reported beside. job / noop is the share of the ceiling that
validation, quarantine and exactly-once appends leave; job / plain what they cost over a plain
append of the same rows.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from bench.common import (
    OthersWatch,
    bench_services,
    history_options,
    median,
    print_table,
    run_dir,
    unique,
    wait_for_quiet,
    write_result,
)
from bench.stream_job import read_job_log, start_python, start_stream_job, stop_job
from stock_lakehouse.clients import duckdb_conn
from stock_lakehouse.settings import Settings
from stock_lakehouse.simulator.run import run_simulation
from stock_lakehouse.tables import RAW_TICKS, table_uri

RUN_TIMEOUT_S = 1800


def raw_rows(settings: Settings, prefix: str) -> int:
    """Rows in the run's raw_ticks table, read back with DuckDB: the job really wrote them."""
    s3 = settings.s3.model_copy(update={"prefix": prefix})
    con = duckdb_conn.connect(s3=s3)
    try:
        query = f"SELECT count(*) FROM delta_scan('{table_uri(s3, RAW_TICKS)}')"
        return con.execute(query).fetchone()[0]  # type: ignore[index]
    finally:
        con.close()


def run_job(settings: Settings, topic: str, ticks: int, max_offsets: int) -> dict[str, Any]:
    name = unique("ingest-job")
    folder = run_dir(name)
    prefix, log = f"bench/{name}", folder / "stream_ticks.log"
    watch = OthersWatch()
    started = time.monotonic()
    proc = start_stream_job(
        topic,
        prefix,
        folder / "checkpoint",
        log,
        available_now=True,
        max_offsets_per_trigger=max_offsets,
    )
    try:
        code = proc.wait(timeout=RUN_TIMEOUT_S)
    finally:
        stop_job(proc)
    wall = time.monotonic() - started
    others = watch.result()
    if code != 0:
        raise RuntimeError(f"stream job exited with {code} - see {log}")
    query_started, batches = read_job_log(log)
    rows = sum(b.raw_rows + b.quarantined_rows for b in batches)
    written = raw_rows(settings, prefix)
    if query_started is None or rows != ticks or written != ticks:
        raise RuntimeError(f"stream job: {rows:,} rows in batches, {written:,} in raw_ticks")
    query_s = batches[-1].logged_at - query_started
    return {
        "log": str(log),
        "batches": len(batches),
        "batch_seconds": [b.seconds for b in batches],
        "query_s": query_s,
        "wall_s": wall,
        "rows_per_s": rows / query_s,
        "others": others,
    }


def run_reference(
    settings: Settings, sink: str, topic: str, ticks: int, max_offsets: int
) -> dict[str, Any]:
    """bench.noop_ingest into `noop`, or (sink "delta") plainly into a new raw_ticks table."""
    name = unique(f"ingest-{sink}")
    folder = run_dir(name)
    log, out = folder / "noop_ingest.log", folder / "result.json"
    args = ["-m", "bench.noop_ingest", "--topic", topic, "--sink", sink]
    args += ["--checkpoint", str(folder / "checkpoint"), "--out", str(out)]
    prefix = f"bench/{name}"
    if sink == "delta":
        s3 = settings.s3.model_copy(update={"prefix": prefix})
        args += ["--table", table_uri(s3, RAW_TICKS, scheme="s3a")]
    env = {
        "STREAM_MAX_OFFSETS_PER_TRIGGER": str(max_offsets),
        "STREAM_STARTING_OFFSETS": "earliest",
    }
    watch = OthersWatch()
    started = time.monotonic()
    proc = start_python(args, log, env)
    try:
        code = proc.wait(timeout=RUN_TIMEOUT_S)
    finally:
        stop_job(proc)
    wall = time.monotonic() - started
    others = watch.result()
    if code != 0:
        raise RuntimeError(f"{sink} ingest exited with {code} - see {log}")
    result = json.loads(out.read_text())
    batches = [b for b in result["batches"] if b["rows"]]
    rows = sum(b["rows"] for b in batches)
    if rows != ticks:
        raise RuntimeError(f"{sink} ingest read {rows:,} rows, expected {ticks:,} - see {log}")
    if sink == "delta" and (written := raw_rows(settings, prefix)) != ticks:
        raise RuntimeError(f"plain ingest wrote {written:,} rows, expected {ticks:,} - see {log}")
    query_s = max(b["ended_at"] for b in batches) - result["started_at"]
    return {
        "log": str(log),
        "batches": len(batches),
        "batch_seconds": [b["seconds"] for b in batches],
        "query_s": query_s,
        "wall_s": wall,
        "rows_per_s": rows / query_s,
        "others": others,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ticks", type=int, default=1_000_000, help="ticks to ingest per run")
    parser.add_argument("--days", type=int, default=5, help="trading days (raw_ticks partitions)")
    parser.add_argument("--runs", type=int, default=2, help="repetitions (the order alternates)")
    parser.add_argument("--max-offsets", type=int, default=200_000, help="maxOffsetsPerTrigger")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument(
        "--quiet-timeout", type=float, default=600, help="wait this long for others to calm down"
    )
    args = parser.parse_args(argv)

    runs = []
    with bench_services() as settings:
        options = history_options(
            settings, unique("bench-ingest"), args.ticks, args.days, args.seed
        )
        summary = run_simulation(settings, options, interactive=False)
        if summary.acked != args.ticks:
            raise RuntimeError(f"only {summary.acked:,} of {args.ticks:,} ticks acknowledged")
        print(f"topic {options.topic}: {summary.line()}")
        cases = ["job", "noop", "plain"]
        for n in range(args.runs):
            order = cases[n % 3 :] + cases[: n % 3]
            result: dict[str, Any] = {"run": n + 1, "order": order}
            for name in order:
                wait_for_quiet(args.quiet_timeout)
                if name == "job":
                    measured = run_job(settings, options.topic, args.ticks, args.max_offsets)
                else:
                    sink = "noop" if name == "noop" else "delta"
                    measured = run_reference(
                        settings, sink, options.topic, args.ticks, args.max_offsets
                    )
                result[name] = measured
                flag = " (disturbed)" if measured["others"]["disturbed"] else ""
                print(
                    f"run {n + 1} {name}: {measured['rows_per_s']:,.0f} rows/s over "
                    f"{measured['query_s']:.1f} s ({measured['wall_s']:.1f} s wall){flag}"
                )
            result["ratio"] = result["job"]["rows_per_s"] / result["noop"]["rows_per_s"]
            result["ratio_plain"] = result["job"]["rows_per_s"] / result["plain"]["rows_per_s"]
            runs.append(result)

    print_table(
        f"ingest: {args.ticks:,} ticks, stream job -> raw_ticks vs Kafka + from_json -> noop "
        f"and -> plain Delta append (maxOffsetsPerTrigger {args.max_offsets:,})",
        [
            "run",
            "job rows/s",
            "noop rows/s",
            "plain rows/s",
            "job/noop",
            "job/plain",
            "query s job / noop / plain",
        ],
        [
            (
                r["run"],
                f"{r['job']['rows_per_s']:,.0f}",
                f"{r['noop']['rows_per_s']:,.0f}",
                f"{r['plain']['rows_per_s']:,.0f}",
                f"{r['ratio']:.3f}",
                f"{r['ratio_plain']:.3f}",
                " / ".join(f"{r[c]['query_s']:.1f}" for c in cases),
            )
            for r in runs
        ],
    )
    write_result(
        "ingest",
        {
            "command": " ".join(["python -m bench.bench_ingest", *(argv or sys.argv[1:])]),
            "ticks": args.ticks,
            "days": args.days,
            "max_offsets_per_trigger": args.max_offsets,
            "spark_master": settings.spark.master,
            "produce_ticks_per_s": summary.ticks_per_s,
            "runs": runs,
            "median_ratio": median([r["ratio"] for r in runs]),
            "median_ratio_plain": median([r["ratio_plain"] for r in runs]),
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
