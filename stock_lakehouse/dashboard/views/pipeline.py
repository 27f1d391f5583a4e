"""Pipeline: per day, what raw, compacted and marts hold, when each last changed, and quarantine."""

import pandas as pd
import streamlit as st

from stock_lakehouse.dashboard import charts, ui
from stock_lakehouse.read_model import queries
from stock_lakehouse.read_model.day_status import day_status

st.title("Pipeline")
tables = ui.shown(ui.pipeline_tables)
try:
    marts = ui.marts_rows_per_day()
    marts_note = None
except queries.NoData as exc:
    marts, marts_note = pd.DataFrame(), str(exc)

overview = day_status(tables["raw"], tables["compacted"], marts)
if overview.empty:
    st.info(
        "raw_ticks holds no day yet - start the stream ('make demo', or the ingest_stream job "
        "in Dagster)."
    )
else:
    states = overview.status.value_counts()
    cols = st.columns(len(states))
    for col, (state, count) in zip(cols, states.items(), strict=True):
        col.metric(state, count)
    st.dataframe(
        overview,
        hide_index=True,
        column_config={
            "trade_date": st.column_config.TextColumn("day"),
            "raw_rows": st.column_config.NumberColumn("raw rows", format="localized"),
            "raw_files": st.column_config.NumberColumn("raw files"),
            "raw_written": st.column_config.DatetimeColumn("raw last write", format="MM-DD HH:mm"),
            "compacted_rows": st.column_config.NumberColumn("compacted rows", format="localized"),
            "compacted_files": st.column_config.NumberColumn("compacted files"),
            "compacted_written": st.column_config.DatetimeColumn(
                "compacted at", format="MM-DD HH:mm"
            ),
            "ticks_in_marts": st.column_config.NumberColumn("ticks in marts", format="localized"),
        },
        key="pipeline-days",
    )
if marts_note:
    st.info(marts_note)
else:
    published = queries.published_at(ui.settings())
    st.caption(
        f"Marts as published at {published:%Y-%m-%d %H:%M:%S} UTC; 'ticks in marts' sums the "
        "daily summary's trade counts and equals the compacted rows when the day is modelled."
    )

st.subheader("Quarantine")
quarantine = tables["quarantine"]
if quarantine.empty:
    st.success("No message has been quarantined.")
else:
    by_reason = quarantine.groupby("reason", as_index=False).messages.sum()
    st.dataframe(by_reason.sort_values("messages", ascending=False), hide_index=True, key="q-total")
    st.plotly_chart(charts.quarantine_chart(quarantine), key="pipeline-quarantine")
