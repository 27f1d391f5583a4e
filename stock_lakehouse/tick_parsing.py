"""The tick contract (stock_lakehouse.ticks) as Spark column expressions: Kafka rows -> typed rows.

Strict syntax, one check: the value is parsed as `[<value>,"<sha256 of the value>"]` by Spark's
VARIANT parser (Jackson with its strict defaults: no single quotes, comments, unquoted names,
leading zeros, NaN/Infinity literals, duplicate keys or lone surrogates). The value is exactly one
JSON object only if it starts with `{` and that array has exactly two elements, the second the
digest: trailing content (`{...} xyz`, `{...}{...}`, `{...}]...`, a NUL byte) either breaks the
array's syntax or would have to contain the SHA-256 of itself. The fields are read from that one
parse (`$[0].<field>` as VARIANTs), so each keeps its JSON type: `"exchange": {"a": 1}` is a wrong
type, not the text of an object. One JSON parse per message: an earlier version parsed each value
twice (the wrapper, then `from_json` into VARIANT fields).

Fast path: a message in the producer's own compact form (CANONICAL_TICK, a whole-value regex)
is by construction exactly one object of correctly typed fields, so it skips the VARIANT parse and
is read by one typed `from_json`; the value rules (schema version, event time, ticker, prices,
volume, quote) then judge every message alike. Every other message takes the strict path, so
its outcome is the one it always had; a test compares both paths on the same objects.

Used by the stream (spark_jobs/stream_ticks.py) and by the repair job; the functions are pure, so
tests call them on a static DataFrame shaped like Spark's Kafka source.
"""

from __future__ import annotations

from datetime import UTC, datetime, time

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from stock_lakehouse.ticks import SCHEMA_VERSION, TICK_FIELDS, EventTimeBounds, QuarantineReason

# Where each row came from, in both tables: enough to find, replay or audit any message.
LINEAGE_COLUMNS = [
    "trade_date",
    "kafka_topic",
    "kafka_partition",
    "kafka_offset",
    "kafka_timestamp",
    "ingested_at",
]
RAW_COLUMNS = [*TICK_FIELDS, "event_time", *LINEAGE_COLUMNS]
QUARANTINE_COLUMNS = ["reason", "detail", "payload", "payload_text", "kafka_key", *LINEAGE_COLUMNS]

# JSON type of a field value as `schema_of_variant` names it. JSON has one number type: a double
# field takes any number (190 or 190.25 or 1.9e2); a long field only an integer literal that fits.
_JSON_TYPE_OK = {
    "string": lambda schema: schema == "STRING",
    "double": lambda schema: (
        (schema == "BIGINT") | (schema == "DOUBLE") | schema.startswith("DECIMAL")
    ),
    "long": lambda schema: schema == "BIGINT",
}
_SPARK_TYPE = {"string": "string", "double": "double", "long": "bigint"}
_TYPED_SCHEMA = ", ".join(f"{f} {_SPARK_TYPE[t]}" for f, t in TICK_FIELDS.items())

# The producer's own serialization (compact, the contract's field order, plain ASCII strings,
# numbers without exponent), as a Java regex over the whole value. A message that matches is
# exactly one JSON object in UTF-8 with every field present, of its JSON type and without
# duplicates, so a typed `from_json` reads the same values the strict parse would (doubles are
# correctly rounded both ways); anything else takes the strict parse. A sufficient condition,
# never a rule: a message the regex refuses is judged exactly as before.
_JSON_VALUE = {  # no minus sign: -0 is not 0 for a double, and a negative value is bad anyway
    "string": r'"[A-Za-z0-9_.:-]{0,64}"',
    "double": r"(?:0|[1-9][0-9]{0,17})(?:\.[0-9]{1,17})?",
    "long": r"(?:0|[1-9][0-9]{0,17})",
}
CANONICAL_TICK = (
    r"\A\{" + ",".join(f'"{f}":{_JSON_VALUE[t]}' for f, t in TICK_FIELDS.items()) + r"\}\z"
)


def _first_field(condition_of, fields) -> Column:
    """Name of the first field for which `condition_of(field)` holds, else null."""
    return F.coalesce(*[F.when(condition_of(f), F.lit(f)) for f in fields], F.lit(None))


def _epoch_seconds(ts: Column) -> Column:
    return F.unix_micros(ts).cast("double") / 1e6


def _wrapped(value: Column, digest: Column) -> Column:
    """`[<value>,"<digest>"]` parsed strictly as one VARIANT; null when it does not parse."""
    text = value.cast("string")
    return F.try_parse_json(F.concat(F.lit("["), text, F.lit(',"'), digest, F.lit('"]')))


def _is_exactly_one_object(value: Column, digest: Column, wrapped: Column) -> Column:
    """True if `value` is valid UTF-8 holding exactly one JSON object, in JSON's strict syntax."""
    text = value.cast("string")
    starts_an_object = F.ltrim(text, F.lit(" \t\r\n")).startswith("{")
    return F.coalesce(
        F.is_valid_utf8(text)
        & starts_an_object
        & (F.try_variant_get(wrapped, "$[1]", "string") == digest)
        & F.try_variant_get(wrapped, "$[2]", "variant").isNull(),
        F.lit(False),
    )


def implausible_event_time(
    timestamp: Column, kafka_ts: Column, bounds: EventTimeBounds, now: Column | None = None
) -> Column:
    """Which bound the event time (epoch seconds) breaks, as a sentence; null when plausible.

    Compared as doubles, before any conversion: 1e20 or 2^63 would saturate Spark's timestamp and
    make a partition value (`+294247-01-10`) that DuckDB and delta-rs cannot parse. `now` is the
    stream's clock (default: the current time); the repair job passes each row's `ingested_at`, so
    a rerun judges every row as it did the first time.
    """
    earliest = datetime.combine(bounds.earliest_date, time(), UTC).timestamp()
    kafka = _epoch_seconds(kafka_ts)
    now = _epoch_seconds(F.current_timestamp() if now is None else now)
    lead = bounds.max_lead_minutes * 60.0
    return (
        F.when(
            timestamp < F.lit(earliest),
            F.lit(f"before MARKET_EARLIEST_EVENT_DATE {bounds.earliest_date.isoformat()}"),
        )
        .when(
            timestamp < kafka - F.lit(bounds.max_age_days * 86400.0),
            F.lit(
                f"more than MARKET_MAX_EVENT_AGE_DAYS={bounds.max_age_days:g} days"
                " before the Kafka timestamp"
            ),
        )
        .when(
            timestamp > F.least(kafka, now) + F.lit(lead),
            F.lit(
                f"more than MARKET_MAX_EVENT_LEAD_MINUTES={bounds.max_lead_minutes:g} minutes"
                " after the Kafka timestamp or the stream's clock"
            ),
        )
    )


def plausible_date(ts: Column, bounds: EventTimeBounds, now: Column | None = None) -> Column:
    """The UTC date of a timestamp inside [earliest date, now + lead], else null."""
    earliest = F.lit(bounds.earliest_date)
    now = F.current_timestamp() if now is None else now
    latest = now + F.expr(f"INTERVAL {bounds.max_lead_minutes * 60:.0f} SECONDS")
    return F.when((ts >= earliest) & (ts <= latest), F.to_date(ts))


class TickParser:
    """parse_ticks' expressions, built once and applied to any number of Kafka frames.

    Why an object: building the expressions costs some 7,000 py4j calls (~1.5 s of driver time
    on a 2-core machine), more than Spark needs to run a 100-row micro-batch. A Column names
    columns, not a DataFrame, so the stream builds its parser once per run and each batch pays
    only for its selects.

    Two ways to the same typed fields: a message in the producer's canonical form (CANONICAL_TICK)
    is read by one typed `from_json`; any other message by the strict VARIANT parse. The rules
    below then judge both alike.

    `now` is the clock the event times are judged by and `ingested_at` is stamped with (default:
    the query's current time). The stream passes a column of the batch (see with_batch_clock):
    current_timestamp() becomes a literal inlined into the generated code, so every micro-batch
    compiled the whole parse anew (~0.9 s a batch).
    """

    def __init__(
        self,
        known_tickers: list[str],
        bounds: EventTimeBounds | None = None,
        now: Column | None = None,
    ) -> None:
        bounds = bounds or EventTimeBounds()
        fields = list(TICK_FIELDS)
        text = F.col("value").cast("string")
        clock = F.current_timestamp() if now is None else now
        # The message and its lineage, carried through to the output under these names.
        message = {
            "payload": F.col("value"),
            # Readable text for people; `payload` keeps the exact bytes. Invalid UTF-8 becomes
            # U+FFFD, so every reader of the Parquet string column (DuckDB refuses invalid UTF-8)
            # can read it.
            "payload_text": F.make_valid_utf8(F.col("value").cast("string")),
            "kafka_key": F.make_valid_utf8(F.col("key").cast("string")),
            "kafka_topic": F.col("topic"),
            "kafka_partition": F.col("partition"),
            "kafka_offset": F.col("offset"),
            "kafka_timestamp": F.col("timestamp"),
        }
        # Each stage is one select; a later stage reads the columns an earlier one named.
        stages: list[list[Column | str]] = [
            [
                "*",
                F.coalesce(text.rlike(CANONICAL_TICK), F.lit(False)).alias("_fast"),
                clock.alias("_now"),
            ],
            [
                *[column.alias(name) for name, column in message.items()],
                "_fast",
                "_now",
                F.when(F.col("_fast"), F.from_json(text, _TYPED_SCHEMA)).alias("_t"),
                F.when(~F.col("_fast"), F.sha2(F.col("value"), 256)).alias("_digest"),
            ],
            ["*", _wrapped(F.col("payload"), F.col("_digest")).alias("_w")],
            [
                "*",
                (
                    F.col("_fast")
                    | _is_exactly_one_object(F.col("payload"), F.col("_digest"), F.col("_w"))
                ).alias("_single"),
            ],
            # The fields from that one parse: `$[0]` is the object when the value is exactly one.
            [
                "*",
                *[
                    F.when(
                        F.col("_single") & ~F.col("_fast"),
                        F.try_variant_get("_w", f"$[0].{f}", "variant"),
                    ).alias(f"_v_{f}")
                    for f in fields
                ],
            ],
            ["*", *[F.schema_of_variant(f"_v_{f}").alias(f"_j_{f}") for f in fields]],
        ]

        # Absent and JSON null are both missing. One column per field, reused by every rule.
        present = {
            f: F.col("_fast") | (F.col(f"_v_{f}").isNotNull() & (F.col(f"_j_{f}") != "VOID"))
            for f in fields
        }
        # Typed values and the rule outcomes are columns of their own, each computed once: inlined
        # into the CASE chains below, every variant_get ran once per rule (2.6x slower).
        typed_ok = {
            f: F.col("_fast") | _JSON_TYPE_OK[TICK_FIELDS[f]](F.col(f"_j_{f}")) for f in fields
        }
        stages.append(
            [
                "*",
                *[
                    F.when(F.col("_fast"), F.col(f"_t.{f}"))
                    .when(typed_ok[f], F.variant_get(f"_v_{f}", "$", _SPARK_TYPE[TICK_FIELDS[f]]))
                    .alias(f)
                    for f in fields
                ],
                *[typed_ok[f].alias(f"_ok_{f}") for f in fields],
            ]
        )
        t = {f: F.col(f) for f in fields}

        def mistyped(f: str) -> Column:
            bad = ~F.col(f"_ok_{f}")
            if TICK_FIELDS[f] == "double":  # 1e400 parses as Infinity: not a price or a time
                bad = bad | (F.abs(t[f]) == float("inf"))
            return present[f] & bad

        # A canonical message has every field, each of its type: nothing to look for.
        missing = F.when(~F.col("_fast"), _first_field(lambda f: ~present[f], fields))
        wrong_type = F.when(~F.col("_fast"), _first_field(mistyped, fields))
        non_positive = _first_field(lambda f: t[f] <= 0, ["price", "bid", "ask"])
        implausible = implausible_event_time(
            t["timestamp"], F.col("kafka_timestamp"), bounds, F.col("_now")
        )

        R = QuarantineReason
        rules: list[tuple[Column, str, Column]] = [
            (
                ~F.col("_single"),
                R.MALFORMED_JSON,
                F.lit("payload is not exactly one JSON object in UTF-8"),
            ),
            (F.col("_missing").isNotNull(), R.MISSING_FIELD, F.col("_missing")),
            (F.col("_wrong_type").isNotNull(), R.WRONG_TYPE, F.col("_wrong_type")),
            (
                t["schema_version"] != SCHEMA_VERSION,
                R.UNSUPPORTED_SCHEMA_VERSION,
                t["schema_version"].cast("string"),
            ),
            (
                F.col("_implausible").isNotNull(),
                R.IMPLAUSIBLE_EVENT_TIME,
                F.format_string(
                    "timestamp %s is %s", t["timestamp"].cast("string"), "_implausible"
                ),
            ),
            (~t["ticker"].isin(known_tickers), R.UNKNOWN_TICKER, t["ticker"]),
            (F.col("_non_positive").isNotNull(), R.NON_POSITIVE_PRICE, F.col("_non_positive")),
            (t["volume"] < 0, R.NEGATIVE_VOLUME, t["volume"].cast("string")),
            (
                t["bid"] > t["ask"],
                R.CROSSED_QUOTE,
                F.format_string("bid %s > ask %s", t["bid"], t["ask"]),
            ),
        ]
        stages.append(
            [
                "*",
                missing.alias("_missing"),
                wrong_type.alias("_wrong_type"),
                non_positive.alias("_non_positive"),
                implausible.alias("_implausible"),
            ]
        )
        # The first rule that fails wins: its number, then its name and detail from that number.
        first_failing = F.coalesce(*[F.when(c, F.lit(i)) for i, (c, _, _) in enumerate(rules)])
        stages.append(["*", first_failing.alias("_rule")])
        # F.get, not element_at: element_at of a literal array with a null index gave its last
        # element.
        reason = F.get(F.array(*[F.lit(str(name)) for _, name, _ in rules]), F.col("_rule"))
        detail = F.lit(None).cast("string")
        for i, (_, _, why) in reversed(list(enumerate(rules))):
            detail = F.when(F.col("_rule") == i, why).otherwise(detail)
        stages.append([*message, *fields, reason.alias("reason"), detail.alias("detail"), "_now"])
        # Only a valid tick gets an event time (its timestamp was checked above); a quarantined row
        # is filed under the day Kafka got it, or the day it was ingested when Kafka's own time is
        # absurd.
        event_time = F.when(F.col("reason").isNull(), F.timestamp_seconds("timestamp"))
        stages.append(
            [
                *message,
                *fields,
                "reason",
                "detail",
                event_time.alias("event_time"),
                F.coalesce(
                    F.to_date(event_time),
                    plausible_date(F.col("kafka_timestamp"), bounds, F.col("_now")),
                    F.to_date(F.col("_now")),
                ).alias("trade_date"),
                F.col("_now").alias("ingested_at"),
            ]
        )
        self._stages = stages

    def __call__(self, kafka_rows: DataFrame) -> DataFrame:
        """Kafka rows -> one row per message: typed fields, lineage, `reason` (null = valid)."""
        frame = kafka_rows
        for columns in self._stages:
            frame = frame.select(*columns)
        return frame


def parse_ticks(
    kafka_rows: DataFrame,
    known_tickers: list[str],
    bounds: EventTimeBounds | None = None,
    now: Column | None = None,
) -> DataFrame:
    """Kafka rows -> one row per message with typed fields, lineage, and `reason` (null = valid).

    A parser used once; whoever parses many frames with the same rules keeps a TickParser.
    """
    return TickParser(known_tickers, bounds, now)(kafka_rows)


def with_batch_clock(kafka_rows: DataFrame, now: datetime, column: str = "_clock") -> DataFrame:
    """The rows with `column` = `now`, from a broadcast one-row table: a value in the data, not a
    literal in the generated code, so the next batch's code is the same and is not compiled again.
    """
    spark = kafka_rows.sparkSession
    clock = spark.createDataFrame([(now,)], f"{column} timestamp")
    return kafka_rows.crossJoin(F.broadcast(clock))


def valid_ticks(parsed: DataFrame) -> DataFrame:
    return parsed.where(F.col("reason").isNull()).select(*RAW_COLUMNS)


def quarantined(parsed: DataFrame) -> DataFrame:
    return parsed.where(F.col("reason").isNotNull()).select(*QUARANTINE_COLUMNS)
