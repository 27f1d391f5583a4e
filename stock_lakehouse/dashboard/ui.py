"""What every page shares: cached reads with a short TTL, and errors shown as one clear message.

Cached functions take plain arguments (dates, ticker tuples) and read the settings themselves, so
Streamlit can hash the arguments; exceptions are never cached, so a page recovers on the next
rerun once the store is back or the first marts are published.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import TypeVar

import pandas as pd
import streamlit as st

from stock_lakehouse.errors import UserFacingError
from stock_lakehouse.read_model import queries
from stock_lakehouse.settings import Settings, get_settings
from stock_lakehouse.tables import COMPACTED_TICKS, RAW_TICKS

T = TypeVar("T")


def settings() -> Settings:
    return get_settings()


TTL = settings().dashboard.cache_seconds
LIVE_TTL = max(1.0, settings().dashboard.live_refresh_seconds / 2)
# Tables show a day as a date and a bar as its minute (not `2026-12-01 00:00:00`).
TIME_COLUMNS = {
    "trade_date": st.column_config.DateColumn("day", format="YYYY-MM-DD"),
    "bar_start": st.column_config.DatetimeColumn("bar (UTC)", format="YYYY-MM-DD HH:mm"),
}


def shown(load: Callable[..., T], *args: object) -> T:
    """Call `load`; on a known failure show its one-line message and stop the page (or fragment)."""
    try:
        return load(*args)
    except queries.NoData as exc:
        st.info(str(exc), icon=":material/hourglass_empty:")
    except UserFacingError as exc:
        st.error(str(exc), icon=":material/cloud_off:")
    st.stop()
    raise AssertionError("st.stop() returns only outside a Streamlit run")  # pragma: no cover


@st.cache_data(ttl=TTL, show_spinner=False)
def days() -> list[date]:
    return queries.available_days(settings())


@st.cache_data(ttl=TTL, show_spinner=False)
def tickers() -> list[str]:
    return queries.available_tickers(settings())


@st.cache_data(ttl=TTL, show_spinner="reading the marts")
def daily_bars(tickers: tuple[str, ...], start: date, end: date) -> pd.DataFrame:
    return queries.daily_bars(settings(), tickers, start, end)


@st.cache_data(ttl=TTL, show_spinner="reading the marts")
def minute_bars(tickers: tuple[str, ...], start: date, end: date) -> pd.DataFrame:
    return queries.minute_bars(settings(), tickers, start, end)


@st.cache_data(ttl=TTL, show_spinner=False)
def top_movers(day: date) -> pd.DataFrame:
    return queries.top_movers(settings(), day)


@st.cache_data(ttl=TTL, show_spinner=False)
def volume_spikes(tickers: tuple[str, ...], start: date, end: date) -> pd.DataFrame:
    return queries.volume_spikes(settings(), tickers, start, end)


@st.cache_data(ttl=TTL, show_spinner=False)
def price_anomalies(tickers: tuple[str, ...], start: date, end: date) -> pd.DataFrame:
    return queries.price_anomalies(settings(), tickers, start, end)


@st.cache_data(ttl=LIVE_TTL, show_spinner=False)
def live_snapshot() -> queries.LiveSnapshot:
    return queries.live_snapshot(settings())


@st.cache_data(ttl=TTL, show_spinner="reading the Delta logs")
def pipeline_tables() -> dict[str, object]:
    s = settings()
    return {
        "raw": queries.lake_stats(s, RAW_TICKS),
        "compacted": queries.lake_stats(s, COMPACTED_TICKS),
        "quarantine": queries.quarantine_by_reason(s),
    }


@st.cache_data(ttl=TTL, show_spinner=False)
def marts_rows_per_day() -> pd.DataFrame:
    return queries.marts_rows_per_day(settings())


def pick_range(key: str, default_days: int = 5) -> tuple[tuple[str, ...], date, date]:
    """Sidebar pickers shared by the mart pages: symbols and an inclusive date range."""
    available = shown(days)
    if not available:
        shown(_raise_empty)
    symbols = shown(tickers)
    chosen = st.sidebar.multiselect(
        "Symbols", symbols, default=symbols[: min(3, len(symbols))], key=f"{key}-symbols"
    )
    first, last = available[0], available[-1]
    default_start = available[max(0, len(available) - default_days)]
    picked = st.sidebar.date_input(
        "Trading days",
        value=(default_start, last),
        min_value=first,
        max_value=last,
        key=f"{key}-days",
    )
    start, end = (
        (picked if len(picked) == 2 else (picked[0], picked[0])) if picked else (last, last)
    )
    if not chosen:
        st.info("Pick at least one symbol in the sidebar.")
        st.stop()
    return tuple(chosen), start, end


def _raise_empty() -> None:
    raise queries.NoData("the marts hold no trading day yet - materialize a day in Dagster")


def sidebar_footer() -> None:
    s = settings()
    published = queries.published_at(s)
    st.sidebar.caption(
        f"marts published {published:%Y-%m-%d %H:%M:%S} UTC" if published else "no marts yet"
    )
    st.sidebar.caption(f"lake: {s.s3.uri()} at {s.s3.endpoint_url}")
    if st.sidebar.button("Refresh now", icon=":material/refresh:"):
        st.cache_data.clear()
        st.rerun()
