"""Live: today's ticks straight from raw_ticks, refreshed in place every few seconds."""

from datetime import timedelta

import streamlit as st

from stock_lakehouse.dashboard import charts, ui
from stock_lakehouse.read_model import queries

st.title("Live")
refresh = ui.settings().dashboard.live_refresh_seconds
st.caption(
    f"Today's raw_ticks, the stream's output, re-read every {refresh:g} s. Totals come from the "
    f"Delta log; prices and rates from the last {queries.LIVE_WINDOW.seconds // 60} minutes."
)


def _age(delta: timedelta | None) -> str:
    if delta is None:
        return "-"
    seconds = max(0, int(delta.total_seconds()))
    return f"{seconds // 3600}h {seconds % 3600 // 60:02d}m" if seconds >= 3600 else f"{seconds} s"


@st.fragment(run_every=timedelta(seconds=refresh))
def live_panel() -> None:
    snapshot = ui.shown(ui.live_snapshot)
    rate, rows, latest, behind = st.columns(4)
    rate.metric("ticks per second (last minute of data)", f"{snapshot.ticks_per_second:,.1f}")
    rows.metric(f"ticks today ({snapshot.day})", f"{snapshot.rows_today:,}")
    latest.metric(
        "latest event (UTC)", f"{snapshot.latest_event:%H:%M:%S}" if snapshot.latest_event else "-"
    )
    behind.metric("behind real time", _age(snapshot.behind))
    if snapshot.per_ticker.empty:
        st.info(f"No ticks in the last {queries.LIVE_WINDOW.seconds // 60} minutes.")
        return
    prices, activity = st.columns([3, 2])
    with prices:
        st.dataframe(
            snapshot.per_ticker[["ticker", "last_price", "last_event", "ticks_last_minute"]],
            hide_index=True,
            column_config={
                "last_price": st.column_config.NumberColumn("last price", format="%.2f"),
                "last_event": st.column_config.DatetimeColumn("last tick", format="HH:mm:ss"),
                "ticks_last_minute": st.column_config.NumberColumn("ticks / min"),
            },
            key="live-prices",
        )
    with activity:
        st.plotly_chart(charts.tick_rate_chart(snapshot.per_ticker), key="live-rate")


live_panel()
