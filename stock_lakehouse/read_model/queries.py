"""What the dashboard reads: the published marts, and raw_ticks / quarantine for the live view.

Read-only by construction. The marts come from the published DuckDB copy (never the file dbt is
writing), opened for one query and closed again: DuckDB keeps one instance per open path and
process, so a held connection would keep showing the copy that was current when it opened.
Raw tables are read through DuckDB's delta extension with the package's one S3 configuration.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import duckdb
import pandas as pd

from stock_lakehouse.clients import duckdb_conn
from stock_lakehouse.clients.delta_log import TableStats, table_stats
from stock_lakehouse.clients.s3 import s3_answers
from stock_lakehouse.errors import UserFacingError
from stock_lakehouse.settings import Settings
from stock_lakehouse.tables import COMPACTED_TICKS, QUARANTINE, RAW_TICKS, table_uri

PARTITIONED_MARTS = ("fct_bars_1m", "fct_daily_summary", "fct_volume_spikes", "fct_price_anomalies")
# The Live page scans only this much of today's raw_ticks: file statistics on event_time let the
# delta extension skip every older micro-batch file, so a refresh stays fast late in the day.
LIVE_WINDOW = timedelta(minutes=15)
TICK_RATE_WINDOW = timedelta(seconds=60)


class NoData(UserFacingError):
    """Nothing to show yet: the pipeline has not produced what a page reads."""


class StoreUnavailable(UserFacingError):
    """The S3 store (or the published marts file) cannot be read right now."""


# --- marts ----------------------------------------------------------------------------------------


@contextmanager
def marts(settings: Settings) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection to the published marts, closed on exit."""
    path = settings.marts.published_db
    if not path.exists():
        raise NoData(
            f"no marts published yet at {path} - run 'make demo' and let a day close, or "
            "materialize the daily_refresh job for a day in the Dagster UI"
        )
    try:
        con = duckdb_conn.connect_file(path, read_only=True)
    except duckdb.Error as exc:
        raise StoreUnavailable(f"cannot open the marts at {path}: {_first_line(exc)}") from exc
    try:
        yield con
    finally:
        con.close()


def marts_query(settings: Settings, sql: str, params: Sequence[object] = ()) -> pd.DataFrame:
    with marts(settings) as con:
        try:
            return con.execute(sql, list(params)).df()
        except duckdb.CatalogException as exc:
            raise NoData(
                f"the published marts lack a table this page needs ({_first_line(exc)}) - "
                "materialize the marts in Dagster"
            ) from exc


def published_at(settings: Settings) -> datetime | None:
    path = settings.marts.published_db
    return datetime.fromtimestamp(path.stat().st_mtime, UTC) if path.exists() else None


def available_days(settings: Settings) -> list[date]:
    days = marts_query(
        settings, "SELECT DISTINCT trade_date FROM fct_daily_summary ORDER BY trade_date"
    )
    return [pd.Timestamp(d).date() for d in days.trade_date]


def available_tickers(settings: Settings) -> list[str]:
    return marts_query(
        settings, "SELECT DISTINCT ticker FROM fct_daily_summary ORDER BY ticker"
    ).ticker.tolist()


def _in_range(
    tickers: Sequence[str], start: date, end: date, alias: str = ""
) -> tuple[str, list[object]]:
    """WHERE clause (inclusive dates) shared by every per-ticker mart query."""
    a = f"{alias}." if alias else ""
    clause = f"{a}ticker IN (SELECT unnest(?)) AND {a}trade_date BETWEEN ? AND ?"
    return clause, [list(tickers), start, end]


def daily_bars(settings: Settings, tickers: Sequence[str], start: date, end: date) -> pd.DataFrame:
    """Daily OHLCV, VWAP and returns, with the moving averages of fct_moving_averages once the
    summary marts exist (they follow the daily marts, so for a while they may not)."""
    where, params = _in_range(tickers, start, end, alias="s")
    with marts(settings) as con:
        averages = "fct_moving_averages" in _tables(con)
    join = "LEFT JOIN fct_moving_averages m USING (ticker, trade_date)" if averages else ""
    sma = "m.sma_5, m.sma_20" if averages else "NULL::DOUBLE AS sma_5, NULL::DOUBLE AS sma_20"
    return marts_query(
        settings,
        f"""
        SELECT s.ticker, s.trade_date, s.trade_date::TIMESTAMP AS bar_start, s.open, s.high,
               s.low, s.close, s.volume, s.vwap, s.trade_count, s.prev_close, s.day_return,
               s.intraday_return, s.realized_volatility, {sma}
        FROM fct_daily_summary s {join}
        WHERE {where}
        ORDER BY s.ticker, s.trade_date
        """,
        params,
    )


def _tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {row[0] for row in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}


def minute_bars(settings: Settings, tickers: Sequence[str], start: date, end: date) -> pd.DataFrame:
    """1-minute bars with 5- and 20-bar simple moving averages of the close, per ticker and day."""
    where, params = _in_range(tickers, start, end)
    return marts_query(
        settings,
        f"""
        SELECT ticker, trade_date, bar_start, open, high, low, close, volume, vwap, trade_count,
               avg(close) OVER (PARTITION BY ticker, trade_date ORDER BY bar_start
                                ROWS BETWEEN 4 PRECEDING AND CURRENT ROW) AS sma_5,
               avg(close) OVER (PARTITION BY ticker, trade_date ORDER BY bar_start
                                ROWS BETWEEN 19 PRECEDING AND CURRENT ROW) AS sma_20
        FROM fct_bars_1m
        WHERE {where}
        ORDER BY ticker, bar_start
        """,
        params,
    )


def top_movers(settings: Settings, day: date) -> pd.DataFrame:
    return marts_query(
        settings,
        "SELECT rank, ticker, direction, day_return, close, prev_close FROM fct_top_movers "
        "WHERE trade_date = ? ORDER BY rank",
        [day],
    )


def volume_spikes(
    settings: Settings, tickers: Sequence[str], start: date, end: date
) -> pd.DataFrame:
    where, params = _in_range(tickers, start, end)
    return marts_query(
        settings,
        f"SELECT ticker, trade_date, bar_start, volume, trailing_avg_volume, volume_ratio "
        f"FROM fct_volume_spikes WHERE {where} ORDER BY bar_start, ticker",
        params,
    )


def price_anomalies(
    settings: Settings, tickers: Sequence[str], start: date, end: date
) -> pd.DataFrame:
    where, params = _in_range(tickers, start, end)
    return marts_query(
        settings,
        f"SELECT ticker, trade_date, bar_start, close, bar_return, trailing_mean, trailing_std, "
        f"z_score FROM fct_price_anomalies WHERE {where} ORDER BY bar_start, ticker",
        params,
    )


def marts_rows_per_day(settings: Settings) -> pd.DataFrame:
    """Rows per trade_date of each daily mart, plus the ticks they summarise (sum of trades)."""
    selects = " UNION ALL ".join(
        f"SELECT '{name}' AS mart, trade_date, count(*) AS rows FROM {name} GROUP BY ALL"
        for name in PARTITIONED_MARTS
    )
    with marts(settings) as con:
        if not set(PARTITIONED_MARTS) <= _tables(con):
            return pd.DataFrame(columns=["trade_date", *PARTITIONED_MARTS, "ticks_in_marts"])
        counts = con.execute(selects).df()
        ticks = con.execute(
            "SELECT trade_date, sum(trade_count) AS ticks_in_marts FROM fct_daily_summary "
            "GROUP BY ALL"
        ).df()
    wide = counts.pivot_table(index="trade_date", columns="mart", values="rows", fill_value=0)
    wide = wide.reindex(columns=list(PARTITIONED_MARTS), fill_value=0).reset_index()
    return wide.merge(ticks, on="trade_date", how="outer").sort_values("trade_date")


# --- raw tables on the S3 store ------------------------------------------------------------------


def lake_stats(settings: Settings, table: str) -> TableStats:
    """Per-day rows, files and last write of a Delta table, from its log alone."""
    try:
        return table_stats(table_uri(settings.s3, table), settings.s3, time_column="event_time")
    except OSError as exc:  # deltalake raises OSError subclasses for transport failures
        raise _store_error(settings, exc) from exc


def raw_query(settings: Settings, sql: str, params: Sequence[object] = ()) -> pd.DataFrame:
    """A query over the lake; `{raw}`, `{quarantine}` and `{compacted}` stand for their scans."""
    scans = {
        name: f"delta_scan('{table_uri(settings.s3, table)}')"
        for name, table in (
            ("raw", RAW_TICKS),
            ("quarantine", QUARANTINE),
            ("compacted", COMPACTED_TICKS),
        )
    }
    try:
        con = duckdb_conn.connect(s3=settings.s3)
    except duckdb.Error as exc:
        raise _store_error(settings, exc) from exc
    try:
        return con.execute(sql.format(**scans), list(params)).df()
    except duckdb.Error as exc:
        raise _store_error(settings, exc) from exc
    finally:
        con.close()


# The Live page's per-ticker view of today's newest ticks (bench_query measures it too). `{raw}` is
# the table; the parameters: the day, the oldest event time to read, the rate window in µs.
LIVE_RECENT_SQL = """
    WITH recent AS (SELECT * FROM {raw} WHERE trade_date = ? AND event_time >= ?),
         newest AS (SELECT max(event_time) AS at FROM recent)
    SELECT ticker, arg_max(price, (event_time, seq)) AS last_price,
           max(event_time) AS last_event,
           count(*) FILTER (WHERE event_time > newest.at - to_microseconds(?))
               AS ticks_last_minute,
           count(*) AS ticks_in_window
    FROM recent, newest
    GROUP BY ticker ORDER BY ticker
"""


@dataclass(frozen=True)
class LiveSnapshot:
    day: date
    rows_today: int
    latest_event: datetime | None
    behind: timedelta | None  # now - latest event time
    ticks_per_second: float
    per_ticker: pd.DataFrame  # ticker, last_price, last_event, ticks (in the window)


def live_snapshot(settings: Settings, now: datetime | None = None) -> LiveSnapshot:
    """Today's raw_ticks: the day's totals from the Delta log, last prices from the recent files."""
    now = now or datetime.now(UTC)
    today = now.date()
    stats = lake_stats(settings, RAW_TICKS)
    if stats.version < 0:
        raise NoData(
            "raw_ticks does not exist yet - start the stream ('make demo', or the ingest_stream "
            "job in Dagster) and produce ticks"
        )
    day = stats.days.get(today.isoformat())
    if day is None or day.rows == 0:
        raise NoData(
            f"no ticks for today ({today}) in raw_ticks yet - is the simulator producing "
            "('stock-lakehouse simulate --live') and the ingest_stream run in Dagster running?"
        )
    latest = day.max_event_time
    if latest is not None and latest.tzinfo is None:
        latest = latest.replace(tzinfo=UTC)
    # The rate is over the minute up to the newest tick, not up to now: a stream running behind
    # still shows how fast ticks arrive, and `behind` says how far behind it is.
    rate_from = (latest or now) - TICK_RATE_WINDOW
    recent = raw_query(
        settings,
        LIVE_RECENT_SQL,
        [today, min(rate_from, now - LIVE_WINDOW), int(TICK_RATE_WINDOW.total_seconds() * 1e6)],
    )
    per_second = float(recent.ticks_last_minute.sum()) / TICK_RATE_WINDOW.total_seconds()
    return LiveSnapshot(
        day=today,
        rows_today=day.rows,
        latest_event=latest,
        behind=(now - latest) if latest else None,
        ticks_per_second=per_second,
        per_ticker=recent,
    )


def quarantine_by_reason(settings: Settings) -> pd.DataFrame:
    """Quarantined messages per day and reason (empty when nothing was ever quarantined)."""
    if lake_stats(settings, QUARANTINE).version < 0:
        return pd.DataFrame(columns=["trade_date", "reason", "messages"])
    return raw_query(
        settings,
        "SELECT trade_date, reason, count(*) AS messages FROM {quarantine} "
        "GROUP BY ALL ORDER BY trade_date DESC, messages DESC",
    )


def _store_error(settings: Settings, exc: Exception) -> UserFacingError:
    if not s3_answers(settings.s3):
        return StoreUnavailable(
            f"the S3 store at {settings.s3.endpoint_url} does not answer - start it with "
            "'make services-up' (or check S3_ENDPOINT_URL and the credentials in .env)"
        )
    return StoreUnavailable(f"reading the lake failed: {_first_line(exc)}")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
