"""A raw_ticks table with the history of a stream that has run for days: thousands of commits.

The live stream commits once per trigger (~17,000 commits a day at 5 s), and Delta's per-commit
work (snapshot update, a checkpoint every 10th commit over every file added so far) can grow with
that history. bench_freshness --history-commits N starts its stream on such a table. Spark writes
the first appends (bench/batch_data.py: the table as the stream creates it, with Spark's
protocol and schema); delta-rs appends the rest, a few rows and one file per commit, with a
checkpoint every 10th commit as Spark's writer would. A delta-rs append took ~0.1 s on a short
history and ~0.6 s past 4,000 commits (5,000 commits: 31 min on this machine, 2026-12-06).
"""

from __future__ import annotations

import logging
import time
from datetime import date, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
from deltalake import DeltaTable, write_deltalake

from bench.batch_data import build_raw_day
from stock_lakehouse.clients.s3 import deltalake_storage_options
from stock_lakehouse.settings import S3Settings
from stock_lakehouse.tables import RAW_TICKS, table_uri

log = logging.getLogger(__name__)
SPARK_APPENDS = 10
CHECKPOINT_EVERY = 10  # Delta's default checkpointInterval, which the stream's tables keep


def build_long_history(s3: S3Settings, folder: Path, commits: int, day: date) -> dict[str, float]:
    """raw_ticks under s3.prefix with `commits` commits of the days before `day`."""
    started = time.monotonic()
    spark_appends = min(commits, SPARK_APPENDS)
    # Days before `day`, so every row was ingested before the stream under test starts.
    build_raw_day(
        s3.prefix,
        folder,
        day=day - timedelta(days=4),
        ticks=3 * 50 * spark_appends,
        batches=spark_appends,
    )
    uri, options = table_uri(s3, RAW_TICKS), deltalake_storage_options(s3)
    table = DeltaTable(uri, storage_options=options)
    sample = table.to_pyarrow_table().slice(0, 50)
    remaining = commits - spark_appends
    for n in range(remaining):
        # Each commit a few rows of an earlier day, with offsets of their own.
        rows = sample.set_column(
            sample.schema.get_field_index("kafka_offset"),
            "kafka_offset",
            pc.add(sample["kafka_offset"], pa.scalar(1_000_000 * (n + 1), pa.int64())),
        ).set_column(
            sample.schema.get_field_index("trade_date"),
            "trade_date",
            pa.array([day - timedelta(days=1 + n % 3)] * len(sample), pa.date32()),
        )
        write_deltalake(table, rows, mode="append", partition_by=["trade_date"])
        if (spark_appends + n + 1) % CHECKPOINT_EVERY == 0:
            table.update_incremental()
            table.create_checkpoint()
        if (n + 1) % 500 == 0:
            log.info("commit %d of %d (%.0f s)", spark_appends + n + 1, commits,
                     time.monotonic() - started)  # fmt: skip
    table.update_incremental()
    version = table.version()
    if version != commits - 1:
        raise RuntimeError(f"raw_ticks is at version {version}, expected {commits - 1}")
    return {"commits": commits, "version": version, "seconds": time.monotonic() - started}
