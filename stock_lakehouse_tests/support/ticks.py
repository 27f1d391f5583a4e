"""Ticks as the simulator sends them, and Kafka-shaped rows of them for the stream's functions."""

from __future__ import annotations

from datetime import UTC, datetime

from stock_lakehouse.ticks import SCHEMA_VERSION

EVENT = datetime(2026, 3, 2, 15, 0, tzinfo=UTC).timestamp()


def tick(**overrides) -> dict:
    base = {
        "ticker": "AAPL",
        "price": 190.25,
        "volume": 100,
        "timestamp": EVENT,
        "bid": 190.2,
        "ask": 190.3,
        "exchange": "NASDAQ",
        "seq": 0,
        "tick_id": "a" * 32,
        "schema_version": SCHEMA_VERSION,
    }
    return {**base, **overrides}


def kafka_rows(spark, payloads, kafka_times=None):
    """Rows shaped like Spark's Kafka source; Kafka got each at `kafka_times` (default 15:01)."""
    kafka_times = kafka_times or [datetime(2026, 3, 2, 15, 1, tzinfo=UTC)] * len(payloads)
    rows = [
        (b"AAPL", payload, "stock-ticks", 0, offset, at)
        for offset, (payload, at) in enumerate(zip(payloads, kafka_times, strict=True))
    ]
    schema = (
        "key binary, value binary, topic string, partition int, offset long, timestamp timestamp"
    )
    return spark.createDataFrame(rows, schema)
