"""The stream's validation rules, on a static DataFrame shaped like Spark's Kafka source."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from spark_jobs.stream_ticks import parse_ticks, quarantined, valid_ticks
from stock_lakehouse.ticks import DEFAULT_TICKERS, SCHEMA_VERSION, QuarantineReason

pytestmark = pytest.mark.integration  # needs the JVM

R = QuarantineReason
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


def without(field: str) -> dict:
    return {k: v for k, v in tick().items() if k != field}


CASES: list[tuple[bytes | None, str | None, str | None]] = [
    (json.dumps(tick()).encode(), None, None),
    (json.dumps(tick(volume=0)).encode(), None, None),
    (b'{"ticker": "AAPL", "price": 19', R.MALFORMED_JSON, None),
    (b"\x00\xff\xfe garbage \x81", R.MALFORMED_JSON, None),
    (b"[1, 2, 3]", R.MALFORMED_JSON, None),
    (None, R.MALFORMED_JSON, None),
    (json.dumps(without("price")).encode(), R.MISSING_FIELD, "price"),
    (json.dumps(tick(tick_id=None)).encode(), R.MISSING_FIELD, "tick_id"),
    (json.dumps(tick(price="one hundred")).encode(), R.WRONG_TYPE, "price"),
    (json.dumps(tick(volume=1.5)).encode(), R.WRONG_TYPE, "volume"),
    (b'{"ticker":"AAPL","price":NaN}', R.MISSING_FIELD, "volume"),
    (json.dumps(tick()).replace("190.25", "NaN").encode(), R.WRONG_TYPE, "price"),
    (json.dumps(tick(schema_version=2)).encode(), R.UNSUPPORTED_SCHEMA_VERSION, "2"),
    (json.dumps(tick(ticker="ZZZZ")).encode(), R.UNKNOWN_TICKER, "ZZZZ"),
    (json.dumps(tick(price=-3.0)).encode(), R.NON_POSITIVE_PRICE, "price"),
    (json.dumps(tick(bid=0.0)).encode(), R.NON_POSITIVE_PRICE, "bid"),
    (json.dumps(tick(volume=-5)).encode(), R.NEGATIVE_VOLUME, "-5"),
    (json.dumps(tick(bid=191.0, ask=190.0)).encode(), R.CROSSED_QUOTE, None),
    ('{"ticker": "AAPL", "exchange": "Zürich ✓"}'.encode(), R.MISSING_FIELD, "price"),
]


def kafka_rows(spark, payloads):
    rows = [
        (b"AAPL", payload, "stock-ticks", 0, offset, datetime(2026, 3, 2, 15, 1, tzinfo=UTC))
        for offset, payload in enumerate(payloads)
    ]
    schema = (
        "key binary, value binary, topic string, partition int, offset long, timestamp timestamp"
    )
    return spark.createDataFrame(rows, schema)


def test_each_rule_names_its_reason_and_valid_ticks_pass(spark):
    parsed = parse_ticks(kafka_rows(spark, [c[0] for c in CASES]), list(DEFAULT_TICKERS))
    got = {r["kafka_offset"]: (r["reason"], r["detail"]) for r in parsed.collect()}
    for offset, (_, reason, detail) in enumerate(CASES):
        expected_reason = str(reason) if reason else None
        assert got[offset][0] == expected_reason, (offset, CASES[offset][0], got[offset])
        if detail is not None:
            assert got[offset][1] == detail, (offset, got[offset])


def test_split_keeps_every_offset_once_with_lineage_and_payload(spark):
    parsed = parse_ticks(kafka_rows(spark, [c[0] for c in CASES]), list(DEFAULT_TICKERS))
    raw = valid_ticks(parsed).collect()
    bad = quarantined(parsed).collect()
    offsets = sorted([r["kafka_offset"] for r in raw] + [r["kafka_offset"] for r in bad])
    assert offsets == list(range(len(CASES)))
    assert len(raw) == sum(1 for c in CASES if c[1] is None)

    first = next(r for r in raw if r["kafka_offset"] == 0)
    assert first["ticker"] == "AAPL" and first["price"] == 190.25
    assert first["event_time"].replace(tzinfo=UTC).timestamp() == EVENT
    assert str(first["trade_date"]) == "2026-03-02"
    assert (first["kafka_topic"], first["kafka_partition"]) == ("stock-ticks", 0)

    garbage = next(r for r in bad if r["kafka_offset"] == 3)
    assert bytes(garbage["payload"]) == CASES[3][0]  # the exact bytes, kept for replay
    assert str(garbage["trade_date"]) == "2026-03-02"  # from the Kafka timestamp
