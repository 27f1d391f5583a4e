"""raw_ticks -> compacted_ticks: one deduplicated, sorted copy of each day, in few large files.

    spark-submit spark_jobs/compact_ticks.py --start 2026-11-20 --end 2026-11-23
    python spark_jobs/compact_ticks.py --start 2026-11-20 --end 2026-11-21   (pyspark wheel)

The stream appends a few small files per micro-batch (thousands per day). For each day of the
half-open range [start, end) this job reads that day of raw_ticks at one pinned Delta version,
keeps one row per Kafka offset, audits those rows (stock_lakehouse/compaction/audit.py: a day
that fails keeps its previous version), sorts by ticker and event time, and replaces the day in
compacted_ticks with a single Delta commit (`replaceWhere`): a reader sees the old day or the new
day, never half of one or both. Running it again gives the same rows; a run killed before its
commit leaves only unreferenced files, and the next run replaces the day as usual.

All days of a range run in one Spark application (a Dagster backfill is one run, one JVM).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from datetime import date

from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from stock_lakehouse.clients.delta_log import DayStats, offsets_cannot_repeat, table_stats
from stock_lakehouse.clients.s3 import s3_answers
from stock_lakehouse.clients.spark_session import get_spark_session
from stock_lakehouse.compaction.audit import AuditRules, DayAudit
from stock_lakehouse.compaction.job import job_main
from stock_lakehouse.compaction.plan import (
    FIRST_COPY_ORDER,
    OFFSET_KEY,
    SORT_KEY,
    CannotRun,
    DayResult,
    days_in,
    output_file_count,
)
from stock_lakehouse.market_calendar import Session
from stock_lakehouse.settings import S3Settings, Settings
from stock_lakehouse.tables import COMPACTED_TICKS, RAW_TICKS, table_uri


def sorted_into_files(ticks: DataFrame, files: int, *, dedupe: bool) -> DataFrame:
    """`files` range partitions by ticker and time, each sorted: one output file per partition.

    Range partitioning keeps each ticker's ticks in one or two files, so a reader of one symbol
    skips most of the day by the files' min/max statistics. With `dedupe`, one row per Kafka
    offset (the first ingested copy) is kept in the same pass: both copies of an offset are the
    same message, so they share ticker and event time and meet in one range partition, and the
    window's sort is the output's sort (one shuffle and one sort instead of two of each).
    """
    # trade_date leads the sort (one value per day, so the order is the same): Delta's writer
    # needs rows ordered by the partition column, and without it adds a sort by trade_date alone,
    # which, once it spills, merges the spilled runs of that one key in any order.
    ranged = ticks.repartitionByRange(files, "ticker", "event_time")
    if not dedupe:
        return ranged.sortWithinPartitions("trade_date", *SORT_KEY)
    same_offset = ["trade_date", *SORT_KEY, *(c for c in OFFSET_KEY if c not in SORT_KEY)]
    first = Window.partitionBy(*same_offset).orderBy(*FIRST_COPY_ORDER)
    return ranged.withColumn("_copy", F.row_number().over(first)).where("_copy = 1").drop("_copy")


def audit_day(
    raw_day: DataFrame, distinct_offsets: int, *, dedupe: bool, session: Session | None
) -> DayAudit:
    """The audit's counts over the rows the day would publish (one per offset): one pass.

    Both copies of a replayed offset are one message with one tick_id, so the day's distinct
    tick_ids against its distinct offsets count the ticks that arrived twice."""
    outside = (
        ~F.col("event_time").between(F.lit(session.open), F.lit(session.close))
        if session is not None
        else F.lit(True)
    )
    if dedupe:
        outside_rows = F.count_distinct(F.when(outside, F.struct(*OFFSET_KEY)))
    else:
        outside_rows = F.sum(F.when(outside, 1).otherwise(0))
    found = raw_day.agg(
        F.count_distinct("tick_id").alias("ticks"), F.coalesce(outside_rows, F.lit(0))
    ).first()
    return DayAudit(distinct_offsets - int(found[0]), int(found[1]))


def compact_day(
    spark: SparkSession,
    s3: S3Settings,
    day: date,
    target_file_bytes: int,
    rules: AuditRules,
) -> DayResult:
    """Replace one day of compacted_ticks from raw_ticks if it passes the audit; returns what it
    read, found and wrote."""

    started = time.monotonic()
    raw_uri = table_uri(s3, RAW_TICKS, scheme="s3a")
    compacted_uri = table_uri(s3, COMPACTED_TICKS, scheme="s3a")
    # Rows, files and bytes of the day from the Delta log alone: a day of the live stream has
    # thousands of files, and asking S3 for each one's size took minutes.
    raw_stats = table_stats(table_uri(s3, RAW_TICKS), s3)
    raw_version = raw_stats.version
    logged = raw_stats.days.get(day.isoformat(), DayStats(0, 0, 0))
    raw_day = (
        spark.read.format("delta")
        .option("versionAsOf", raw_version)
        .load(raw_uri)
        .where(F.col("trade_date") == F.lit(day))
    )
    # The stream writes each offset once: when the log proves it, no scan counts them.
    if offsets_cannot_repeat(table_uri(s3, RAW_TICKS), s3, day.isoformat(), raw_version):
        distinct_offsets = logged.rows
    else:  # reads only the three offset columns
        distinct_offsets = raw_day.select(*OFFSET_KEY).distinct().count()
    dedupe = distinct_offsets != logged.rows
    audit = audit_day(raw_day, distinct_offsets, dedupe=dedupe, session=rules.session(day))
    refused = rules.refusal(day, audit)
    if not refused:
        files = output_file_count(logged.bytes, target_file_bytes)
        (
            sorted_into_files(raw_day, files, dedupe=dedupe)
            .write.format("delta")
            .mode("overwrite")
            .option("replaceWhere", f"trade_date = '{day.isoformat()}'")
            .partitionBy("trade_date")
            .save(compacted_uri)
        )
    # Read back from the committed table rather than trusting the writer's own counters (for a
    # refused day: the version readers still see).
    after = table_stats(table_uri(s3, COMPACTED_TICKS), s3)
    written = after.days.get(day.isoformat(), DayStats(0, 0, 0))
    return DayResult(
        trade_date=day.isoformat(),
        raw_version=raw_version,
        raw_rows=logged.rows,
        raw_files=logged.files,
        raw_bytes=logged.bytes,
        distinct_offsets=distinct_offsets,
        compacted_rows=written.rows,
        compacted_files=written.files,
        compacted_bytes=written.bytes,
        compacted_version=after.version,
        seconds=round(time.monotonic() - started, 2),
        duplicate_tick_ids=audit.duplicate_tick_ids,
        outside_session=audit.outside_session,
        refused=refused,
    )


def run(
    settings: Settings,
    start: date,
    end: date,
    target_file_mb: float | None = None,
    on_day: Callable[[DayResult], None] | None = None,
) -> list[DayResult]:
    from delta.tables import DeltaTable

    if not s3_answers(settings.s3):  # S3A would retry for minutes before failing
        raise CannotRun(
            f"S3 store is not reachable at {settings.s3.endpoint_url} - run "
            "'stock-lakehouse services up' or set S3_ENDPOINT_URL"
        )
    spark = get_spark_session("compact_ticks", settings)
    raw_uri = table_uri(settings.s3, RAW_TICKS, scheme="s3a")
    if not DeltaTable.isDeltaTable(spark, raw_uri):
        raise CannotRun(f"raw_ticks has no Delta table at {raw_uri} - run the stream first")
    target = int((target_file_mb or settings.compaction.target_file_mb) * 1024 * 1024)
    rules = AuditRules.from_settings(settings)
    results = []
    for day in days_in(start, end):
        result = compact_day(spark, settings.s3, day, target, rules)
        if on_day is not None:
            on_day(result)
        results.append(result)
    return results


def main(argv: list[str] | None = None) -> int:
    return job_main(argv, "spark", run, __doc__.splitlines()[0])


if __name__ == "__main__":
    sys.exit(main())
