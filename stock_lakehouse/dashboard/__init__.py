"""The Streamlit dashboard: Market, Anomalies, Live and Pipeline pages over what the pipeline built.

`stock-lakehouse dashboard` serves `app.py`; every read goes through `stock_lakehouse.read_model`,
which `stock-lakehouse status` shares.
"""
