"""The stream's parse and validation alone, beside one typed `from_json`, on the same rows.

    python -m bench.bench_parse [--rows 200000] [--runs 5]

No services: the simulator's messages (history mode) in a cached DataFrame shaped like Spark's
Kafka source, in one local Spark session with the stream job's own settings (STREAM_SPARK_CONF).
Each run writes to the `noop` sink:

- reference: `from_json` with the contract's typed schema, every field (bench.noop_ingest's parse);
- job: `parse_ticks` then `valid_ticks` behind the same `observe` the stream's batch writer uses,
  i.e. exactly the work of a micro-batch before its Delta append;
- strict: the same, every message forced through the strict VARIANT parse (a space before each
  message: still valid JSON, no longer the producer's compact form), the cost without the fast path;
- quarantine: the stream's second pass over a batch that has bad rows (one message in 1,000
  replaced by garbage), `quarantined` behind an `observe` as the batch writer runs it, and
  quarantine_pushed: the same without it, where Spark pushes the filter into the parse.

Median of `--runs` after one warm-up run each; a run during which other processes used more than
~10% of the machine is flagged as disturbed. bench_ingest measures the whole job; this isolates the
parse, where a micro-batch spent most of its time before the fast path.
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, date, datetime
from typing import Any

from bench.common import (
    OthersWatch,
    bench_settings,
    median,
    print_table,
    wait_for_quiet,
    write_result,
)
from spark_jobs.stream_ticks import STREAM_SPARK_CONF
from stock_lakehouse.clients.spark_session import get_spark_session
from stock_lakehouse.simulator.generator import history_blocks
from stock_lakehouse.tick_parsing import parse_ticks, quarantined, valid_ticks
from stock_lakehouse.ticks import DEFAULT_UNIVERSE, TICK_FIELDS

KAFKA_SCHEMA = (
    "key binary, value binary, topic string, partition int, offset long, timestamp timestamp, "
    "timestampType int"
)


def messages(rows: int, seed: int) -> list[tuple[bytes, bytes]]:
    """(key, value) of `rows` simulator ticks over two trading days before 2026-12-01."""
    found: list[tuple[bytes, bytes]] = []
    for block in history_blocks(DEFAULT_UNIVERSE, 2, rows // 2 + 1, seed, date(2026, 12, 1)):
        found.extend(zip(block.keys(), block.encode(), strict=True))
        if len(found) >= rows:
            break
    return found[:rows]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000, help="messages per run")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--quiet-timeout", type=float, default=60)
    args = parser.parse_args(argv)

    from pyspark.sql import Observation
    from pyspark.sql import functions as F

    settings = bench_settings()
    spark = get_spark_session("bench_parse", settings, **STREAM_SPARK_CONF)
    got_at = datetime(2026, 12, 1, 15, tzinfo=UTC)  # Kafka's time: after every event time
    rows = [
        (key, value, "stock-ticks", n % 3, n, got_at, 0)
        for n, (key, value) in enumerate(messages(args.rows, args.seed))
    ]
    source = spark.createDataFrame(rows, KAFKA_SCHEMA).repartition(3).cache()
    spaced = source.withColumn("value", F.concat(F.lit(b" "), "value")).cache()
    garbage = F.when(F.col("offset") % 1000 == 0, F.lit(b"{garbage")).otherwise(F.col("value"))
    with_bad = source.withColumn("value", garbage).cache()
    assert source.count() == spaced.count() == with_bad.count() == args.rows
    typed = ", ".join(f"{n} {'bigint' if t == 'long' else t}" for n, t in TICK_FIELDS.items())
    tickers = settings.market.ticker_list

    def reference():
        parsed = source.select(F.from_json(F.col("value").cast("string"), typed).alias("t"))
        return parsed.select("t.*")

    def job(frame):
        def build():
            counts = Observation(f"bench_parse-{time.monotonic_ns()}")
            parsed = parse_ticks(frame, tickers)
            observed = parsed.observe(counts, F.count_if(F.col("reason").isNull()).alias("raw"))
            return valid_ticks(observed), counts

        return build

    def quarantine(guarded: bool):
        def build():
            parsed = parse_ticks(with_bad, tickers)
            if guarded:
                seen = Observation(f"bench_parse-{time.monotonic_ns()}")
                parsed = parsed.observe(seen, F.count(F.lit(1)).alias("rows"))
            return quarantined(parsed), None

        return build

    cases = {
        "reference": lambda: (reference(), None),
        "job": job(source),
        "strict": job(spaced),
        "quarantine": quarantine(guarded=True),
        "quarantine_pushed": quarantine(guarded=False),
    }
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in cases}
    for run in range(args.runs + 1):  # run 0 warms up each plan
        for name, build in cases.items():
            wait_for_quiet(args.quiet_timeout)
            frame, counts = build()
            watch = OthersWatch()
            started = time.monotonic()
            frame.write.format("noop").mode("overwrite").save()
            seconds = time.monotonic() - started
            others = watch.result()
            valid = args.rows if counts is None else counts.get["raw"]
            if valid != args.rows:
                raise SystemExit(f"{name}: {valid} valid of {args.rows}: not comparable")
            if run:
                results[name].append({"seconds": round(seconds, 3), "others": others})
    spark.stop()

    def med(name: str) -> float:
        return median([r["seconds"] for r in results[name] if not r["others"]["disturbed"]])

    summary = {
        name: {"median_s": round(med(name), 3), "rows_per_s": round(args.rows / med(name))}
        for name in cases
    }
    ratio = {
        "job_vs_reference": round(med("reference") / med("job"), 3),
        "strict_vs_reference": round(med("reference") / med("strict"), 3),
        "quarantine_pushed_over_guarded": round(med("quarantine_pushed") / med("quarantine"), 3),
    }
    print_table(
        f"parse of {args.rows:,} messages, median of {args.runs} (noop sink)",
        ["case", "median s", "rows/s", "ratio vs reference"],
        [
            [n, f"{s['median_s']:.2f}", f"{s['rows_per_s']:,}", f"{med('reference') / med(n):.2f}"]
            for n, s in summary.items()
        ],
    )
    write_result(
        "parse",
        {"rows": args.rows, "runs": results, "summary": summary, "ratio": ratio},
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
