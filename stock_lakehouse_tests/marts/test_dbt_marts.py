"""compacted_ticks (Delta on the S3 store) -> dbt build on DuckDB -> marts, checked against pandas.

A seeded tick set (3 days, 3 tickers, a volume spike, a price jump, a tie broken by seq) is written
with deltalake under a prefix of its own; dbt runs as a subprocess, as Dagster runs it, and every
mart is compared with values computed here from the ticks alone.
"""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
import yaml

from stock_lakehouse.settings import PROJECT_ROOT, Settings
from stock_lakehouse_tests.support.marts_seed import (
    DAYS,
    PRICE_JUMP,
    SEQ_TIE,
    TICKERS,
    VOLUME_SPIKE,
    Lakehouse,
    bar_of,
    bars_in,
    make_ticks,
    new_lakehouse,
)

# the thresholds the models use by default, so the pandas versions cannot drift from them
VARS = yaml.safe_load((PROJECT_ROOT / "dbt_project" / "dbt_project.yml").read_text())["vars"]
PARTITIONED = ("fct_bars_1m", "fct_daily_summary", "fct_volume_spikes", "fct_price_anomalies")
MARTS = (*PARTITIONED, "fct_moving_averages", "fct_top_movers")
MARTS_YML = PROJECT_ROOT / "dbt_project" / "models" / "marts" / "_marts.yml"

pytestmark = pytest.mark.integration

# --- the marts, computed independently from the ticks ------------------------------------------


def ohlcv(ticks: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Open/high/low/close, volume, VWAP and trade count per group, in tick order."""
    t = ticks.sort_values(["event_time", "seq", "tick_id"]).assign(
        turnover=lambda d: d.price * d.volume
    )
    grouped = t.groupby(keys, as_index=False).agg(
        open=("price", "first"),
        high=("price", "max"),
        low=("price", "min"),
        close=("price", "last"),
        volume=("volume", "sum"),
        turnover=("turnover", "sum"),
        trade_count=("price", "size"),
    )
    grouped["vwap"] = (grouped.turnover / grouped.volume).where(grouped.volume > 0)
    return grouped.drop(columns="turnover")


def expected_bars(ticks: pd.DataFrame) -> pd.DataFrame:
    minutes = ticks.assign(bar_start=ticks.event_time.dt.floor("min").dt.tz_localize(None))
    return ohlcv(minutes, ["ticker", "trade_date", "bar_start"])


def expected_daily(ticks: pd.DataFrame) -> pd.DataFrame:
    daily = ohlcv(ticks, ["ticker", "trade_date"])
    daily["prev_close"] = daily.groupby("ticker").close.shift()
    daily["day_return"] = daily.close / daily.prev_close - 1
    daily["intraday_return"] = daily.close / daily.open - 1
    bars = expected_bars(ticks).sort_values("bar_start")
    log_returns = np.log(bars.close / bars.groupby(["ticker", "trade_date"]).close.shift())
    volatility = (log_returns**2).groupby([bars.ticker, bars.trade_date]).sum(min_count=1) ** 0.5
    daily["realized_volatility"] = [
        volatility[(r.ticker, r.trade_date)] for r in daily.itertuples()
    ]
    return daily


def expected_volume_spikes(bars: pd.DataFrame) -> pd.DataFrame:
    lookback, ratio = VARS["volume_spike_lookback_bars"], VARS["volume_spike_ratio"]
    b = bars.sort_values(["ticker", "bar_start"]).copy()
    b["trailing_avg_volume"] = b.groupby("ticker").volume.transform(
        lambda v: v.shift().rolling(lookback).mean()
    )
    b["volume_ratio"] = b.volume / b.trailing_avg_volume
    spikes = b[b.volume_ratio >= ratio]
    return spikes[
        ["ticker", "trade_date", "bar_start", "volume", "trailing_avg_volume", "volume_ratio"]
    ]


def expected_price_anomalies(bars: pd.DataFrame) -> pd.DataFrame:
    lookback, z = VARS["price_anomaly_lookback_bars"], VARS["price_anomaly_z"]
    b = bars.sort_values(["ticker", "bar_start"]).copy()
    b["bar_return"] = np.log(b.close / b.groupby(["ticker", "trade_date"]).close.shift())
    b = b.dropna(subset=["bar_return"])
    trailing = b.groupby("ticker").bar_return
    b["trailing_mean"] = trailing.transform(lambda r: r.shift().rolling(lookback).mean())
    b["trailing_std"] = trailing.transform(lambda r: r.shift().rolling(lookback).std())
    b["z_score"] = (b.bar_return - b.trailing_mean) / b.trailing_std
    anomalies = b[b.z_score.abs() >= z]
    return anomalies[
        [
            "ticker",
            "trade_date",
            "bar_start",
            "close",
            "bar_return",
            "trailing_mean",
            "trailing_std",
            "z_score",
        ]
    ]


def expected_top_movers(daily: pd.DataFrame) -> pd.DataFrame:
    n = VARS["top_movers_n"]
    movers = daily.dropna(subset=["day_return"]).assign(size=lambda d: d.day_return.abs())
    movers = movers.sort_values(["trade_date", "size", "ticker"], ascending=[True, False, True])
    movers["rank"] = movers.groupby("trade_date").cumcount() + 1
    movers["direction"] = np.where(movers.day_return < 0, "loser", "gainer")
    movers = movers[movers["rank"] <= n]
    return movers[
        ["trade_date", "rank", "ticker", "direction", "day_return", "close", "prev_close"]
    ]


def assert_same_rows(actual: pd.DataFrame, expected: pd.DataFrame) -> None:
    key = [c for c in ("trade_date", "ticker", "bar_start", "rank") if c in expected.columns]
    expected = expected.sort_values(key).reset_index(drop=True)
    assert list(actual.columns) == list(expected.columns)
    pd.testing.assert_frame_equal(
        actual, expected, check_dtype=False, check_exact=False, rtol=1e-12, atol=0
    )


@pytest.fixture(scope="module")
def built(services: Settings, test_state_dir: Path) -> Iterator[tuple[Lakehouse, pd.DataFrame]]:
    """One full `dbt build` (default vars: every day) over the seeded ticks."""
    lakehouse = new_lakehouse(services, test_state_dir, f"t{uuid.uuid4().hex[:10]}")
    ticks = make_ticks(seed=11)
    lakehouse.write_ticks(ticks)
    lakehouse.dbt("build")
    yield lakehouse, ticks
    shutil.rmtree(lakehouse.state_dir)  # kept when the build failed, for its logs


def test_bars_match_ohlcv_computed_from_the_ticks(built):
    lakehouse, ticks = built
    bars = lakehouse.table("fct_bars_1m")
    assert_same_rows(bars, expected_bars(ticks)[bars.columns])
    ticker, start = bar_of(SEQ_TIE)
    tied = ticks[(ticks.ticker == ticker) & (ticks.event_time.dt.tz_localize(None) >= start)]
    tied = tied[tied.event_time.dt.tz_localize(None) < start + pd.Timedelta(minutes=1)]
    last_two = tied.sort_values("seq").tail(2)
    assert last_two.event_time.nunique() == 1 and last_two.price.nunique() == 2
    # the later seq of the two trades in one microsecond closes the bar (its tick_id sorts first)
    close = bars[(bars.ticker == ticker) & (bars.bar_start == start)].close.item()
    assert close == last_two.price.iloc[-1]


def test_daily_summary_matches_the_ticks(built):
    lakehouse, ticks = built
    daily = lakehouse.table("fct_daily_summary")
    assert_same_rows(daily, expected_daily(ticks)[daily.columns])
    assert daily.prev_close.isna().sum() == len(TICKERS)  # each ticker's first day only
    assert daily.realized_volatility.gt(0).all()


def test_volume_spikes_and_price_anomalies_match_pandas_and_catch_the_injected_events(built):
    lakehouse, ticks = built
    bars = expected_bars(ticks)
    spikes = lakehouse.table("fct_volume_spikes")
    anomalies = lakehouse.table("fct_price_anomalies")
    assert_same_rows(spikes, expected_volume_spikes(bars))
    assert_same_rows(anomalies, expected_price_anomalies(bars))
    assert bar_of(VOLUME_SPIKE) in bars_in(spikes)
    assert bar_of(PRICE_JUMP) in bars_in(anomalies)


def test_top_movers_and_moving_averages_follow_the_daily_summary(built):
    lakehouse, ticks = built
    daily = expected_daily(ticks)
    assert_same_rows(lakehouse.table("fct_top_movers"), expected_top_movers(daily))
    averages = lakehouse.table("fct_moving_averages")
    columns = ["ticker", "trade_date", "close", "vwap"]
    assert_same_rows(averages[columns], daily[columns])
    # three days fill no 5- or 20-day window (dbt unit tests cover full windows)
    assert averages[["sma_5", "sma_20", "avg_volume_20"]].isna().all().all()


def contract_of(model: str) -> list[tuple[str, str]]:
    """(column, type) in the order _marts.yml declares them, types as DuckDB spells them."""
    models = {m["name"]: m for m in yaml.safe_load(MARTS_YML.read_text())["models"]}
    return [(c["name"], c["data_type"].upper()) for c in models[model]["columns"]]


def test_every_mart_is_built_with_exactly_its_contracts_columns_and_types(built):
    lakehouse, _ = built
    manifest = json.loads((lakehouse.state_dir / "target" / "manifest.json").read_text())
    with duckdb.connect(str(lakehouse.database), read_only=True) as con:
        for mart in MARTS:
            assert manifest["nodes"][f"model.stock_lakehouse.{mart}"]["contract"]["enforced"]
            built_columns = con.execute(
                "SELECT column_name, data_type FROM information_schema.columns"
                " WHERE table_schema = 'main' AND table_name = ? ORDER BY ordinal_position",
                [mart],
            ).fetchall()
            assert built_columns == contract_of(mart), mart


def test_duckdb_refuses_a_mart_row_without_its_key(built):
    lakehouse, _ = built
    with duckdb.connect(str(lakehouse.database)) as con:
        rows = con.execute("SELECT count(*) FROM main.fct_bars_1m").fetchone()
        with pytest.raises(duckdb.ConstraintException, match="NOT NULL"):
            con.execute(
                "INSERT INTO main.fct_bars_1m (ticker, trade_date, bar_start)"
                " VALUES (NULL, DATE '2026-12-01', TIMESTAMP '2026-12-01 15:00:00')"
            )
        assert con.execute("SELECT count(*) FROM main.fct_bars_1m").fetchone() == rows


def test_docs_generate_succeeds(built):
    lakehouse, _ = built
    catalog = lakehouse.state_dir / "target" / "catalog.json"
    catalog.unlink(missing_ok=True)
    lakehouse.dbt("docs", "generate")
    assert "model.stock_lakehouse.fct_bars_1m" in catalog.read_text()


def test_partition_run_rebuilds_its_day_and_leaves_the_others_byte_for_byte(
    services, test_state_dir, unique_name
):
    lakehouse = new_lakehouse(services, test_state_dir, unique_name)
    ticks = make_ticks(seed=11)
    lakehouse.write_ticks(ticks)
    lakehouse.dbt("build")
    before = {name: lakehouse.table(name) for name in PARTITIONED}
    assert set(before["fct_bars_1m"].trade_date) == set(DAYS)

    day1, day2, day3 = DAYS
    # New day-2 ticks whose events sit early in the day: only day 1's bars, built by the first
    # run and outside this run's window, give them the 30 volumes and 60 returns they need.
    spike, jump = (1, "AAPL", 5), (1, "JPM", 20)
    new_ticks = make_ticks(seed=99, volume_spike=spike, price_jump=jump)
    new_day2 = new_ticks[new_ticks.trade_date == day2]
    lakehouse.write_ticks(new_day2, predicate=f"trade_date = '{day2}'")
    lakehouse.dbt(
        "build",
        "--select",
        "tag:partitioned",
        "--vars",
        f"{{min_date: '{day2}', max_date: '{day3}'}}",
    )
    after = {name: lakehouse.table(name) for name in PARTITIONED}

    for name in PARTITIONED:
        old, new = before[name], after[name]
        for day in (day1, day3):
            pd.testing.assert_frame_equal(
                old[old.trade_date == day].reset_index(drop=True),
                new[new.trade_date == day].reset_index(drop=True),
                check_exact=True,
            )
    # day 2 now equals a full build over day 1 and the new day 2
    ticks = pd.concat([ticks[ticks.trade_date == day1], new_day2])
    bars = expected_bars(ticks)
    expected = {
        "fct_bars_1m": bars,
        "fct_daily_summary": expected_daily(ticks),
        "fct_volume_spikes": expected_volume_spikes(bars),
        "fct_price_anomalies": expected_price_anomalies(bars),
    }
    for name, rows in expected.items():
        actual = after[name][after[name].trade_date == day2].reset_index(drop=True)
        assert_same_rows(actual, rows[rows.trade_date == day2][actual.columns])
    assert bar_of(spike) in bars_in(after["fct_volume_spikes"])
    assert bar_of(jump) in bars_in(after["fct_price_anomalies"])
    shutil.rmtree(lakehouse.state_dir)  # kept on failure, for dbt's logs and the database


def test_trading_sessions_come_from_the_exchange_calendar(built):
    """dbt reads the sessions the plugin writes from MARKET_CALENDAR: DST, holidays, early
    closes, as market_calendar.py knows them."""
    lakehouse, _ = built
    with duckdb.connect(str(lakehouse.database), read_only=True) as con:
        sessions = dict(
            (day.isoformat(), (opens.isoformat(), closes.isoformat()))
            for day, opens, closes in con.execute(
                "SELECT session_date, open_utc, close_utc FROM lakehouse.trading_sessions"
                " WHERE session_date BETWEEN DATE '2026-03-06' AND DATE '2026-11-30'"
            ).fetchall()
        )
    assert sessions["2026-03-06"] == ("2026-03-06T14:30:00", "2026-03-06T21:00:00")  # winter
    assert sessions["2026-03-09"] == ("2026-03-09T13:30:00", "2026-03-09T20:00:00")  # summer
    assert "2026-03-07" not in sessions and "2026-11-26" not in sessions  # Saturday, Thanksgiving
    assert sessions["2026-11-27"] == ("2026-11-27T14:30:00", "2026-11-27T18:00:00")  # early close


def test_a_bar_outside_the_session_stops_the_marts_unless_the_feed_trades_around_the_clock(
    services, test_state_dir, unique_name
):
    lakehouse = new_lakehouse(services, test_state_dir, unique_name)
    ticks = make_ticks(seed=5)
    late = ticks.iloc[[0]].copy()  # one trade nine hours after the open: past the close
    late["event_time"] = late.event_time + pd.Timedelta(hours=9)
    late["tick_id"] = "after-hours"
    lakehouse.write_ticks(pd.concat([ticks, late], ignore_index=True))

    refused = lakehouse.dbt("build", check=False)
    assert refused.returncode != 0
    assert "FAIL 1 fct_bars_1m_inside_the_session" in refused.stdout, refused.stdout[-3000:]

    warned = lakehouse.dbt("build", check=False, COMPACTION_OUTSIDE_SESSION="warn")
    assert warned.returncode == 0, warned.stdout[-3000:]
    assert "WARN 1 fct_bars_1m_inside_the_session" in warned.stdout, warned.stdout[-3000:]
