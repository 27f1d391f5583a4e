"""Plotly figures of the dashboard: pure functions of data frames, so tests can inspect them."""

from __future__ import annotations

from itertools import pairwise

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from stock_lakehouse.market_calendar import DEFAULT_CALENDAR, sessions_between

UP, DOWN = "#26a69a", "#ef5350"


def price_chart(
    bars: pd.DataFrame,
    title: str,
    *,
    intraday: bool,
    spikes: pd.DataFrame | None = None,
    anomalies: pd.DataFrame | None = None,
    calendar: str = DEFAULT_CALENDAR,
) -> go.Figure:
    """Candlesticks with VWAP and moving averages over volume bars; flags marked on the price.
    The exchange's closed hours and days (`calendar`) are left out of the time axis.

    `bars`: bar_start, open, high, low, close, volume, vwap, sma_5, sma_20 of one ticker.
    """
    figure = make_subplots(
        rows=2, cols=1, shared_xaxes=True, row_heights=[0.72, 0.28], vertical_spacing=0.03
    )
    x = bars.bar_start
    figure.add_trace(
        go.Candlestick(
            x=x,
            open=bars.open,
            high=bars.high,
            low=bars.low,
            close=bars.close,
            name="price",
            increasing_line_color=UP,
            decreasing_line_color=DOWN,
        ),
        row=1,
        col=1,
    )
    for column, label, style in (
        ("vwap", "VWAP", {"color": "#7e57c2", "dash": "dot"}),
        ("sma_5", "SMA 5", {"color": "#ffa726"}),
        ("sma_20", "SMA 20", {"color": "#42a5f5"}),
    ):
        if column in bars and bars[column].notna().any():
            figure.add_trace(
                go.Scatter(x=x, y=bars[column], name=label, mode="lines", line=style),
                row=1,
                col=1,
            )
    colours = [UP if c >= o else DOWN for o, c in zip(bars.open, bars.close, strict=True)]
    figure.add_trace(
        go.Bar(x=x, y=bars.volume, name="volume", marker_color=colours, showlegend=False),
        row=2,
        col=1,
    )
    if spikes is not None and not spikes.empty:
        figure.add_trace(
            go.Scatter(
                x=spikes.bar_start,
                y=spikes.volume,
                name="volume spike",
                mode="markers",
                marker={"symbol": "triangle-up", "size": 11, "color": "#ff7043"},
            ),
            row=2,
            col=1,
        )
    if anomalies is not None and not anomalies.empty:
        figure.add_trace(
            go.Scatter(
                x=anomalies.bar_start,
                y=anomalies.close,
                name="price anomaly",
                mode="markers",
                marker={"symbol": "x", "size": 12, "color": "#d81b60", "line": {"width": 2}},
                customdata=anomalies.z_score,
                hovertemplate="z = %{customdata:.1f}<extra>price anomaly</extra>",
            ),
            row=1,
            col=1,
        )
    figure.update_layout(
        title=title,
        height=520,
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        xaxis_rangeslider_visible=False,
        legend={"orientation": "h", "y": 1.02, "x": 1, "xanchor": "right", "yanchor": "bottom"},
    )
    figure.update_xaxes(rangebreaks=_closed_hours(pd.to_datetime(x), intraday, calendar))
    figure.update_yaxes(title_text="price", row=1, col=1)
    figure.update_yaxes(title_text="volume", row=2, col=1)
    return figure


def tick_rate_chart(per_ticker: pd.DataFrame) -> go.Figure:
    """Ticks in the last minute per ticker: who is trading right now."""
    figure = go.Figure(
        go.Bar(x=per_ticker.ticker, y=per_ticker.ticks_last_minute, marker_color="#42a5f5")
    )
    figure.update_layout(
        height=280,
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        title="ticks in the minute up to the newest tick",
        yaxis_title="ticks",
    )
    return figure


def quarantine_chart(by_reason: pd.DataFrame) -> go.Figure:
    """Quarantined messages per day, stacked by reason."""
    figure = go.Figure()
    for reason, rows in by_reason.groupby("reason"):
        days = pd.to_datetime(rows.trade_date).dt.strftime("%Y-%m-%d")
        figure.add_trace(go.Bar(x=days, y=rows.messages, name=str(reason)))
    figure.update_layout(
        barmode="stack",
        xaxis={"type": "category", "categoryorder": "category ascending"},
        height=300,
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        title="quarantined messages per day and reason",
    )
    return figure


def _closed_hours(times: pd.Series, intraday: bool, calendar: str) -> list[dict]:
    """Hide what the exchange has closed (its calendar: nights, weekends, holidays, the end of an
    early close) instead of drawing empty gaps, unless a bar falls there: the live simulator
    trades around the clock. Naive times are UTC, as in the marts."""
    if times.empty:
        return []
    utc = times.dt.tz_localize("UTC") if times.dt.tz is None else times.dt.tz_convert("UTC")
    sessions = sessions_between(utc.min().date(), utc.max().date(), calendar)
    by_day = {s.day: s for s in sessions}
    days = utc.dt.date
    if intraday:
        opens = days.map(lambda d: by_day[d].open if d in by_day else None)
        closes = days.map(lambda d: by_day[d].close if d in by_day else None)
        if opens.isna().any() or not ((utc >= opens) & (utc < closes)).all():
            return []
        gaps = pairwise(sessions)
        return [{"bounds": [_naive(a.close), _naive(b.open)]} for a, b in gaps]
    if not days.isin(by_day.keys()).all():
        return []
    every_day = pd.date_range(utc.min().date(), utc.max().date(), freq="D").date
    closed = [d.isoformat() for d in every_day if d not in by_day]
    return [{"values": closed}] if closed else []


def _naive(moment) -> str:
    return moment.replace(tzinfo=None).isoformat(sep=" ")
