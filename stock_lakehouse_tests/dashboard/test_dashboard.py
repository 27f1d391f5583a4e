"""Every dashboard page run by Streamlit's AppTest against a real lake: marts built by dbt, raw and
quarantine Delta tables on the S3 store. Numbers on the pages are compared with the marts."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime

import duckdb
import pandas as pd
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from stock_lakehouse.clients.delta_log import DayStats, TableStats
from stock_lakehouse.dashboard import scoring
from stock_lakehouse.read_model.day_status import MODELLED, STREAMING
from stock_lakehouse.settings import PROJECT_ROOT, get_settings
from stock_lakehouse_tests.support.dashboard_seed import QUARANTINED, DashboardLake, read_raw_ticks
from stock_lakehouse_tests.support.marts_seed import DAYS, PRICE_JUMP, TICKERS, VOLUME_SPIKE

APP = PROJECT_ROOT / "stock_lakehouse" / "dashboard" / "app.py"
pytestmark = pytest.mark.integration


def open_page(page: str | None = None) -> AppTest:
    app = AppTest.from_file(str(APP), default_timeout=120)
    app.run()
    if page:
        app.switch_page(f"views/{page}.py").run()
    assert not app.exception, [e.value for e in app.exception]
    return app


@pytest.fixture
def pointed_at(monkeypatch) -> Iterator:
    """Point the in-process dashboard at a given environment; fresh settings and caches."""

    def point(env: dict[str, str]) -> None:
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()
        st.cache_data.clear()

    yield point
    monkeypatch.undo()
    get_settings.cache_clear()
    st.cache_data.clear()


@pytest.fixture
def lake(dashboard_lake: DashboardLake, pointed_at) -> DashboardLake:
    pointed_at(dashboard_lake.env())
    return dashboard_lake


def marts_sql(lake: DashboardLake, sql: str) -> pd.DataFrame:
    with duckdb.connect(str(lake.published_db), read_only=True) as con:
        return con.execute(sql).df()


def table(app: AppTest, *columns: str) -> pd.DataFrame:
    """The one table on the page with these columns (AppTest does not expose dataframe keys)."""
    tables = [d.value for d in app.dataframe if set(columns) <= set(d.value.columns)]
    assert len(tables) == 1, [list(d.value.columns) for d in app.dataframe]
    return tables[0]


def metric(app: AppTest, label: str) -> str:
    values = [m.value for m in app.metric if m.label == label]
    assert len(values) == 1, [m.label for m in app.metric]
    return values[0]


def test_market_page_draws_each_symbol_and_shows_the_marts_numbers(lake):
    app = open_page()
    charts = app.get("plotly_chart")
    assert len(charts) == len(TICKERS)  # one candlestick chart per default symbol, all three
    summary = table(app, "realized_volatility")
    expected = marts_sql(
        lake, "SELECT * FROM fct_daily_summary ORDER BY ticker, trade_date"
    ).reset_index(drop=True)
    assert len(summary) == len(DAYS) * len(TICKERS)
    for column in ("close", "volume", "vwap", "trade_count", "day_return"):
        pd.testing.assert_series_equal(
            summary[column].reset_index(drop=True), expected[column], check_dtype=False
        )
    movers = table(app, "rank", "direction")
    expected_movers = marts_sql(
        lake, f"SELECT ticker FROM fct_top_movers WHERE trade_date = '{DAYS[-1]}' ORDER BY rank"
    )
    assert movers.ticker.tolist() == expected_movers.ticker.tolist()
    assert len(movers) > 0

    app.sidebar.radio(key="market-bars").set_value("daily").run()
    assert not app.exception
    assert len(app.get("plotly_chart")) == len(TICKERS)


def test_anomalies_page_lists_the_flags_and_scores_them_against_the_labels(lake):
    app = open_page("anomalies")
    app.sidebar.date_input(key="anomalies-days").set_value((DAYS[0], DAYS[-1])).run()
    assert not app.exception
    spikes = marts_sql(lake, "SELECT ticker, bar_start FROM fct_volume_spikes")
    anomalies = marts_sql(lake, "SELECT ticker, bar_start FROM fct_price_anomalies")
    assert metric(app, "volume spikes") == f"{len(spikes):,}"
    assert metric(app, "price anomalies") == f"{len(anomalies):,}"
    assert len(table(app, "volume_ratio")) == len(spikes)
    assert len(table(app, "z_score")) == len(anomalies)
    assert len(app.get("plotly_chart")) == 1

    # Both injected events are flagged; every other flag of their kind is a false alarm. TSLA's
    # label is outside the marts and must not count.
    injected = [m.value for m in app.metric if m.label == "injected"]
    found = [m.value for m in app.metric if m.label == "found"]
    false_alarms = [m.value for m in app.metric if m.label == "false alarms"]
    assert injected == ["1", "1"] and found == ["1", "1"]
    assert false_alarms == [
        str(_flags_off_event(spikes, VOLUME_SPIKE, minutes=0)),
        str(_flags_off_event(anomalies, PRICE_JUMP, minutes=0)),
    ]


def _flags_off_event(flags: pd.DataFrame, event, minutes: int) -> int:
    """Flags that are not the event's own bar (or the next one, the scoring's tolerance)."""
    day_index, ticker, minute = event
    start = pd.Timestamp(DAYS[day_index]) + pd.Timedelta(hours=14, minutes=30 + minute)
    own = (flags.ticker == ticker) & flags.bar_start.between(
        start, start + pd.Timedelta(minutes=1 + minutes)
    )
    return int((~own).sum())


def test_live_page_shows_todays_ticks_from_raw(lake):
    app = open_page("live")
    today = datetime.now(UTC).date()
    raw = read_raw_ticks(lake.s3, today)
    assert len(raw) > 0
    assert metric(app, f"ticks today ({today})") == f"{len(raw):,}"
    prices = table(app, "last_price").set_index("ticker")
    last = raw.sort_values(["event_time", "seq"]).groupby("ticker").price.last()
    assert prices.last_price.sort_index().tolist() == last.sort_index().tolist()
    assert metric(app, "latest event (UTC)") == f"{raw.event_time.max():%H:%M:%S}"
    last_minute = raw.event_time > raw.event_time.max() - pd.Timedelta(seconds=60)
    assert metric(app, "ticks per second (last minute of data)") == f"{last_minute.sum() / 60:,.1f}"
    assert len(app.get("plotly_chart")) == 1


def test_pipeline_page_shows_each_day_status_and_quarantine_reasons(lake):
    app = open_page("pipeline")
    days = table(app, "status", "raw_rows").set_index("trade_date")
    for day in DAYS:
        row = days.loc[day.isoformat()]
        rows = int((lake.compacted.trade_date == day).sum())
        assert row.status == MODELLED
        assert row.compacted_rows == rows and row.ticks_in_marts == rows
    today = datetime.now(UTC).date()
    row = days.loc[today.isoformat()]
    assert row.status == STREAMING and row.raw_rows == len(read_raw_ticks(lake.s3, today))
    reasons = table(app, "reason", "messages").set_index("reason").messages.to_dict()
    assert reasons == QUARANTINED
    assert len(app.get("plotly_chart")) == 1


@pytest.mark.parametrize("page", [None, "anomalies", "live", "pipeline"])
def test_every_page_explains_an_empty_lake_instead_of_failing(
    page, services, pointed_at, test_state_dir, unique_name
):
    pointed_at(
        {
            "S3_PREFIX": unique_name,  # nothing was ever written here
            "MARTS_PUBLISHED_DB": str(test_state_dir / unique_name / "none.duckdb"),
        }
    )
    app = open_page(page)
    messages = " ".join(i.value for i in app.info)
    assert "make demo" in messages or "stream" in messages, messages
    assert not app.error


@pytest.mark.parametrize("page", ["live", "pipeline"])
def test_a_stopped_s3_store_is_one_clear_error(page, dashboard_lake, pointed_at):
    pointed_at({**dashboard_lake.env(), "S3_ENDPOINT_URL": "http://127.0.0.1:9"})  # discard port
    app = open_page(page)
    assert [e.value for e in app.error] == [
        "the S3 store at http://127.0.0.1:9 does not answer - start it with 'make services-up' "
        "(or check S3_ENDPOINT_URL and the credentials in .env)"
    ]


# --- the pure parts, without services ---------------------------------------------------------


def test_score_counts_found_events_and_false_alarms_per_kind():
    labels = pd.DataFrame(
        {
            "symbol": ["AAPL", "AAPL", "MSFT"],
            "kind": ["volume_spike", "price_jump", "volume_spike"],
            "event_time": [
                pd.Timestamp("2026-03-02 15:00:30").timestamp(),
                pd.Timestamp("2026-03-02 16:00:10").timestamp(),
                pd.Timestamp("2026-03-02 17:00:00").timestamp(),
            ],
            "duration_s": [300.0, 0.0, 60.0],
            "magnitude": [8.0, 0.01, 6.0],
        }
    )
    truth = scoring.labels_in(labels, ["AAPL", "MSFT"], [date(2026, 3, 2)])
    spikes = pd.DataFrame(
        {
            "ticker": ["AAPL", "AAPL", "MSFT", "MSFT"],
            # inside the 5-minute spike, its last bar, a day later (false), before MSFT's (false)
            "bar_start": pd.to_datetime(
                ["2026-03-02 15:02", "2026-03-02 15:05", "2026-03-03 15:02", "2026-03-02 16:58"]
            ),
        }
    )
    result = scoring.score(truth, spikes, "volume_spike")
    assert (result.injected, result.found, result.flags, result.false_alarms) == (2, 1, 4, 2)
    assert result.recall == 0.5 and result.precision == 0.5
    jumps = scoring.score(truth, spikes.iloc[:0], "price_jump")
    assert (jumps.injected, jumps.found, jumps.flags, jumps.precision) == (1, 0, 0, None)
    assert scoring.labels_in(labels, ["AAPL"], [date(2026, 3, 3)]).empty


def test_day_status_follows_each_day_through_the_layers():
    from stock_lakehouse.read_model.day_status import COMPACTED, RAW_ONLY, STALE, day_status

    raw = TableStats(
        5,
        {d: DayStats(100, 4, 1) for d in ("2026-03-02", "2026-03-03", "2026-03-04", "2026-03-05")},
    )
    raw.days["2026-03-06"] = DayStats(7, 1, 1)
    compacted = TableStats(
        2, {d: DayStats(90, 1, 1) for d in ("2026-03-02", "2026-03-03", "2026-03-04")}
    )
    marts = pd.DataFrame(
        {"trade_date": [date(2026, 3, 2), date(2026, 3, 3)], "ticks_in_marts": [90, 80]}
    )
    frame = day_status(raw, compacted, marts, today=date(2026, 3, 6)).set_index("trade_date")
    assert frame.status.to_dict() == {
        "2026-03-06": STREAMING,
        "2026-03-05": RAW_ONLY,
        "2026-03-04": COMPACTED,
        "2026-03-03": STALE,
        "2026-03-02": MODELLED,
    }
