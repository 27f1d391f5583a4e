"""raw_ticks -> quarantine: move the rows whose event time is implausible, idempotently.

    python spark_jobs/repair_event_times.py [--dry-run]
    spark-submit spark_jobs/repair_event_times.py ...

Before the contract checked event times, a tick stamped 1e20, 0 or in epoch milliseconds landed in
raw_ticks under a partition such as `trade_date=+294247-01-10`, which DuckDB and delta-rs refuse:
they cannot read any day of the table, only Spark can. This job uses Spark to move such rows to
quarantine with the reason `implausible_event_time`, in three steps:

1. find the raw rows whose `timestamp` breaks today's bounds (MARKET_EARLIEST_EVENT_DATE,
   MARKET_MAX_EVENT_AGE_DAYS, MARKET_MAX_EVENT_LEAD_MINUTES), each judged against its own Kafka
   timestamp and ingestion time, so a rerun finds exactly the rows the first run found;
2. MERGE them into quarantine, inserting only the Kafka offsets quarantine does not hold yet;
3. DELETE those offsets from raw_ticks, on their own partitions only;
4. write a Delta checkpoint of raw_ticks, so readers no longer replay the commits that added them.

Steps 2 and 3 are one Delta commit each. A crash between them leaves the rows in both tables; the
rerun's step 2 inserts nothing and its step 3 deletes them, so every offset ends up in exactly one
table. A run that finds nothing commits nothing. The stream may keep running meanwhile: a commit
that collides with one of its appends is retried.

raw_ticks does not keep the message's bytes or key: a moved row's `payload` is the JSON of its
stored fields, its `kafka_key` null, and `detail` says it was moved.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TypeVar

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from stock_lakehouse.clients.s3 import s3_answers
from stock_lakehouse.clients.spark_session import get_spark_session
from stock_lakehouse.settings import Settings, get_settings
from stock_lakehouse.tables import QUARANTINE, RAW_TICKS, table_uri
from stock_lakehouse.tick_parsing import (
    LINEAGE_COLUMNS,
    implausible_event_time,
    plausible_date,
)
from stock_lakehouse.ticks import TICK_FIELDS, EventTimeBounds, QuarantineReason

log = logging.getLogger("repair_event_times")

OFFSET_KEY = ["kafka_topic", "kafka_partition", "kafka_offset"]
MOVED_NOTE = "moved from raw_ticks by repair_event_times; payload rebuilt from the stored fields"
T = TypeVar("T")


class CannotRun(Exception):
    """A precondition failed (S3 store unreachable, no raw_ticks yet): one line says which."""


@dataclass(frozen=True)
class RepairResult:
    found: int  # implausible rows in raw_ticks (distinct offsets)
    inserted: int  # of those, new in quarantine (the rest were there from a crashed run)
    deleted: int  # rows deleted from raw_ticks
    raw_partitions: list[str]  # the trade_date partitions they were in
    seconds: float


def implausible_rows(raw: DataFrame, bounds: EventTimeBounds) -> DataFrame:
    """raw_ticks rows -> the quarantine rows they become, one per Kafka offset (pure)."""
    why = implausible_event_time(
        F.col("timestamp"), F.col("kafka_timestamp"), bounds, now=F.col("ingested_at")
    )
    payload = F.to_json(F.struct(*TICK_FIELDS))
    flagged = raw.select("*", why.alias("_why")).where(F.col("_why").isNotNull())
    return flagged.dropDuplicates(OFFSET_KEY).select(
        F.lit(str(QuarantineReason.IMPLAUSIBLE_EVENT_TIME)).alias("reason"),
        F.format_string(
            "timestamp %s is %s (%s)", F.col("timestamp").cast("string"), "_why", F.lit(MOVED_NOTE)
        ).alias("detail"),
        F.encode(payload, "UTF-8").alias("payload"),
        payload.alias("payload_text"),
        F.lit(None).cast("string").alias("kafka_key"),
        # Filed as the stream files a quarantined tick: under the day Kafka got it.
        F.coalesce(
            plausible_date(F.col("kafka_timestamp"), bounds), F.to_date("ingested_at")
        ).alias("trade_date"),
        *[c for c in LINEAGE_COLUMNS if c != "trade_date"],
        # The raw partition the row is deleted from (a string: Python dates stop at year 9999).
        F.col("trade_date").cast("string").alias("_raw_trade_date"),
    )


def _retried(step: Callable[[], T], what: str, attempts: int = 5) -> T:
    """Run a Delta commit again when a concurrent commit (the stream's) collided with it."""
    from delta.exceptions import DeltaConcurrentModificationException

    for attempt in range(1, attempts + 1):
        try:
            return step()
        except DeltaConcurrentModificationException as exc:
            if attempt == attempts:
                raise
            log.warning(
                "%s collided with a concurrent commit, retrying (%s)", what, type(exc).__name__
            )
            time.sleep(attempt)
    raise AssertionError("unreachable")


def _date_literals(days: list[str]) -> str:
    return ", ".join(f"DATE'{day}'" for day in days)


def _offsets_match(target: str, source: str) -> str:
    return " AND ".join(f"{target}.{c} = {source}.{c}" for c in OFFSET_KEY)


def insert_into_quarantine(spark: SparkSession, moved: DataFrame, quarantine_uri: str) -> int:
    """Step 2: one MERGE that inserts the offsets quarantine lacks; returns the rows inserted."""
    from delta.tables import DeltaTable

    rows = moved.drop("_raw_trade_date")
    if not DeltaTable.isDeltaTable(spark, quarantine_uri):
        rows.write.format("delta").partitionBy("trade_date").save(quarantine_uri)
        return rows.count()
    days = [r[0] for r in rows.select(F.col("trade_date").cast("string")).distinct().collect()]
    target = DeltaTable.forPath(spark, quarantine_uri)
    before = _version(target)
    # The partition predicate keeps the merge, and its conflict check, to those days.
    target.alias("q").merge(
        rows.alias("m"), f"q.trade_date IN ({_date_literals(days)}) AND {_offsets_match('q', 'm')}"
    ).whenNotMatchedInsertAll().execute()
    return _metric_since(target, before, "numTargetRowsInserted")


def delete_from_raw(spark: SparkSession, moved: DataFrame, raw_uri: str) -> int:
    """Step 3: one MERGE that deletes the moved offsets from their raw partitions."""
    from delta.tables import DeltaTable

    days = [r[0] for r in moved.select("_raw_trade_date").distinct().collect()]
    target = DeltaTable.forPath(spark, raw_uri)
    before = _version(target)
    target.alias("r").merge(
        moved.select(*OFFSET_KEY).alias("m"),
        f"r.trade_date IN ({_date_literals(days)}) AND {_offsets_match('r', 'm')}",
    ).whenMatchedDelete().execute()
    return _metric_since(target, before, "numTargetRowsDeleted")


def write_checkpoint(spark: SparkSession, uri: str) -> None:
    """Step 4: a Delta checkpoint, so readers stop replaying the commits that added the bad rows.

    DuckDB and delta-rs parse the partition values of every file a replayed commit added, the
    removed ones too: after the delete they still fail on `+294247-01-10` until a checkpoint
    holds the table's state. delta-spark has no public call for this; DeltaLog.checkpoint is the
    one its own writers use (every 10 commits). Done on every run, so a crash right after the
    delete is healed by the rerun.
    """
    spark._jvm.org.apache.spark.sql.delta.DeltaLog.forTable(spark._jsparkSession, uri).checkpoint()


def repair(
    spark: SparkSession,
    raw_uri: str,
    quarantine_uri: str,
    bounds: EventTimeBounds,
    dry_run: bool = False,
) -> RepairResult:
    """The three steps of the module docstring."""
    started = time.monotonic()
    moved = implausible_rows(spark.read.format("delta").load(raw_uri), bounds).cache()
    try:
        found = moved.count()
        partitions = sorted(r[0] for r in moved.select("_raw_trade_date").distinct().collect())
        inserted = deleted = 0
        if found and not dry_run:
            inserted = _retried(
                lambda: insert_into_quarantine(spark, moved, quarantine_uri), "quarantine merge"
            )
            deleted = _retried(lambda: delete_from_raw(spark, moved, raw_uri), "raw_ticks delete")
        if not dry_run:
            write_checkpoint(spark, raw_uri)
        return RepairResult(
            found, inserted, deleted, partitions, round(time.monotonic() - started, 2)
        )
    finally:
        moved.unpersist()


def _version(table) -> int:
    return int(table.history(1).first()["version"])


def _metric_since(table, before: int, name: str) -> int:
    """A metric of the MERGE just run; 0 when it committed nothing (Delta skips empty merges)."""
    last = table.history(1).first()
    if int(last["version"]) == before:
        return 0
    return int((last["operationMetrics"] or {}).get(name, 0))


def run(settings: Settings, dry_run: bool = False) -> RepairResult:
    from delta.tables import DeltaTable

    if not s3_answers(settings.s3):  # S3A would retry for minutes before failing
        raise CannotRun(
            f"S3 store is not reachable at {settings.s3.endpoint_url} - run "
            "'stock-lakehouse services up' or set S3_ENDPOINT_URL"
        )
    spark = get_spark_session("repair_event_times", settings)
    raw_uri = table_uri(settings.s3, RAW_TICKS, scheme="s3a")
    if not DeltaTable.isDeltaTable(spark, raw_uri):
        raise CannotRun(f"raw_ticks has no Delta table at {raw_uri} - nothing to repair")
    return repair(
        spark,
        raw_uri,
        table_uri(settings.s3, QUARANTINE, scheme="s3a"),
        settings.market.event_time_bounds,
        dry_run=dry_run,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--dry-run", action="store_true", help="report what would move, commit nothing"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("py4j").setLevel(logging.WARNING)
    try:
        result = run(get_settings(), dry_run=args.dry_run)
    except CannotRun as exc:
        print(f"repair_event_times: {exc}", file=sys.stderr)
        return 2
    verb = "would move" if args.dry_run else "moved"
    print(
        f"repair_event_times: {verb} {result.found} rows with implausible event times "
        f"({result.inserted} new in quarantine, {result.deleted} deleted from raw_ticks; "
        f"raw partitions: {', '.join(result.raw_partitions) or 'none'}) in {result.seconds:.1f}s"
    )
    log.info("result: %s", asdict(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
