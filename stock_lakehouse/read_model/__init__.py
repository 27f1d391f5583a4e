"""The one read model of the lake: what the dashboard shows and `stock-lakehouse status` prints.

queries (the published marts, raw_ticks and quarantine, each table's per-day figures from its Delta
log) and day_status (how far through the pipeline each day is). Read-only; no Streamlit here.
"""
