"""The stream's validation rules, on a static DataFrame shaped like Spark's Kafka source."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from spark_jobs.stream_ticks import parse_ticks, quarantined, valid_ticks
from stock_lakehouse.ticks import DEFAULT_TICKERS, TICK_FIELDS, QuarantineReason
from stock_lakehouse_tests.support.ticks import EVENT, kafka_rows, tick

pytestmark = pytest.mark.integration  # needs the JVM

R = QuarantineReason


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
    # NaN is not JSON (RFC 8259): a parser that accepts it is lenient, so the value is malformed.
    (b'{"ticker":"AAPL","price":NaN}', R.MALFORMED_JSON, None),
    (json.dumps(tick()).replace("190.25", "NaN").encode(), R.MALFORMED_JSON, None),
    (json.dumps(tick(price="NaN")).encode(), R.WRONG_TYPE, "price"),
    (json.dumps(tick()).replace("190.25", "1e400").encode(), R.WRONG_TYPE, "price"),
    (json.dumps(tick(schema_version=2)).encode(), R.UNSUPPORTED_SCHEMA_VERSION, "2"),
    (json.dumps(tick(ticker="ZZZZ")).encode(), R.UNKNOWN_TICKER, "ZZZZ"),
    (json.dumps(tick(price=-3.0)).encode(), R.NON_POSITIVE_PRICE, "price"),
    (json.dumps(tick(bid=0.0)).encode(), R.NON_POSITIVE_PRICE, "bid"),
    (json.dumps(tick(volume=-5)).encode(), R.NEGATIVE_VOLUME, "-5"),
    (json.dumps(tick(bid=191.0, ask=190.0)).encode(), R.CROSSED_QUOTE, None),
    ('{"ticker": "AAPL", "exchange": "Zürich ✓"}'.encode(), R.MISSING_FIELD, "price"),
    # The strict contract: exactly one JSON object, in UTF-8, each field of its JSON type.
    (json.dumps(tick()).encode() + b" xyz", R.MALFORMED_JSON, None),
    (json.dumps(tick()).encode() * 2, R.MALFORMED_JSON, None),
    (json.dumps(tick()).encode() + b"] " + json.dumps(tick()).encode(), R.MALFORMED_JSON, None),
    (json.dumps(tick()).encode() + b", 1", R.MALFORMED_JSON, None),
    (json.dumps(tick()).replace('"', "'").encode(), R.MALFORMED_JSON, None),
    (json.dumps(tick()).encode() + b"\x00", R.MALFORMED_JSON, None),
    (
        json.dumps(tick()).replace('"volume": 100', '"volume": 0100').encode(),
        R.MALFORMED_JSON,
        None,
    ),
    (json.dumps(tick()).replace('"volume"', "/* c */ volume").encode(), R.MALFORMED_JSON, None),
    (json.dumps(tick()).replace('{"ticker"', '{"seq": 1, "seq"').encode(), R.MALFORMED_JSON, None),
    (b" \n" + json.dumps(tick()).encode() + b"\r\n", None, None),  # JSON whitespace is fine
    (b'"AAPL"', R.MALFORMED_JSON, None),
    (json.dumps(tick(exchange={"a": 1})).encode(), R.WRONG_TYPE, "exchange"),
    (json.dumps(tick(exchange=[1])).encode(), R.WRONG_TYPE, "exchange"),
    (json.dumps(tick(exchange=7)).encode(), R.WRONG_TYPE, "exchange"),
    (json.dumps(tick(tick_id={"x": 1})).encode(), R.WRONG_TYPE, "tick_id"),
    (json.dumps(tick(ticker={"a": 1})).encode(), R.WRONG_TYPE, "ticker"),
    (json.dumps(tick(ticker=["AAPL"])).encode(), R.WRONG_TYPE, "ticker"),
    (json.dumps(tick(volume=100.0)).encode(), R.WRONG_TYPE, "volume"),
    (json.dumps(tick(volume=True)).encode(), R.WRONG_TYPE, "volume"),
    (json.dumps(tick(price=190)).encode(), None, None),  # a JSON number without a fraction
    (json.dumps(tick(exchange="XX")).encode().replace(b"XX", b"\xff\xfe"), R.MALFORMED_JSON, None),
    (json.dumps(tick(exchange="XX")).encode().replace(b"XX", b"\xc0\xaf"), R.MALFORMED_JSON, None),
    (json.dumps(tick(ticker="XX")).encode().replace(b"XX", b"\xff"), R.MALFORMED_JSON, None),
    (json.dumps(tick(exchange="\ud800")).encode(), R.MALFORMED_JSON, None),  # a lone surrogate
    # Implausible event times, each naming the bound it breaks (Kafka got them 2026-03-02 15:01).
    *[
        (json.dumps(tick(timestamp=ts)).encode(), R.IMPLAUSIBLE_EVENT_TIME, None)
        for ts in (0, -1, 1e20, -1e20, EVENT * 1e3, EVENT * 1e6, 4_102_444_800.0, 2.0**63)
    ],
    (json.dumps(tick(timestamp=EVENT + 120)).encode(), None, None),  # 2 minutes of clock skew
    (json.dumps(tick(timestamp=EVENT - 400 * 86400)).encode(), None, None),  # history replay
]
IMPLAUSIBLE_DETAILS = {
    0: "MARKET_EARLIEST_EVENT_DATE",
    4_102_444_800.0: "MARKET_MAX_EVENT_LEAD_MINUTES",
    EVENT - 3700 * 86400: "MARKET_MAX_EVENT_AGE_DAYS",
}


def test_each_rule_names_its_reason_and_valid_ticks_pass(spark):
    parsed = parse_ticks(kafka_rows(spark, [c[0] for c in CASES]), list(DEFAULT_TICKERS))
    got = {r["kafka_offset"]: (r["reason"], r["detail"]) for r in parsed.collect()}
    for offset, (_, reason, detail) in enumerate(CASES):
        expected_reason = str(reason) if reason else None
        assert got[offset][0] == expected_reason, (offset, CASES[offset][0], got[offset])
        if detail is not None:
            assert got[offset][1] == detail, (offset, got[offset])


def test_one_parser_judges_each_frame_it_is_given_as_parse_ticks_does(spark):
    """The stream keeps one TickParser for all its batches: applied to one frame, then another,
    it must judge each by its own rows, exactly as a parser built for that frame alone."""
    from stock_lakehouse.tick_parsing import TickParser

    parser = TickParser(list(DEFAULT_TICKERS))
    frames = [
        kafka_rows(spark, [c[0] for c in CASES]),
        kafka_rows(spark, [json.dumps(tick(ticker=t)).encode() for t in ("ZZZZ", "AAPL", "MSFT")]),
    ]
    judged = ["kafka_offset", "ticker", "price", "reason", "detail", "trade_date"]
    for frame in frames:
        expected = (
            parse_ticks(frame, list(DEFAULT_TICKERS))
            .select(judged)
            .orderBy("kafka_offset")
            .collect()
        )
        assert parser(frame).select(judged).orderBy("kafka_offset").collect() == expected
    assert [r["reason"] for r in parser(frames[1]).orderBy("kafka_offset").collect()] == [
        R.UNKNOWN_TICKER,
        None,
        None,
    ]


def test_implausible_event_time_names_the_bound_it_breaks(spark):
    payloads = [json.dumps(tick(timestamp=ts)).encode() for ts in IMPLAUSIBLE_DETAILS]
    parsed = parse_ticks(kafka_rows(spark, payloads), list(DEFAULT_TICKERS)).collect()
    for row, bound in zip(
        sorted(parsed, key=lambda r: r["kafka_offset"]), IMPLAUSIBLE_DETAILS.values(), strict=True
    ):
        assert row["reason"] == R.IMPLAUSIBLE_EVENT_TIME, row
        assert bound in row["detail"], row


def test_quarantined_rows_are_filed_under_a_readable_day(spark):
    # Regression: a tick stamped 1e20 made the partition trade_date=+294247-01-10.
    payloads = [json.dumps(tick(timestamp=ts)).encode() for ts in (1e20, -1e20, 2.0**63)]
    parsed = parse_ticks(kafka_rows(spark, payloads), list(DEFAULT_TICKERS))
    assert valid_ticks(parsed).count() == 0
    days = {str(r["trade_date"]) for r in quarantined(parsed).collect()}
    assert days == {"2026-03-02"}  # the Kafka timestamp's day


def test_payload_text_and_key_are_valid_utf8_and_payload_keeps_the_bytes(spark):
    garbage = b"\xff\xfe{\xc0\xaf}"
    rows = [(b"\xff", garbage, "stock-ticks", 0, 0, datetime(2026, 3, 2, 15, 1, tzinfo=UTC))]
    schema = (
        "key binary, value binary, topic string, partition int, offset long, timestamp timestamp"
    )
    bad = quarantined(parse_ticks(spark.createDataFrame(rows, schema), list(DEFAULT_TICKERS)))
    row = bad.collect()[0]
    assert bytes(row["payload"]) == garbage
    assert row["payload_text"] == garbage.decode("utf-8", errors="replace")
    assert row["kafka_key"] == "\ufffd"


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


def _compact(payload: bytes) -> bytes | None:
    """The producer's own serialization of a JSON case, or None when it is not one object."""

    def no_duplicates(pairs):  # json.loads keeps the last of two equal keys: another object
        if len({k for k, _ in pairs}) != len(pairs):
            raise ValueError("duplicate key")
        return dict(pairs)

    try:
        value = json.loads(payload, object_pairs_hook=no_duplicates)
        if not isinstance(value, dict):
            return None
        return json.dumps(value, separators=(",", ":"), allow_nan=False).encode()
    except (TypeError, ValueError):  # not JSON, or a number JSON cannot hold (1e400)
        return None


def test_canonical_messages_are_judged_as_the_strict_parse_judges_them(spark):
    from pyspark.sql import functions as F

    from stock_lakehouse.tick_parsing import CANONICAL_TICK

    # parse_ticks reads a message in the producer's compact form with one typed from_json and any
    # other with the strict VARIANT parse. The cases above are spaced (strict path); the same
    # objects compacted must give the same fields, reason and detail.
    pairs = []
    for payload, _, _ in CASES:
        with_json_nan = payload is not None and b"NaN" in payload
        compact = None if with_json_nan else _compact(payload)
        if compact is not None and compact != payload:
            pairs.append((payload, compact))
    # Canonical-looking values at the edges of the fast path's number and string forms.
    for extra in (
        tick(price=0.0),
        tick(price=190, bid=190, ask=191),
        tick(timestamp=EVENT + 0.000001),
        tick(price=123456789012345678),
        tick(price=0.1234567890123456789),
        tick(seq=999999999999999999),
        tick(tick_id=""),
        tick(schema_version=0),
    ):
        pairs.append(
            (json.dumps(extra).encode(), json.dumps(extra, separators=(",", ":")).encode())
        )
    assert len(pairs) > 20
    fields = ["reason", "detail", *TICK_FIELDS, "event_time", "trade_date"]
    rows = parse_ticks(
        kafka_rows(spark, [p for pair in pairs for p in pair]), list(DEFAULT_TICKERS)
    )
    by_offset = {r["kafka_offset"]: r for r in rows.collect()}
    # The comparison means something only if the compact forms do take the fast path.
    fast = (
        kafka_rows(spark, [compact for _, compact in pairs])
        .where(F.col("value").cast("string").rlike(CANONICAL_TICK))
        .count()
    )
    assert fast >= 15, fast
    for i, (spaced, compact) in enumerate(pairs):
        strict, fast = by_offset[2 * i], by_offset[2 * i + 1]
        assert [fast[f] for f in fields] == [strict[f] for f in fields], (spaced, compact)


def test_the_simulators_messages_take_the_canonical_form(spark):
    from pyspark.sql import functions as F

    from stock_lakehouse.simulator.generator import encode_tick
    from stock_lakehouse.tick_parsing import CANONICAL_TICK

    payloads = [encode_tick(tick(seq=n, price=190.25 + n / 100)) for n in range(50)]
    payloads.append(json.dumps(tick()).encode())  # spaced: the strict path
    matched = (
        kafka_rows(spark, payloads)
        .select(F.col("value").cast("string").rlike(CANONICAL_TICK).alias("m"))
        .collect()
    )
    assert [r["m"] for r in matched] == [True] * 50 + [False]


def test_the_batch_clock_judges_and_stamps_each_batch_and_the_next_batch_compiles_nothing(spark):
    """The stream's clock is a column of the batch (with_batch_clock), not a literal in the code:
    each batch is judged by its own clock, and Spark reuses the code it generated for the last.
    One parser serves both batches, as in the stream (its expressions are built once a run)."""
    from pyspark.sql import functions as F

    from stock_lakehouse.tick_parsing import TickParser, with_batch_clock

    parser = TickParser(list(DEFAULT_TICKERS), now=F.col("_clock"))

    ahead = EVENT + 3600  # an hour after Kafka's time: more than the 5 minutes of lead allowed
    payload = json.dumps(tick(timestamp=ahead)).encode()
    kafka_late = datetime.fromtimestamp(ahead, UTC)  # Kafka got it at its event time

    def judged(clock: datetime):
        rows = with_batch_clock(kafka_rows(spark, [payload], [kafka_late]), clock)
        return parser(rows).collect()[0]

    compilations = (
        spark._jvm.org.apache.spark.metrics.source.CodegenMetrics.METRIC_COMPILATION_TIME()
    )
    early = datetime.fromtimestamp(EVENT, UTC)  # the clock says the tick is an hour ahead
    first = judged(early)
    assert first["reason"] == R.IMPLAUSIBLE_EVENT_TIME
    assert "the stream's clock" in first["detail"]
    assert first["ingested_at"].replace(tzinfo=UTC) == early
    compiled_before = compilations.getCount()

    later = datetime.fromtimestamp(ahead + 60, UTC)  # now it is a minute in the past
    second = judged(later)
    assert second["reason"] is None
    assert second["ingested_at"].replace(tzinfo=UTC) == later
    assert str(second["trade_date"]) == kafka_late.date().isoformat()
    assert compilations.getCount() == compiled_before  # the first batch's code, reused
