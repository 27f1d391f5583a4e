"""The Streamlit dashboard: Market, Anomalies, Live and Pipeline pages over what the pipeline built.

`stock-lakehouse dashboard` serves `app.py`; `queries.py` is the only module that reads data.
"""
