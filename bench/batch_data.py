"""One day of raw_ticks as the stream leaves it: many small files from many micro-batch appends.

    python -m bench.batch_data --prefix bench/x --day 2026-11-20 --ticks 5000000 --batches 50 \
        --out summary.json                      (run by the batch benchmarks, as its own process)

The ticks come from Spark itself (`spark.range` and column expressions), not from the simulator
and the stream: 1M ticks take ~90 s through the stream on 2 cores, so 5M would take ~8 minutes
before anything is measured. What the compaction job and a reader see is the same: every column of
raw_ticks with its Spark type (RAW_COLUMNS), one file per Kafka partition per append, each append a
Delta commit partitioned by trade_date, and a Delta checkpoint every tenth commit.

Like the topic of the other benchmarks, the day has 3 Kafka partitions and each ticker always goes
to the same one (12 tickers: 4 per partition). Append `b` carries the b-th slice of every
partition's offsets, plus a replay of the last `--duplicates` share of the previous slice (as a
stream restarted from an older checkpoint writes them again), stamped with the later batch's
`ingested_at`; a replayed row is otherwise identical to its first copy. Every value is a function
of the offset (hashes, not random generators), so two runs with the same arguments write the same
rows.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import time
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from stock_lakehouse.market_calendar import Session, session_on
from stock_lakehouse.settings import Settings, get_settings
from stock_lakehouse.tables import RAW_TICKS, table_uri
from stock_lakehouse.ticks import DEFAULT_UNIVERSE, SCHEMA_VERSION

log = logging.getLogger("batch_data")

DEFAULT_DAY = date(2026, 11, 20)
TOPIC = "stock-ticks"
KAFKA_PARTITIONS = 3  # as the benchmarks' topics (history_options)
GENERATE_TIMEOUT_S = 1800


@dataclass(frozen=True)
class Slice:
    """Offsets [first, last) of one Kafka partition written by one append; [first, replay_until)
    had already been written by the previous append."""

    batch: int
    partition: int
    first: int
    replay_until: int
    last: int


def partition_sizes(ticks: int, partitions: int = KAFKA_PARTITIONS) -> list[int]:
    """Messages per partition when tick i goes to partition i % partitions."""
    return [len(range(p, ticks, partitions)) for p in range(partitions)]


def plan(ticks: int, batches: int, duplicates: float) -> list[Slice]:
    """Which offsets each append writes, per partition, replays included."""
    slices = []
    for partition, size in enumerate(partition_sizes(ticks)):
        bounds = [size * b // batches for b in range(batches + 1)]
        for b in range(batches):
            start, end = bounds[b], bounds[b + 1]
            previous = bounds[b] - bounds[b - 1] if b else 0
            replayed = min(start, round(previous * duplicates))
            slices.append(Slice(b, partition, start - replayed, start, end))
    return sorted(slices, key=lambda s: (s.batch, s.partition))


def day_session(day: date) -> Session:
    """The exchange's session on `day` (the bench's days are sessions; a holiday is refused)."""
    session = session_on(day, get_settings().market.calendar)
    if session is None:
        raise ValueError(f"{day} is not a trading session of the exchange: pick another --day")
    return session


def ingested_at(day: date, batch: int, batches: int) -> datetime:
    """When append `batch` committed: a few seconds after the last event it carries."""
    session = day_session(day)
    return session.open + timedelta(seconds=session.seconds * (batch + 1) / batches + 5)


def tick_frame(spark, piece: Slice, day: date, ticks: int, batches: int, seed: int):
    """The rows of one slice, in RAW_COLUMNS order and types, as one Spark partition (one file)."""
    from pyspark.sql import functions as F

    from spark_jobs.stream_ticks import RAW_COLUMNS

    profiles = DEFAULT_UNIVERSE
    if len(profiles) % KAFKA_PARTITIONS:
        raise ValueError("tickers must divide evenly over the Kafka partitions")

    def by_ticker(values) -> Any:
        ticker = (F.col("i") % len(profiles)).cast("int")
        return F.element_at(F.array(*[F.lit(v) for v in values]), ticker + 1)

    def unit(salt: str) -> Any:
        """A uniform number in [0, 1) from the tick's sequence number: same tick, same value."""
        return (F.abs(F.xxhash64(F.lit(f"{seed}-{salt}"), F.col("i"))) % 1_000_000) / 1e6

    session = day_session(day)
    open_epoch = session.open.timestamp()
    seconds = F.col("i") * (session.seconds / ticks)
    # A smooth intraday path per ticker plus noise: prices move, OHLC differ, VWAP is non-trivial.
    path = 1 + 0.01 * F.sin(seconds / 3600 + F.col("i") % len(profiles)) + 0.002 * unit("noise")
    price = F.round(by_ticker([p.start_price for p in profiles]) * path, 2)
    volume = F.greatest(
        F.lit(1), (by_ticker([p.base_volume for p in profiles]) * (0.2 + 1.6 * unit("volume")))
    )
    spread = F.round(0.01 + 0.04 * unit("spread"), 2)
    columns = {
        "ticker": by_ticker([p.symbol for p in profiles]),
        "price": price,
        "volume": volume.cast("long"),
        "timestamp": F.lit(open_epoch) + seconds,
        "bid": F.round(price - spread, 2),
        "ask": F.round(price + spread, 2),
        "exchange": by_ticker([p.exchange for p in profiles]),
        "seq": (F.col("i") / len(profiles)).cast("long"),
        "tick_id": F.md5(F.concat_ws("-", F.lit(str(seed)), F.col("i").cast("string"))),
        "schema_version": F.lit(SCHEMA_VERSION).cast("long"),
        "event_time": F.timestamp_seconds(F.lit(open_epoch) + seconds),
        "trade_date": F.lit(day),
        "kafka_topic": F.lit(TOPIC),
        "kafka_partition": F.lit(piece.partition).cast("int"),
        "kafka_offset": F.col("id"),
        "kafka_timestamp": F.timestamp_seconds(F.lit(open_epoch) + seconds + 0.002),
        "ingested_at": F.lit(ingested_at(day, piece.batch, batches)),
    }
    return (
        spark.range(piece.first, piece.last, 1, numPartitions=1)
        .withColumn("i", F.col("id") * KAFKA_PARTITIONS + piece.partition)
        .select(*[columns[name].alias(name) for name in RAW_COLUMNS])
    )


@dataclass(frozen=True)
class RawDay:
    prefix: str
    raw_uri: str
    day: str
    ticks: int  # distinct Kafka offsets
    rows: int  # ticks + replayed copies
    appends: int
    files: int
    bytes: int
    delta_version: int
    seconds: float


def write_raw_day(
    spark, settings: Settings, day: date, ticks: int, batches: int, duplicates: float, seed: int
) -> RawDay:
    """Append the day to raw_ticks in `batches` Delta commits, like the stream's foreachBatch."""
    from delta.tables import DeltaTable

    raw_uri = table_uri(settings.s3, RAW_TICKS, scheme="s3a")
    slices = plan(ticks, batches, duplicates)
    started = time.monotonic()
    for batch in range(batches):
        pieces = [s for s in slices if s.batch == batch]
        frames = [tick_frame(spark, s, day, ticks, batches, seed) for s in pieces]
        frame = frames[0]
        for other in frames[1:]:
            frame = frame.union(other)  # one Spark partition, so one file, per Kafka partition
        frame.write.format("delta").mode("append").partitionBy("trade_date").save(raw_uri)
        if (batch + 1) % 10 == 0 or batch + 1 == batches:
            log.info("append %d of %d (%.0f s)", batch + 1, batches, time.monotonic() - started)
    seconds = time.monotonic() - started
    detail = DeltaTable.forPath(spark, raw_uri).detail().first()
    if int(detail["numFiles"]) != len(slices):
        raise RuntimeError(f"{detail['numFiles']} files in raw_ticks, expected {len(slices)}")
    return RawDay(
        prefix=settings.s3.prefix,
        raw_uri=table_uri(settings.s3, RAW_TICKS),
        day=day.isoformat(),
        ticks=ticks,
        rows=sum(s.last - s.first for s in slices),
        appends=batches,
        files=int(detail["numFiles"]),
        bytes=int(detail["sizeInBytes"]),
        delta_version=batches - 1,
        seconds=round(seconds, 2),
    )


def build_raw_day(
    prefix: str,
    folder: Path,
    *,
    day: date,
    ticks: int,
    batches: int,
    duplicates: float = 0.01,
    seed: int = 11,
) -> RawDay:
    """Run this module as its own process (its JVM is gone before anything is measured)."""
    from bench.stream_job import start_python, stop_job

    out, job_log = folder / "raw_day.json", folder / "batch_data.log"
    args = ["-m", "bench.batch_data", "--prefix", prefix, "--day", day.isoformat()]
    args += ["--ticks", str(ticks), "--batches", str(batches), "--duplicates", str(duplicates)]
    args += ["--seed", str(seed), "--out", str(out)]
    proc = start_python(args, job_log, {})
    try:
        code = proc.wait(timeout=GENERATE_TIMEOUT_S)
    finally:
        stop_job(proc)
    if code != 0:
        raise RuntimeError(f"generating raw_ticks exited with {code} - see {job_log}")
    return RawDay(**json.loads(out.read_text()))


def main(argv: list[str] | None = None) -> int:
    from stock_lakehouse.clients.spark_session import get_spark_session
    from stock_lakehouse.settings import get_settings

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prefix", required=True, help="S3 prefix of the tables")
    parser.add_argument("--day", type=date.fromisoformat, default=DEFAULT_DAY)
    parser.add_argument("--ticks", type=int, default=5_000_000, help="distinct ticks (offsets)")
    parser.add_argument("--batches", type=int, default=50, help="Delta appends (micro-batches)")
    parser.add_argument("--duplicates", type=float, default=0.01, help="share replayed")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--out", type=Path, required=True, help="summary JSON")
    args = parser.parse_args(argv)
    if args.ticks < args.batches * KAFKA_PARTITIONS:
        parser.error(f"--ticks {args.ticks} is too few for --batches {args.batches}")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("py4j").setLevel(logging.WARNING)
    settings = get_settings()
    settings = settings.model_copy(
        update={"s3": settings.s3.model_copy(update={"prefix": args.prefix})}
    )
    # Spark 4 gives a union of single-partition ranges one partition (one file per append); the
    # stream writes one file per Kafka partition, so each range keeps its own.
    spark = get_spark_session(
        "bench_batch_data", settings, **{"spark.sql.unionOutputPartitioning": "false"}
    )
    try:
        result = write_raw_day(
            spark, settings, args.day, args.ticks, args.batches, args.duplicates, args.seed
        )
    finally:
        spark.stop()
    log.info("raw_ticks %s: %s", args.day, result)
    args.out.write_text(json.dumps(asdict(result), indent=2) + "\n")
    return 0


def mib(count: int) -> str:
    return f"{count / 2**20:,.1f} MiB"


def per_second(count: float, seconds: float) -> float:
    return count / seconds if seconds > 0 else math.nan


if __name__ == "__main__":
    raise SystemExit(main())
