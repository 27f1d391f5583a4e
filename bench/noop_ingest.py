"""The ingest references: Spark's Kafka read + `from_json`, into `noop` or plainly into Delta.

    python -m bench.noop_ingest --topic T --checkpoint DIR --out result.json
        [--sink delta --table URI]

The same Kafka source options as the stream job (kafka_stream: maxOffsetsPerTrigger, ...) and its
typed schema, but one lenient parse and no validation. `--sink noop` (default) writes nothing: the
ceiling of this design on the machine. `--sink delta` is the plain job the stream must at least
match: the same raw_ticks columns (typed fields, event time, lineage), appended by Spark's own
Delta streaming sink partitioned by trade_date, with the stream job's Spark settings, but no
quarantine, no rules and no second table. bench_ingest runs each as its own process, as it runs the
job, so all pay the same JVM start.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from datetime import datetime
from pathlib import Path

from pyspark.sql import functions as F

from spark_jobs.stream_ticks import STREAM_SPARK_CONF, kafka_stream
from stock_lakehouse.clients.spark_session import get_spark_session
from stock_lakehouse.settings import get_settings
from stock_lakehouse.tick_parsing import RAW_COLUMNS
from stock_lakehouse.ticks import TICK_FIELDS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--topic", required=True)
    parser.add_argument("--checkpoint", required=True, help="a fresh folder")
    parser.add_argument("--out", required=True, help="where to write the batches as JSON")
    parser.add_argument("--sink", choices=["noop", "delta"], default="noop")
    parser.add_argument("--table", help="s3a:// URI of a new Delta table (with --sink delta)")
    args = parser.parse_args(argv)
    if args.sink == "delta" and not args.table:
        parser.error("--sink delta needs --table")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("py4j").setLevel(logging.WARNING)
    settings = get_settings()
    if args.sink == "noop":
        spark = get_spark_session("bench_noop_ingest", settings)
    else:
        spark = get_spark_session("bench_plain_ingest", settings, **STREAM_SPARK_CONF)
    # The contract's fields with their declared types, as a DDL schema: the lenient reference parse.
    typed = ", ".join(f"{n} {'bigint' if t == 'long' else t}" for n, t in TICK_FIELDS.items())
    kafka = kafka_stream(spark, settings, args.topic, available_now=True)
    ticks = kafka.select(F.from_json(F.col("value").cast("string"), typed).alias("t"), "*")
    if args.sink == "noop":
        rows = ticks.select("t.*")  # every field: nothing for the optimizer to prune
        writer = rows.writeStream.format("noop")
    else:
        event_time = F.timestamp_seconds("t.timestamp")
        rows = ticks.select(
            "t.*",
            event_time.alias("event_time"),
            F.to_date(event_time).alias("trade_date"),
            F.col("topic").alias("kafka_topic"),
            F.col("partition").alias("kafka_partition"),
            F.col("offset").alias("kafka_offset"),
            F.col("timestamp").alias("kafka_timestamp"),
            F.current_timestamp().alias("ingested_at"),
        ).select(*RAW_COLUMNS)
        writer = rows.writeStream.format("delta").partitionBy("trade_date")
        writer = writer.option("path", args.table)
    query = writer.option("checkpointLocation", args.checkpoint).trigger(availableNow=True).start()
    started = time.time()
    logging.info("%s ingest started: query %s, topic %s", args.sink, query.id, args.topic)
    query.awaitTermination()
    ended = time.time()
    batches = []
    for progress in query.recentProgress:
        begun = datetime.fromisoformat(progress.timestamp).timestamp()
        seconds = progress.durationMs.get("triggerExecution", 0) / 1000
        batches.append(
            {
                "batch_id": progress.batchId,
                "rows": progress.numInputRows,
                "seconds": seconds,
                "ended_at": begun + seconds,
            }
        )
        logging.info("batch %d: %d rows in %.1fs", progress.batchId, progress.numInputRows, seconds)
    Path(args.out).write_text(
        json.dumps({"started_at": started, "ended_at": ended, "batches": batches}, indent=2)
    )
    spark.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
