"""Anomalies: volume spikes and price anomalies from the marts, scored against injected events."""

import streamlit as st

from stock_lakehouse.dashboard import charts, scoring, ui
from stock_lakehouse.simulator.run import default_labels_path

st.title("Anomalies")
tickers, start, end = ui.pick_range("anomalies", default_days=1)
spikes = ui.shown(ui.volume_spikes, tickers, start, end)
anomalies = ui.shown(ui.price_anomalies, tickers, start, end)

spike_count, anomaly_count = st.columns(2)
spike_count.metric("volume spikes", f"{len(spikes):,}")
anomaly_count.metric("price anomalies", f"{len(anomalies):,}")

st.subheader("Against the simulator's injected events")
settings = ui.settings()
labels_path = settings.dashboard.labels_file or default_labels_path(settings)
labels = scoring.read_labels(labels_path, topic=settings.kafka.ticks_topic)
covered = [d for d in ui.shown(ui.days) if start <= d <= end]
truth = scoring.labels_in(labels, list(tickers), covered)
if truth.empty:
    st.caption(
        f"No ground-truth labels for these symbols and days in {labels_path}: the simulator "
        "writes one line per injected event there."
    )
else:
    columns = st.columns(2)
    for column, (kind, flags) in zip(
        columns, (("volume_spike", spikes), ("price_jump", anomalies)), strict=True
    ):
        result = scoring.score(truth, flags, kind)
        with column:
            st.markdown(f"**{kind.replace('_', ' ')}s** flagged by `{scoring.FLAGGED_BY[kind]}`")
            injected, found, false_alarms = st.columns(3)
            injected.metric("injected", result.injected)
            found.metric("found", result.found)
            false_alarms.metric(
                "false alarms", result.false_alarms, help=f"of {result.flags} flags"
            )

st.subheader("On the price chart")
focus = st.selectbox("Symbol", tickers, key="anomalies-focus")
bars = ui.shown(ui.minute_bars, (focus,), start, end)
if bars.empty:
    st.info(f"No bars for {focus} between {start} and {end}.")
else:
    st.plotly_chart(
        charts.price_chart(
            bars,
            f"{focus} - 1 minute bars with flags, {start} to {end}",
            intraday=True,
            spikes=spikes[spikes.ticker == focus],
            anomalies=anomalies[anomalies.ticker == focus],
            calendar=ui.settings().market.calendar,
        ),
        key="anomalies-price",
    )

left, right = st.columns(2)
with left:
    st.markdown("**Volume spikes** (`fct_volume_spikes`)")
    st.dataframe(
        spikes,
        hide_index=True,
        column_config={
            **ui.TIME_COLUMNS,
            "volume_ratio": st.column_config.NumberColumn("x trailing avg", format="%.1f"),
        },
        key="anomalies-spikes",
    )
with right:
    st.markdown("**Price anomalies** (`fct_price_anomalies`)")
    st.dataframe(
        anomalies,
        hide_index=True,
        column_config={
            **ui.TIME_COLUMNS,
            "bar_return": st.column_config.NumberColumn(format="percent"),
            "z_score": st.column_config.NumberColumn("z", format="%.1f"),
        },
        key="anomalies-prices",
    )
