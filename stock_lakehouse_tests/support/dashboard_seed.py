"""All the dashboard reads, built for real under a test prefix: marts, raw, quarantine, labels.

The marts come from `dbt build` over the seeded compacted_ticks of marts_seed (three March days)
and are published as the pipeline publishes them; raw_ticks gets a few hundred ticks of *today*
(the Live page reads only today), quarantine a handful of rejected messages, and the labels file
the two injected events of the seed plus one for a ticker the marts never saw.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pyarrow as pa
from deltalake import DeltaTable, write_deltalake

from stock_lakehouse.clients.s3 import deltalake_storage_options
from stock_lakehouse.marts.publish import publish
from stock_lakehouse.settings import S3Settings, Settings
from stock_lakehouse.tables import QUARANTINE, RAW_TICKS, table_uri
from stock_lakehouse_tests.support.marts_seed import (
    PRICE_JUMP,
    TICKERS,
    TICKS_SCHEMA,
    VOLUME_SPIKE,
    bar_start,
    make_ticks,
    new_lakehouse,
)

QUARANTINED = {"malformed_json": 3, "unknown_ticker": 2, "crossed_quote": 1}
QUARANTINE_SCHEMA = pa.schema(
    [
        ("reason", pa.string()),
        ("detail", pa.string()),
        ("payload_text", pa.string()),
        ("trade_date", pa.date32()),
        ("kafka_offset", pa.int64()),
    ]
)


@dataclass(frozen=True)
class DashboardLake:
    prefix: str
    published_db: Path
    labels_file: Path
    compacted: pd.DataFrame  # the seeded ticks behind the marts
    s3: S3Settings  # the test bucket, under `prefix`

    def env(self) -> dict[str, str]:
        """Settings that point the dashboard at this lake and nothing else."""
        return {
            "S3_PREFIX": self.prefix,
            "MARTS_PUBLISHED_DB": str(self.published_db),
            "DASHBOARD_LABELS_FILE": str(self.labels_file),
        }


def build_dashboard_lake(settings: Settings, root: Path, prefix: str) -> DashboardLake:
    lakehouse = new_lakehouse(settings, root, prefix)
    compacted = make_ticks(seed=11)
    lakehouse.write_ticks(compacted)
    lakehouse.dbt("build")
    published = lakehouse.state_dir / "published" / "marts.duckdb"
    publish(lakehouse.database, published)

    s3 = settings.s3.model_copy(update={"prefix": prefix})
    now = datetime.now(UTC)
    append_raw_ticks(s3, todays_ticks(now))
    rejected = [
        {
            "reason": reason,
            "detail": "seeded",
            "payload_text": "{}",
            "trade_date": now.date(),
            "kafka_offset": 1000 + i,
        }
        for reason, count in QUARANTINED.items()
        for i in range(count)
    ]
    write_deltalake(
        table_uri(s3, QUARANTINE),
        pa.Table.from_pylist(rejected, schema=QUARANTINE_SCHEMA),
        partition_by=["trade_date"],
        storage_options=deltalake_storage_options(s3),
    )
    labels = lakehouse.state_dir / "labels.jsonl"
    write_labels(labels)
    return DashboardLake(prefix, published, labels, compacted, s3)


def append_raw_ticks(s3: S3Settings, ticks: pd.DataFrame) -> None:
    """One more commit to raw_ticks, as a stream micro-batch would add."""
    write_deltalake(
        table_uri(s3, RAW_TICKS),
        pa.Table.from_pandas(ticks, schema=TICKS_SCHEMA, preserve_index=False),
        mode="append",
        partition_by=["trade_date"],
        storage_options=deltalake_storage_options(s3),
    )


def read_raw_ticks(s3: S3Settings, day: date) -> pd.DataFrame:
    """raw_ticks of one day through deltalake: the reference the dashboard's DuckDB reads meet."""
    table = DeltaTable(table_uri(s3, RAW_TICKS), storage_options=deltalake_storage_options(s3))
    return table.to_pandas(filters=[("trade_date", "=", day)])


def todays_ticks(now: datetime, count: int = 300, seed: int = 5) -> pd.DataFrame:
    """`count` ticks in the last four minutes (never before today's midnight, UTC)."""
    rng = random.Random(seed)
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    earliest = max(midnight, now - timedelta(minutes=4))
    span = (now - earliest).total_seconds()
    rows = []
    for seq in range(count):
        ticker = list(TICKERS)[seq % len(TICKERS)]
        at = earliest + timedelta(seconds=span * seq / count)
        price = round(TICKERS[ticker][1] * (1 + rng.gauss(0, 0.002)), 2)
        rows.append(
            {
                "ticker": ticker,
                "price": price,
                "volume": rng.randint(1, 500),
                "timestamp": at.timestamp(),
                "bid": price - 0.01,
                "ask": price + 0.01,
                "exchange": TICKERS[ticker][0],
                "seq": seq,
                "tick_id": f"live{seed:04d}{seq:08d}",
                "schema_version": 1,
                "event_time": at,
                "trade_date": at.date(),
                "kafka_topic": "stock-ticks",
                "kafka_partition": 0,
                "kafka_offset": seq,
                "kafka_timestamp": at,
                "ingested_at": at + timedelta(seconds=1),
            }
        )
    return pd.DataFrame(rows)


def write_labels(path: Path) -> None:
    """Ground truth as the simulator writes it: the seed's two events and one stranger."""

    def label(event, kind: str, duration: float, symbol: str | None = None) -> dict:
        day_index, ticker, minute = event
        at = bar_start(day_index, minute).tz_localize(UTC) + timedelta(seconds=1)
        return {
            "symbol": symbol or ticker,
            "kind": kind,
            "event_time": at.timestamp(),
            "magnitude": 10.0,
            "duration_s": duration,
            "tick_id": "seeded",
            "seq": 0,
            "topic": "stock-ticks",
        }

    lines = [
        label(VOLUME_SPIKE, "volume_spike", 50.0),
        label(PRICE_JUMP, "price_jump", 0.0),
        label(PRICE_JUMP, "price_jump", 0.0, symbol="TSLA"),  # not in the marts: never counted
    ]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
