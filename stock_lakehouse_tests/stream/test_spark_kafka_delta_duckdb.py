"""Kafka -> Spark Structured Streaming -> Delta on s3a:// -> DuckDB delta_scan, all real."""

from __future__ import annotations

import json
import random
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from confluent_kafka import Producer

from stock_lakehouse.clients import duckdb_conn
from stock_lakehouse.clients.kafka import LIBRDKAFKA_LOGGER
from stock_lakehouse_tests.support.kafka_topics import create_topic

pytestmark = pytest.mark.integration

TICKS = 5_000


def produce_ticks(servers: str, topic: str) -> list[dict]:
    rng = random.Random(7)
    start = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)
    ticks = []
    producer = Producer(
        {
            "bootstrap.servers": servers,
            "enable.idempotence": True,
            "acks": "all",
            "logger": LIBRDKAFKA_LOGGER,
        }
    )
    for i in range(TICKS):
        # spread over three UTC days so the table gets three trade_date partitions
        ts = start + timedelta(days=i % 3, seconds=i)
        tick = {
            "ticker": rng.choice(["AAPL", "MSFT", "NVDA"]),
            "price": round(rng.uniform(100, 200), 4),
            "volume": rng.randint(1, 500),
            "timestamp": ts.timestamp(),
        }
        ticks.append(tick)
        producer.produce(topic, key=tick["ticker"], value=json.dumps(tick))
        producer.poll(0)
    assert producer.flush(60) == 0
    return ticks


def test_stream_from_kafka_to_delta_on_s3_is_read_back_by_duckdb(spark, services, unique_name):
    from pyspark.sql import functions as F
    from pyspark.sql.types import DoubleType, LongType, StringType, StructField, StructType

    servers = services.kafka.bootstrap_servers
    create_topic(servers, unique_name, partitions=3)
    ticks = produce_ticks(servers, unique_name)

    schema = StructType(
        [
            StructField("ticker", StringType()),
            StructField("price", DoubleType()),
            StructField("volume", LongType()),
            StructField("timestamp", DoubleType()),
        ]
    )
    source = (
        spark.readStream.format("kafka")
        .option("kafka.bootstrap.servers", servers)
        .option("subscribe", unique_name)
        .option("startingOffsets", "earliest")
        .option("maxOffsetsPerTrigger", 2_000)  # several micro-batches, not one
        .load()
    )
    rows = source.select(
        "partition",
        "offset",
        F.from_json(F.col("value").cast("string"), schema).alias("t"),
    ).select(
        "partition",
        "offset",
        "t.*",
        F.to_date(F.timestamp_seconds("t.timestamp")).alias("trade_date"),
    )
    table = services.s3.uri(unique_name, "ticks", scheme="s3a")
    query = (
        rows.writeStream.format("delta")
        .partitionBy("trade_date")
        .option("checkpointLocation", services.s3.uri(unique_name, "_checkpoint", scheme="s3a"))
        .trigger(availableNow=True)
        .start(table)
    )
    query.awaitTermination(timeout=300)
    assert query.exception() is None

    con = duckdb_conn.connect(s3=services.s3)
    scan = f"delta_scan('{services.s3.uri(unique_name, 'ticks')}')"
    total, distinct_offsets, volume = con.execute(
        f'SELECT count(*), count(DISTINCT ("partition", "offset")), sum(volume) FROM {scan}'
    ).fetchone()
    per_day = dict(
        con.execute(
            f"SELECT strftime(trade_date, '%Y-%m-%d'), count(*) FROM {scan} GROUP BY 1"
        ).fetchall()
    )

    expected_days = Counter(
        datetime.fromtimestamp(t["timestamp"], UTC).strftime("%Y-%m-%d") for t in ticks
    )
    assert total == TICKS
    assert distinct_offsets == TICKS
    assert volume == sum(t["volume"] for t in ticks)
    assert per_day == dict(expected_days)
