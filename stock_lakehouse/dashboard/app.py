"""Entry point of the dashboard (`streamlit run stock_lakehouse/dashboard/app.py`).

One navigation over four pages; each page is a script under views/ that reads through ui.py.
"""

from pathlib import Path

import streamlit as st

from stock_lakehouse.dashboard.ui import sidebar_footer

HERE = Path(__file__).parent

st.set_page_config(
    page_title="stock-lakehouse", page_icon=":material/candlestick_chart:", layout="wide"
)
# Each page has its own URL (/market, /anomalies, /live, /pipeline) for bookmarks and links from
# the docs. Streamlit serves its default page at "/" only, so the default is a hidden page that
# sends "/" on to /market.
market = st.Page(
    HERE / "views" / "market.py",
    title="Market",
    icon=":material/candlestick_chart:",
    url_path="market",
)


def _open_market() -> None:
    st.switch_page(market)


page = st.navigation(
    [
        st.Page(_open_market, title="Market", default=True, visibility="hidden"),
        market,
        st.Page(HERE / "views" / "anomalies.py", title="Anomalies", icon=":material/crisis_alert:"),
        st.Page(HERE / "views" / "live.py", title="Live", icon=":material/sensors:"),
        st.Page(HERE / "views" / "pipeline.py", title="Pipeline", icon=":material/account_tree:"),
    ]
)
sidebar_footer()
page.run()
