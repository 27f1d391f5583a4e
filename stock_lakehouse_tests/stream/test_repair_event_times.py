"""The repair job moves implausible event times out of a raw_ticks table that readers refuse.

The table is made as the stream made it before the contract checked event times: ticks stamped
1e20, 0, -1 and in epoch milliseconds, written by Spark under the partitions their timestamps give
(`trade_date=+294247-01-10`, 1970, year ~58,000), beside valid ticks.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import duckdb
import pytest
from pyspark.sql import functions as F

from spark_jobs.repair_event_times import implausible_rows, insert_into_quarantine, repair
from stock_lakehouse.clients import duckdb_conn
from stock_lakehouse.settings import PROJECT_ROOT
from stock_lakehouse.tables import QUARANTINE, RAW_TICKS, table_uri
from stock_lakehouse.tick_parsing import QUARANTINE_COLUMNS, parse_ticks, quarantined, valid_ticks
from stock_lakehouse.ticks import DEFAULT_TICKERS, EventTimeBounds, QuarantineReason
from stock_lakehouse_tests.support.lake import assert_every_reader_reads_every_column
from stock_lakehouse_tests.support.ticks import EVENT, kafka_rows, tick

JOB = PROJECT_ROOT / "spark_jobs" / "repair_event_times.py"
HOSTILE_TIMES = {0: 1e20, 1: 0.0, 2: -1.0, 3: EVENT * 1e3}  # offset -> timestamp
VALID = 6
OFFSET_KEY = ["kafka_topic", "kafka_partition", "kafka_offset"]


def write_damaged_lake(spark, s3) -> None:
    """raw_ticks with hostile event times as the old stream wrote them; a quarantine table."""
    payloads = [
        json.dumps(tick(seq=i, tick_id=f"{i:032d}")).encode()
        for i in range(len(HOSTILE_TIMES) + VALID)
    ] + [b"garbage"]
    parsed = parse_ticks(kafka_rows(spark, payloads), list(DEFAULT_TICKERS))
    hostile = F.col("kafka_offset").isin(list(HOSTILE_TIMES))
    timestamp = F.coalesce(
        *[F.when(F.col("kafka_offset") == o, F.lit(ts)) for o, ts in HOSTILE_TIMES.items()],
        F.col("timestamp"),
    )
    old_stream = (
        valid_ticks(parsed)
        .withColumn("timestamp", timestamp)
        .withColumn("event_time", F.timestamp_seconds("timestamp"))
        .withColumn(
            "trade_date", F.when(hostile, F.to_date("event_time")).otherwise(F.col("trade_date"))
        )
    )
    for frame, table in ((old_stream, RAW_TICKS), (quarantined(parsed), QUARANTINE)):
        frame.write.format("delta").partitionBy("trade_date").save(
            table_uri(s3, table, scheme="s3a")
        )


def offsets(spark, s3, table: str) -> list[int]:
    frame = spark.read.format("delta").load(table_uri(s3, table, scheme="s3a"))
    return sorted(r[0] for r in frame.select("kafka_offset").collect())


def versions(spark, *uris: str) -> list[int]:
    return [spark.sql(f"DESCRIBE HISTORY delta.`{u}` LIMIT 1").first()["version"] for u in uris]


@pytest.mark.integration
def test_repair_moves_each_implausible_row_once_even_after_a_crash_between_its_commits(
    services, spark, unique_name
):
    s3 = services.s3.model_copy(update={"prefix": unique_name})
    raw_uri, quarantine_uri = (table_uri(s3, t, scheme="s3a") for t in (RAW_TICKS, QUARANTINE))
    write_damaged_lake(spark, s3)
    partitions = {
        r[0]
        for r in spark.read.format("delta")
        .load(raw_uri)
        .select(F.col("trade_date").cast("string"))
        .distinct()
        .collect()
    }
    assert {"+294247-01-10", "1970-01-01", "1969-12-31", "2026-03-02"} <= partitions
    with pytest.raises(duckdb.Error, match="date"):  # the damage the repair is for
        duckdb_conn.connect(s3=s3).execute(
            f"SELECT count(*) FROM delta_scan('{table_uri(s3, RAW_TICKS)}')"
        ).fetchall()

    # A dry run reports the rows and their partitions and commits nothing.
    before = versions(spark, raw_uri, quarantine_uri)
    dry = repair(spark, raw_uri, quarantine_uri, EventTimeBounds(), dry_run=True)
    assert (dry.found, dry.inserted, dry.deleted) == (len(HOSTILE_TIMES), 0, 0)
    assert set(dry.raw_partitions) == partitions - {"2026-03-02"}
    assert versions(spark, raw_uri, quarantine_uri) == before

    # A run that crashed after its quarantine commit: the moved rows are in both tables.
    moved = implausible_rows(spark.read.format("delta").load(raw_uri), EventTimeBounds()).cache()
    assert insert_into_quarantine(spark, moved, quarantine_uri) == len(HOSTILE_TIMES)
    moved.unpersist()
    assert set(HOSTILE_TIMES) <= set(offsets(spark, s3, RAW_TICKS))

    # The documented command, rerun: it inserts nothing again and finishes the delete.
    done = subprocess.run(
        [sys.executable, str(JOB)],
        env={**os.environ, "S3_PREFIX": unique_name},
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert (
        f"moved {len(HOSTILE_TIMES)} rows with implausible event times "
        f"(0 new in quarantine, {len(HOSTILE_TIMES)} deleted from raw_ticks" in done.stdout
    ), done.stdout

    raw, bad = offsets(spark, s3, RAW_TICKS), offsets(spark, s3, QUARANTINE)
    everything = len(HOSTILE_TIMES) + VALID + 1
    assert sorted(raw + bad) == list(range(everything))  # every offset in exactly one table
    assert raw == list(range(len(HOSTILE_TIMES), len(HOSTILE_TIMES) + VALID))
    rows = (
        spark.read.format("delta")
        .load(quarantine_uri)
        .where(F.col("kafka_offset").isin(list(HOSTILE_TIMES)))
        .collect()
    )
    assert {r["reason"] for r in rows} == {str(QuarantineReason.IMPLAUSIBLE_EVENT_TIME)}
    assert all("moved from raw_ticks" in r["detail"] for r in rows), rows
    for r in rows:  # the payload is the stored tick as JSON, with its hostile timestamp
        assert json.loads(r["payload_text"])["timestamp"] == HOSTILE_TIMES[r["kafka_offset"]]
        assert r["payload"] == r["payload_text"].encode()
        assert str(r["trade_date"]) == "2026-03-02"  # the day Kafka got it
    assert (
        spark.read.format("delta").load(quarantine_uri).columns
        == spark.read.format("delta").load(quarantine_uri).select(*QUARANTINE_COLUMNS).columns
    )
    assert_every_reader_reads_every_column(services, unique_name, len(raw), len(bad))

    # A third run finds nothing and commits nothing.
    before = versions(spark, raw_uri, quarantine_uri)
    again = repair(spark, raw_uri, quarantine_uri, EventTimeBounds())
    assert (again.found, again.inserted, again.deleted) == (0, 0, 0)
    assert versions(spark, raw_uri, quarantine_uri) == before
