"""raw_ticks -> compacted_ticks: one deduplicated, sorted copy of each day, in few large files.

    spark-submit spark_jobs/compact_ticks.py --start 2026-11-20 --end 2026-11-23
    python spark_jobs/compact_ticks.py --start 2026-11-20 --end 2026-11-21   (pyspark wheel)

The stream appends a few small files per micro-batch (thousands per day). For each day of the
half-open range [start, end) this job reads that day of raw_ticks at one pinned Delta version,
keeps one row per Kafka offset, sorts by ticker and event time, and replaces the day in
compacted_ticks with a single Delta commit (`replaceWhere`): a reader sees the old day or the new
day, never half of one or both. Running it again gives the same rows; a run killed before its
commit leaves only unreferenced files, and the next run replaces the day as usual.

All days of a range run in one Spark application (a Dagster backfill is one run, one JVM).
"""

from __future__ import annotations

import argparse
import logging
import math
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import date, timedelta

from dagster_pipes import PipesEnvVarParamsLoader, open_dagster_pipes
from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from stock_lakehouse.delta_stats import DayStats, table_stats
from stock_lakehouse.s3 import s3_answers
from stock_lakehouse.settings import S3Settings, Settings, get_settings
from stock_lakehouse.spark_session import get_spark_session
from stock_lakehouse.tables import COMPACTED_ROWS_CHECK, COMPACTED_TICKS, RAW_TICKS, table_uri

log = logging.getLogger("compact_ticks")

# A Kafka message is identified by where it was stored; the stream writes it once, but a replay
# from a new checkpoint (or an old seed job) can write it again.
OFFSET_KEY = ["kafka_topic", "kafka_partition", "kafka_offset"]
SORT_KEY = ["ticker", "event_time", "kafka_partition", "kafka_offset"]


def drop_duplicate_offsets(ticks: DataFrame) -> DataFrame:
    """One row per Kafka offset: the first ingested copy, so every run keeps the same one."""
    first = Window.partitionBy(*OFFSET_KEY).orderBy("ingested_at", "tick_id")
    return (
        ticks.withColumn("_copy", F.row_number().over(first))
        .where(F.col("_copy") == 1)
        .drop("_copy")
    )


def sorted_into_files(ticks: DataFrame, files: int) -> DataFrame:
    """`files` range partitions by ticker and time, each sorted: one output file per partition.

    Range partitioning keeps each ticker's ticks in one or two files, so a reader of one symbol
    skips most of the day by the files' min/max statistics.
    """
    # trade_date leads the sort (one value per day, so the order is the same): Delta's writer
    # needs rows ordered by the partition column, and without it adds a sort by trade_date alone,
    # which, once it spills, merges the spilled runs of that one key in any order.
    return ticks.repartitionByRange(files, "ticker", "event_time").sortWithinPartitions(
        "trade_date", *SORT_KEY
    )


def output_file_count(input_bytes: int, target_file_bytes: int) -> int:
    """Files for a day: raw Parquet bytes over the target size, at least one.

    Raw bytes overestimate the output (many small files compress worse than few sorted ones), so
    compacted files come out at or below the target, never far above it.
    """
    return max(1, math.ceil(input_bytes / max(1, target_file_bytes)))


def days_in(start: date, end: date) -> list[date]:
    """Days of the half-open range [start, end)."""
    return [start + timedelta(days=i) for i in range((end - start).days)]


class CannotRun(Exception):
    """A precondition failed (S3 store unreachable, no raw_ticks yet): one line says which."""


@dataclass(frozen=True)
class DayResult:
    trade_date: str
    raw_version: int
    raw_rows: int
    raw_files: int
    raw_bytes: int
    distinct_offsets: int
    compacted_rows: int
    compacted_files: int
    compacted_bytes: int
    compacted_version: int
    seconds: float

    @property
    def duplicates_dropped(self) -> int:
        return self.raw_rows - self.distinct_offsets

    @property
    def check_passed(self) -> bool:
        return self.compacted_rows == self.distinct_offsets


def compact_day(
    spark: SparkSession, s3: S3Settings, day: date, target_file_bytes: int
) -> DayResult:
    """Replace one day of compacted_ticks from raw_ticks; returns what it read and wrote."""
    from delta.tables import DeltaTable

    started = time.monotonic()
    raw_uri = table_uri(s3, RAW_TICKS, scheme="s3a")
    compacted_uri = table_uri(s3, COMPACTED_TICKS, scheme="s3a")
    raw_version = int(DeltaTable.forPath(spark, raw_uri).history(1).first()["version"])
    # Rows, files and bytes of the day from the Delta log alone: a day of the live stream has
    # thousands of files, and asking S3 for each one's size took minutes.
    logged = table_stats(table_uri(s3, RAW_TICKS), s3, version=raw_version).days.get(
        day.isoformat(), DayStats(0, 0, 0)
    )
    raw_day = (
        spark.read.format("delta")
        .option("versionAsOf", raw_version)
        .load(raw_uri)
        .where(F.col("trade_date") == F.lit(day))
    )
    # Reads only the three offset columns.
    distinct_offsets = raw_day.select(*OFFSET_KEY).distinct().count()
    # The stream writes each offset once, so usually there is nothing to drop: skip that shuffle.
    ticks = raw_day if distinct_offsets == logged.rows else drop_duplicate_offsets(raw_day)
    (
        sorted_into_files(ticks, output_file_count(logged.bytes, target_file_bytes))
        .write.format("delta")
        .mode("overwrite")
        .option("replaceWhere", f"trade_date = '{day.isoformat()}'")
        .partitionBy("trade_date")
        .save(compacted_uri)
    )
    commit = DeltaTable.forPath(spark, compacted_uri).history(1).first()
    metrics = commit["operationMetrics"] or {}
    # Read back from the committed table rather than trusting the writer's own counters.
    compacted_rows = (
        spark.read.format("delta")
        .option("versionAsOf", commit["version"])
        .load(compacted_uri)
        .where(F.col("trade_date") == F.lit(day))
        .count()
    )
    return DayResult(
        trade_date=day.isoformat(),
        raw_version=raw_version,
        raw_rows=logged.rows,
        raw_files=logged.files,
        raw_bytes=logged.bytes,
        distinct_offsets=distinct_offsets,
        compacted_rows=compacted_rows,
        compacted_files=int(metrics.get("numFiles", 0)),
        compacted_bytes=int(metrics.get("numOutputBytes", 0)),
        compacted_version=int(commit["version"]),
        seconds=round(time.monotonic() - started, 2),
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
    results = []
    for day in days_in(start, end):
        result = compact_day(spark, settings.s3, day, target)
        (on_day or _log_day)(result)
        results.append(result)
    return results


def _log_day(result: DayResult) -> None:
    log.info(
        "%s: %d rows (%d duplicates dropped), %d -> %d files, %d -> %d bytes in %.1fs",
        result.trade_date,
        result.compacted_rows,
        result.duplicates_dropped,
        result.raw_files,
        result.compacted_files,
        result.raw_bytes,
        result.compacted_bytes,
        result.seconds,
    )


def materialization_metadata(results: list[DayResult], seconds: float) -> dict[str, object]:
    """What the Dagster asset shows: totals of the run, and one line per day."""
    days = "\n".join(
        f"| {r.trade_date} | {r.compacted_rows} | {r.duplicates_dropped} | "
        f"{r.raw_files} -> {r.compacted_files} | {r.raw_bytes} -> {r.compacted_bytes} |"
        for r in results
    )
    return {
        "rows": sum(r.compacted_rows for r in results),
        "duplicates_dropped": sum(r.duplicates_dropped for r in results),
        "input_files": sum(r.raw_files for r in results),
        "output_files": sum(r.compacted_files for r in results),
        "input_bytes": sum(r.raw_bytes for r in results),
        "output_bytes": sum(r.compacted_bytes for r in results),
        "duration_seconds": round(seconds, 2),
        "raw_version": max((r.raw_version for r in results), default=-1),
        "days": {
            "raw_value": "| day | rows | duplicates dropped | files | bytes |\n"
            "|---|---|---|---|---|\n" + days,
            "type": "md",
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--start", type=date.fromisoformat, required=True, help="first day")
    parser.add_argument(
        "--end", type=date.fromisoformat, help="day after the last (default: start + 1)"
    )
    parser.add_argument("--target-file-mb", type=float, help="default COMPACTION_TARGET_FILE_MB")
    args = parser.parse_args(argv)
    end = args.end or args.start + timedelta(days=1)
    if end <= args.start:
        parser.error(f"--end {end} must be after --start {args.start}")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("py4j").setLevel(logging.WARNING)
    settings = get_settings()
    started = time.monotonic()
    if not PipesEnvVarParamsLoader().is_dagster_pipes_process():
        try:
            results = run(settings, args.start, end, args.target_file_mb)
        except CannotRun as exc:
            print(f"compact_ticks: {exc}", file=sys.stderr)
            return 2
        return 0 if all(r.check_passed for r in results) else 1
    with open_dagster_pipes() as pipes:  # launched by Dagster: report into the run

        def report(result: DayResult) -> None:
            _log_day(result)
            pipes.log.info(f"compacted {result.trade_date}: {asdict(result)}")

        try:
            results = run(settings, args.start, end, args.target_file_mb, on_day=report)
        except CannotRun as exc:
            pipes.log.error(str(exc))
            print(f"compact_ticks: {exc}", file=sys.stderr)
            return 2
        pipes.report_asset_materialization(
            metadata=materialization_metadata(results, time.monotonic() - started)
        )
        failed = [r for r in results if not r.check_passed]
        pipes.report_asset_check(
            check_name=COMPACTED_ROWS_CHECK,
            passed=not failed,
            severity="ERROR",
            metadata={
                "days_checked": len(results),
                "mismatched_days": ", ".join(
                    f"{r.trade_date} ({r.compacted_rows} rows vs {r.distinct_offsets} offsets)"
                    for r in failed
                )
                or "none",
            },
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
