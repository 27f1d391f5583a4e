"""Market: candlesticks of the chosen symbols, the daily summary and the day's top movers."""

import streamlit as st

from stock_lakehouse.dashboard import charts, ui

st.title("Market")
tickers, start, end = ui.pick_range("market")
granularity = st.sidebar.radio("Bars", ["1 minute", "daily"], key="market-bars", horizontal=True)
intraday = granularity == "1 minute"
bars = ui.shown(ui.minute_bars if intraday else ui.daily_bars, tickers, start, end)

if bars.empty:
    st.info(f"No bars for {', '.join(tickers)} between {start} and {end}.")
else:
    for tab, ticker in zip(st.tabs(list(tickers)), tickers, strict=True):
        one = bars[bars.ticker == ticker]
        with tab:
            if one.empty:
                st.info(f"No bars for {ticker} in this range.")
                continue
            title = f"{ticker} - {granularity} bars, {start} to {end}"
            st.plotly_chart(
                charts.price_chart(
                    one, title, intraday=intraday, calendar=ui.settings().market.calendar
                ),
                key=f"price-{ticker}",
            )

st.subheader("Daily summary")
summary = ui.shown(ui.daily_bars, tickers, start, end)
st.dataframe(
    summary[
        [
            "trade_date",
            "ticker",
            "open",
            "high",
            "low",
            "close",
            "volume",
            "vwap",
            "trade_count",
            "day_return",
            "intraday_return",
            "realized_volatility",
        ]
    ],
    hide_index=True,
    column_config={
        "trade_date": st.column_config.DateColumn("day"),
        "volume": st.column_config.NumberColumn(format="localized"),
        "trade_count": st.column_config.NumberColumn("trades", format="localized"),
        "vwap": st.column_config.NumberColumn("VWAP", format="%.2f"),
        "day_return": st.column_config.NumberColumn("day return", format="percent"),
        "intraday_return": st.column_config.NumberColumn("open to close", format="percent"),
        "realized_volatility": st.column_config.NumberColumn("realized vol", format="percent"),
    },
    key="market-summary",
)

st.subheader(f"Top movers on {end}")
movers = ui.shown(ui.top_movers, end)
if movers.empty:
    st.info(f"No movers for {end}: a day's return needs the previous day's close.")
else:
    st.dataframe(
        movers,
        hide_index=True,
        column_config={"day_return": st.column_config.NumberColumn("day return", format="percent")},
        key="market-movers",
    )
