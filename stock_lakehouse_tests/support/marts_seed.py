"""A small lakehouse of our own for mart-level tests: seeded ticks as compacted_ticks, then dbt.

Three days, three tickers, a volume spike, a price jump and a tie broken by seq, written with
deltalake under a prefix of the test bucket; dbt runs as a subprocess, as Dagster runs it.
"""

from __future__ import annotations

import math
import os
import random
import subprocess
import sys
import uuid
from dataclasses import dataclass
from datetime import UTC, date, timedelta
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
from deltalake import write_deltalake

from stock_lakehouse.clients.s3 import deltalake_storage_options, ensure_bucket
from stock_lakehouse.market_calendar import session_on
from stock_lakehouse.settings import PROJECT_ROOT, Settings
from stock_lakehouse.tables import COMPACTED_TICKS, table_uri

DBT = Path(sys.executable).parent / "dbt"
DAYS = (date(2026, 3, 2), date(2026, 3, 3), date(2026, 3, 4))
TICKERS = {"AAPL": ("NASDAQ", 190.0), "MSFT": ("NASDAQ", 420.0), "JPM": ("NYSE", 200.0)}
MINUTES = 75  # per day from the session's open: enough bars for the 30- and 60-bar trailing windows
# The deliberate events (day index, ticker, minute): found by the marts and by pandas alike.
VOLUME_SPIKE = (1, "JPM", 40)
PRICE_JUMP = (2, "MSFT", 50)
SEQ_TIE = (0, "AAPL", 10)  # two trades in one microsecond, the minute's last: seq picks the close

# compacted_ticks as spark_jobs/compact_ticks.py writes it
TICKS_SCHEMA = pa.schema(
    [
        ("ticker", pa.string()),
        ("price", pa.float64()),
        ("volume", pa.int64()),
        ("timestamp", pa.float64()),
        ("bid", pa.float64()),
        ("ask", pa.float64()),
        ("exchange", pa.string()),
        ("seq", pa.int64()),
        ("tick_id", pa.string()),
        ("schema_version", pa.int64()),
        ("event_time", pa.timestamp("us", tz="UTC")),
        ("trade_date", pa.date32()),
        ("kafka_topic", pa.string()),
        ("kafka_partition", pa.int32()),
        ("kafka_offset", pa.int64()),
        ("kafka_timestamp", pa.timestamp("us", tz="UTC")),
        ("ingested_at", pa.timestamp("us", tz="UTC")),
    ]
)


Event = tuple[int, str, int]  # (day index, ticker, minute of the session)


def make_ticks(
    seed: int, volume_spike: Event = VOLUME_SPIKE, price_jump: Event = PRICE_JUMP
) -> pd.DataFrame:
    """A few thousand ticks: 0-6 trades a minute per ticker on a random walk, plus the events."""
    rng = random.Random(seed)
    rows = []
    for ticker_index, (ticker, (exchange, price)) in enumerate(TICKERS.items()):
        for day_index, day in enumerate(DAYS):
            for minute in range(MINUTES):
                here = (day_index, ticker, minute)
                if here == price_jump:
                    price *= 1.03  # ~30 one-minute sigmas
                trades = rng.randint(3 if here in (volume_spike, price_jump) else 0, 6)
                seconds = sorted(rng.uniform(0, 59.9) for _ in range(trades))
                if here == SEQ_TIE:
                    seconds = [*seconds, 59.95, 59.95]
                tie_ids = iter(("f" * 32, "0" * 32))  # tick_id order contradicts seq order
                for second in seconds:
                    price = round(price * math.exp(rng.gauss(0, 0.0005)), 4)
                    volume = rng.choice([0, *range(1, 500)])
                    if here == volume_spike:
                        volume = volume * 20 + 5_000
                    event_time = bar_start(day_index, minute).tz_localize(UTC) + timedelta(
                        seconds=second
                    )
                    rows.append(
                        {
                            "ticker": ticker,
                            "price": price,
                            "volume": volume,
                            "timestamp": event_time.timestamp(),
                            "bid": round(price - 0.01, 4),
                            "ask": round(price + 0.01, 4),
                            "exchange": exchange,
                            "seq": len(rows),  # increasing per ticker, as the simulator's
                            "tick_id": next(tie_ids)
                            if here == SEQ_TIE and second == 59.95
                            else uuid.UUID(int=rng.getrandbits(128)).hex,
                            "schema_version": 1,
                            "event_time": event_time,
                            "trade_date": day,
                            "kafka_topic": "stock-ticks",
                            "kafka_partition": ticker_index,
                            "kafka_offset": len(rows),
                            "kafka_timestamp": event_time,
                            "ingested_at": event_time + timedelta(seconds=2),
                        }
                    )
    return pd.DataFrame(rows)


def bar_start(day_index: int, minute: int) -> pd.Timestamp:
    """Start of a session minute, naive UTC like the marts' bar_start."""
    session = session_on(DAYS[day_index])
    assert session is not None, "the seed's days are trading sessions"
    return pd.Timestamp(session.open).tz_convert(None) + pd.Timedelta(minutes=minute)


def bar_of(event: Event) -> tuple[str, pd.Timestamp]:
    day_index, ticker, minute = event
    return ticker, bar_start(day_index, minute)


def bars_in(mart: pd.DataFrame) -> set[tuple[str, pd.Timestamp]]:
    return set(zip(mart.ticker, mart.bar_start, strict=True))


# --- a lakehouse of our own: a prefix in the test bucket and a DuckDB build file ----------------


@dataclass
class Lakehouse:
    settings: Settings
    prefix: str
    state_dir: Path

    @property
    def database(self) -> Path:
        return self.state_dir / "marts.duckdb"

    @property
    def ticks_uri(self) -> str:
        return table_uri(
            self.settings.s3.model_copy(update={"prefix": self.prefix}), COMPACTED_TICKS
        )

    def write_ticks(self, ticks: pd.DataFrame, predicate: str | None = None) -> None:
        write_deltalake(
            self.ticks_uri,
            pa.Table.from_pandas(ticks, schema=TICKS_SCHEMA, preserve_index=False),
            partition_by=["trade_date"],
            mode="overwrite" if predicate else "append",
            predicate=predicate,
            storage_options=deltalake_storage_options(self.settings.s3),
        )

    def dbt(
        self, *args: str, check: bool = True, **extra_env: str
    ) -> subprocess.CompletedProcess[str]:
        """Run dbt on this lakehouse. `check`: fail the test unless dbt succeeds."""
        env = {
            **os.environ,
            **extra_env,
            "S3_PREFIX": self.prefix,
            "MARTS_BUILD_DB": str(self.database),
            "DBT_TARGET_PATH": str(self.state_dir / "target"),
            "DBT_LOG_PATH": str(self.state_dir / "logs"),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        }
        command = [str(DBT), *args, "--project-dir", "dbt_project", "--profiles-dir", "dbt_project"]
        done = subprocess.run(
            command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300
        )
        if check:
            assert done.returncode == 0, f"{' '.join(args)} failed:\n{done.stdout[-5000:]}"
        return done

    def table(self, name: str) -> pd.DataFrame:
        """Every row of a mart, sorted by its key, with dates as datetime.date like the ticks."""
        with duckdb.connect(str(self.database), read_only=True) as con:
            df = con.execute(f"SELECT * FROM main.{name}").df()
        df["trade_date"] = pd.to_datetime(df.trade_date).dt.date
        key = [c for c in ("trade_date", "ticker", "bar_start", "rank") if c in df.columns]
        return df.sort_values(key).reset_index(drop=True)


def new_lakehouse(settings: Settings, root: Path, name: str) -> Lakehouse:
    ensure_bucket(settings.s3)
    lakehouse = Lakehouse(settings, prefix=name, state_dir=root / "dbt" / name)
    lakehouse.state_dir.mkdir(parents=True)
    return lakehouse
