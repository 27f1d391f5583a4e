"""The ingest reference: Spark's Kafka read + `from_json` into the `noop` sink, nothing else.

    python -m bench.noop_ingest --topic T --checkpoint DIR --out result.json

The same Kafka source options as the stream job (kafka_stream: maxOffsetsPerTrigger, ...) and its
typed schema, but one parse, no validation, no Delta: the ceiling of this design on the machine.
bench_ingest runs it as its own process, as it runs the job, so both pay the same JVM start.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from datetime import datetime
from pathlib import Path

from pyspark.sql import functions as F

from spark_jobs.stream_ticks import kafka_stream
from stock_lakehouse.settings import get_settings
from stock_lakehouse.spark_session import get_spark_session
from stock_lakehouse.ticks import TICK_FIELDS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--topic", required=True)
    parser.add_argument("--checkpoint", required=True, help="a fresh folder")
    parser.add_argument("--out", required=True, help="where to write the batches as JSON")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("py4j").setLevel(logging.WARNING)
    settings = get_settings()
    spark = get_spark_session("bench_noop_ingest", settings)
    # The contract's fields with their declared types, as a DDL schema: the lenient reference parse.
    typed = ", ".join(f"{n} {'bigint' if t == 'long' else t}" for n, t in TICK_FIELDS.items())
    ticks = kafka_stream(spark, settings, args.topic).select(
        F.from_json(F.col("value").cast("string"), typed).alias("t")
    )
    query = (
        ticks.select("t.*")  # every field: nothing for the optimizer to prune
        .writeStream.format("noop")
        .option("checkpointLocation", args.checkpoint)
        .trigger(availableNow=True)
        .start()
    )
    started = time.time()
    logging.info("noop ingest started: query %s, topic %s", query.id, args.topic)
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
