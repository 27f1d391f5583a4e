"""Seed raw_ticks the way the stream does: Kafka-shaped batches through the stream's own writer.

Each batch becomes its own Delta commit with small files, like micro-batches; replaying batches
under a second app id (a new checkpoint) writes the same Kafka offsets twice, as a replay would.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, date, datetime, timedelta

from spark_jobs.stream_ticks import DeltaBatchWriter
from stock_lakehouse.market_calendar import session_on
from stock_lakehouse.settings import S3Settings
from stock_lakehouse.tables import COMPACTED_TICKS, QUARANTINE, RAW_TICKS, table_uri
from stock_lakehouse.ticks import SCHEMA_VERSION

KAFKA_SCHEMA = (
    "key binary, value binary, topic string, partition int, offset long, timestamp timestamp"
)
TICKERS = ("AAPL", "MSFT", "NVDA")
TOPIC = "stock-ticks"


def tick_payloads(day: date, count: int, seed: int) -> list[dict]:
    """`count` valid ticks spread over the exchange's session on `day`, reproducible from `seed`."""
    rng = random.Random(seed)
    session = session_on(day)
    if session is None:
        raise ValueError(f"{day} has no trading session: seed a trading day")
    opening = session.open
    prices = {t: 100.0 + 50 * i for i, t in enumerate(TICKERS)}
    ticks = []
    for seq in range(count):
        ticker = TICKERS[seq % len(TICKERS)]
        prices[ticker] = round(max(1.0, prices[ticker] * (1 + rng.gauss(0, 0.001))), 2)
        at = opening + timedelta(seconds=seq * session.seconds / count)
        ticks.append(
            {
                "ticker": ticker,
                "price": prices[ticker],
                "volume": rng.randint(1, 500),
                "timestamp": at.timestamp(),
                "bid": round(prices[ticker] - 0.01, 2),
                "ask": round(prices[ticker] + 0.01, 2),
                "exchange": "NASDAQ",
                "seq": seq,
                "tick_id": f"{day:%Y%m%d}{seq:010d}{seed:06d}",
                "schema_version": SCHEMA_VERSION,
            }
        )
    return ticks


class RawSeeder:
    """Writes Kafka-shaped batches to raw_ticks under one S3 prefix, through DeltaBatchWriter."""

    def __init__(self, spark, s3: S3Settings) -> None:
        self.spark = spark
        self.s3 = s3
        self.next_offset = 0
        self.writers: dict[str, DeltaBatchWriter] = {}
        self.batch_ids: dict[str, int] = {}

    def write(self, payloads: list[dict], *, app: str = "seed", offsets: list[int] | None = None):
        """One micro-batch; `offsets` given = a replay of messages already in Kafka."""
        if offsets is None:
            offsets = list(range(self.next_offset, self.next_offset + len(payloads)))
            self.next_offset += len(payloads)
        rows = [
            (
                p["ticker"].encode(),
                json.dumps(p).encode(),
                TOPIC,
                0,
                offset,
                datetime.fromtimestamp(p["timestamp"], UTC),
            )
            for p, offset in zip(payloads, offsets, strict=True)
        ]
        writer = self.writers.get(app)
        if writer is None:
            writer = DeltaBatchWriter(self.raw_uri, self.quarantine_uri, list(TICKERS), self.s3)
            writer.set_query_id(app)
            self.writers[app] = writer
        batch_id = self.batch_ids.get(app, 0)
        writer(self.spark.createDataFrame(rows, KAFKA_SCHEMA), batch_id)
        self.batch_ids[app] = batch_id + 1
        return offsets

    @property
    def raw_uri(self) -> str:
        return table_uri(self.s3, RAW_TICKS, scheme="s3a")

    @property
    def quarantine_uri(self) -> str:
        return table_uri(self.s3, QUARANTINE, scheme="s3a")

    @property
    def compacted_uri(self) -> str:
        return table_uri(self.s3, COMPACTED_TICKS, scheme="s3a")
