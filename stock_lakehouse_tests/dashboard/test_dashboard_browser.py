"""The dashboard served by `streamlit run` and loaded page by page in Debian's headless chromium.

Each page must draw its charts without a Streamlit exception or error box; a screenshot of each
lands in screenshots/ (git-ignored; the README's pictures are copies of these).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

from stock_lakehouse.services.platform import DashboardService
from stock_lakehouse.settings import PROJECT_ROOT, Settings
from stock_lakehouse_tests.support.dashboard_seed import (
    DashboardLake,
    append_raw_ticks,
    todays_ticks,
)
from stock_lakehouse_tests.support.environment import PORT_OFFSET

pytestmark = pytest.mark.integration

DASHBOARD_PORT = 13200 + PORT_OFFSET
SCREENSHOTS = PROJECT_ROOT / "screenshots"
# page -> (url path, charts it draws with the seeded lake)
PAGES = {
    "market": ("market", 3),
    "anomalies": ("anomalies", 1),
    "live": ("live", 1),
    "pipeline": ("pipeline", 1),
}
# As root in a sandbox without a network: no sandboxing, no GPU, no calls home.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def dashboard(dashboard_lake: DashboardLake, services: Settings, test_state_dir) -> Iterator[str]:
    """The dashboard as `make demo` runs it, pointed at the seeded lake; stopped by PID."""
    # Fresh ticks: the Live page shows the last minutes, and the lake may be older than that.
    append_raw_ticks(dashboard_lake.s3, todays_ticks(datetime.now(UTC), count=60, seed=6))
    settings = services.model_copy(
        update={
            "dashboard": services.dashboard.model_copy(update={"port": DASHBOARD_PORT}),
            "local": services.local.model_copy(update={"state_dir": test_state_dir / "browser"}),
        }
    )
    service = DashboardService(settings, extra_env=dashboard_lake.env())
    service.start()
    try:
        yield service.address
    finally:
        service.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    chromium = shutil.which("chromium")
    assert chromium, "Debian's chromium is not installed - run 'make browser'"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.mark.parametrize("name", list(PAGES))
def test_page_renders_its_charts_in_chromium_without_errors(name, dashboard, browser):
    path, charts = PAGES[name]
    page = browser.new_page(viewport={"width": 1440, "height": 1000})
    try:
        page.goto(f"{dashboard}/{path}", wait_until="domcontentloaded")
        plots = page.locator(".js-plotly-plot")
        plots.first.wait_for(state="visible", timeout=90_000)  # the others may sit in hidden tabs
        # The script has finished when Streamlit's "running" indicator is gone.
        page.wait_for_function(
            "!document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=60_000
        )
        SCREENSHOTS.mkdir(exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
        exceptions = page.locator('[data-testid="stException"]').all_inner_texts()
        errors = page.locator('[data-testid="stAlertContentError"]').all_inner_texts()
        assert exceptions == [] and errors == []
        assert plots.count() >= charts
    finally:
        page.close()


def test_the_root_url_opens_the_market_page(dashboard, browser):
    page = browser.new_page(viewport={"width": 1440, "height": 1000})
    try:
        page.goto(f"{dashboard}/", wait_until="domcontentloaded")
        page.wait_for_url(f"{dashboard}/market", timeout=90_000)  # "/" hands over to /market
        page.locator(".js-plotly-plot").first.wait_for(state="visible", timeout=90_000)
        assert page.get_by_text("Page not found").count() == 0
    finally:
        page.close()


def test_dashboard_on_a_busy_port_is_one_line_error():
    port = 13250 + PORT_OFFSET
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", port))
        squatter.listen()
        result = subprocess.run(
            [
                str(Path(sys.executable).parent / "stock-lakehouse"),
                "dashboard",
                "--port",
                str(port),
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"error: port 127.0.0.1:{port} is already in use - is the dashboard already running "
        "(make demo)? Stop that program or pass --port"
    ]
