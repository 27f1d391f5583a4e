"""Where one micro-batch of the stream job spends its time, step by step (not a benchmark).

    python -m bench.ingest_breakdown [--rows 200000 10] [--repeat 3]

bench_ingest and bench_freshness measure the job from outside; this runs the job's own batch writer
(DeltaBatchWriter, as foreachBatch calls it) on fixed Kafka offset ranges in one Spark session and
prints the step times it reports, beside the `noop` reference on the same rows. A tiny batch shows
the fixed cost per micro-batch.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from bench.common import (
    bench_services,
    history_options,
    median,
    partition_ends,
    print_table,
    unique,
    write_result,
)
from stock_lakehouse.settings import Settings
from stock_lakehouse.simulator.run import run_simulation
from stock_lakehouse.tables import QUARANTINE, RAW_TICKS, table_uri


def offsets(topic: str, per_partition: list[int]) -> str:
    return json.dumps({topic: {str(p): o for p, o in enumerate(per_partition)}})


def time_batch(
    spark, settings: Settings, topic: str, start: list[int], end: list[int], writer, batch_id: int
):
    """One batch through the job's own DeltaBatchWriter, with the step times it reports; then
    the noop reference on the same offsets."""
    from pyspark.sql import functions as F

    from spark_jobs.stream_ticks import BatchResult
    from stock_lakehouse.ticks import TICK_FIELDS

    batch = (
        spark.read.format("kafka")
        .option("kafka.bootstrap.servers", settings.kafka.bootstrap_servers)
        .option("subscribe", topic)
        .option("startingOffsets", offsets(topic, start))
        .option("endingOffsets", offsets(topic, end))
        .load()
    )
    results: list[BatchResult] = []
    writer.on_batch = results.append
    writer(batch, batch_id)
    [result] = results
    steps = {
        "raw append (read, parse, validate)": result.raw_append_seconds,
        "counts + quarantine append": result.after_raw_seconds,
        "job batch total": result.seconds,
    }
    # The contract's fields with their declared types, as a DDL schema: the lenient reference parse.
    typed = ", ".join(f"{n} {'bigint' if t == 'long' else t}" for n, t in TICK_FIELDS.items())
    began = time.monotonic()
    batch.select(F.from_json(F.col("value").cast("string"), typed).alias("t")).select(
        "t.*"
    ).write.format("noop").mode("overwrite").save()
    steps["noop reference"] = time.monotonic() - began
    return result.raw_rows + result.quarantined_rows, steps


def stop_spark(spark) -> None:
    """Stop the session and its driver JVM by PID (a child of this process), as conftest does."""
    from pyspark import SparkContext

    gateway = SparkContext._gateway
    spark.stop()
    jvm = getattr(gateway, "proc", None)
    if gateway is not None:
        gateway.shutdown()
    if jvm is not None:
        jvm.terminate()
        jvm.wait(timeout=30)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[200_000, 10], help="batch sizes")
    parser.add_argument("--repeat", type=int, default=3, help="batches of each size")
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args(argv)
    total = sum(args.rows) * (args.repeat + 1)  # +1: a warm-up batch of each size
    total += -total % 5 + 5  # a multiple of the 5 days, with room for rounding
    measured: list[dict[str, Any]] = []
    with bench_services() as settings:
        from stock_lakehouse.clients.spark_session import get_spark_session

        options = history_options(settings, unique("bench-breakdown"), total, 5, args.seed)
        run_simulation(settings, options, interactive=False)
        spark = get_spark_session("bench_ingest_breakdown", settings)
        prefix = unique("bench/breakdown")
        s3 = settings.s3.model_copy(update={"prefix": prefix})
        from spark_jobs.stream_ticks import DeltaBatchWriter

        # One writer, as in the job: its first batch (a warm-up) reads the tables' logs for a
        # replay; the later ones, like every batch of a running stream after its first, do not.
        writer = DeltaBatchWriter(
            table_uri(s3, RAW_TICKS, scheme="s3a"),
            table_uri(s3, QUARANTINE, scheme="s3a"),
            settings.market.ticker_list,
            s3,
            settings.market.event_time_bounds,
            batch_planned_at=lambda batch_id: time.time(),
        )
        writer.set_query_id(unique("breakdown"))
        batch_id = 0
        # Messages are keyed by ticker, so partitions fill unevenly: each batch takes from each
        # partition in proportion to its size, as maxOffsetsPerTrigger does.
        ends = partition_ends(settings, options.topic)
        position = [0] * len(ends)
        try:
            for rows in args.rows:
                for n in range(args.repeat + 1):
                    end = [
                        min(e, a + round(rows * e / total))
                        for a, e in zip(position, ends, strict=True)
                    ]
                    got, steps = time_batch(
                        spark, settings, options.topic, position, end, writer, batch_id
                    )
                    batch_id += 1
                    position = end
                    label = "warm-up" if n == 0 else f"#{n}"
                    print(
                        f"{rows:,} rows {label}: "
                        + ", ".join(f"{k} {v:.2f}s" for k, v in steps.items())
                    )
                    if n:
                        measured.append({"size": rows, "rows": got, "steps": steps})
        finally:
            stop_spark(spark)

    names = list(measured[0]["steps"])
    print_table(
        "one micro-batch, step by step (median seconds over the repeats, warm JVM)",
        ["step", *(f"{r:,} rows" for r in args.rows)],
        [
            (
                name,
                *(
                    f"{median([m['steps'][name] for m in measured if m['size'] == r]):.2f}"
                    for r in args.rows
                ),
            )
            for name in names
        ],
    )
    write_result(
        "ingest-breakdown",
        {
            "command": " ".join(["python -m bench.ingest_breakdown", *(argv or sys.argv[1:])]),
            "batches": measured,
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
