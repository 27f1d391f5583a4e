"""Session fixtures: the real services, on ports and folders of their own, stopped by PID.

The test services never touch a demo that may be running on the default ports, and the data lives
in .state/test (wiped at the start of each session): `support/environment.py` says where. Shared
helpers live in `support/`; a test module never imports another test module or this file.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from stock_lakehouse.settings import Settings, get_settings
from stock_lakehouse_tests.support.environment import (
    TEST_ENV,
    TEST_STATE_DIR,
    UNIT_LANE_ENV,
)

# Before anything reads settings: the test processes and every subprocess they start see these.
os.environ.update(TEST_ENV)
get_settings.cache_clear()


@pytest.fixture
def refused_settings(monkeypatch):
    """`refused(**env)`: set the variables, read the settings, return the one-line refusal."""
    from stock_lakehouse.settings import InvalidSettings

    def refused(**env: str) -> str:
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()
        try:
            with pytest.raises(InvalidSettings) as refusal:
                get_settings()
        finally:
            get_settings.cache_clear()
        message = str(refusal.value)
        assert "\n" not in message
        return message

    return refused


@pytest.fixture(scope="session")
def settings() -> Settings:
    return get_settings()


@pytest.fixture(scope="session")
def services(settings: Settings) -> Iterator[Settings]:
    """Kafka and the S3 store, started fresh for the session and stopped by PID afterwards."""
    from stock_lakehouse.services.manager import LocalServices

    if os.environ.get(UNIT_LANE_ENV):
        pytest.fail(
            "this test needs Kafka and the S3 store: mark it @pytest.mark.integration "
            "(make test-unit runs no services)"
        )

    local = LocalServices(settings)
    local.down()  # a previous session killed mid-way may have left its servers running
    shutil.rmtree(settings.local.state_dir, ignore_errors=True)
    try:
        local.up()
        yield settings
    finally:
        local.down()


@pytest.fixture(scope="session")
def spark(services: Settings):
    """One local[2] SparkSession for the session (a JVM start costs 5-15 s)."""
    from pyspark import SparkContext

    from stock_lakehouse.clients.spark_session import get_spark_session

    session = get_spark_session("stock-lakehouse-tests", services, **{"spark.ui.enabled": "false"})
    gateway = SparkContext._gateway
    yield session
    session.stop()
    # The driver JVM is a child of this process: stop it by its PID rather than at interpreter exit.
    jvm = getattr(gateway, "proc", None)
    if gateway is not None:
        gateway.shutdown()
    if jvm is not None:
        jvm.terminate()
        jvm.wait(timeout=30)
    SparkContext._gateway = None
    SparkContext._jvm = None


@pytest.fixture
def unique_name() -> str:
    """A fresh name for topics, prefixes and groups, so tests never see each other's data."""
    return f"t{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="session")
def test_state_dir() -> Path:
    TEST_STATE_DIR.mkdir(parents=True, exist_ok=True)
    return TEST_STATE_DIR


@pytest.fixture(scope="session")
def dashboard_lake(services: Settings, test_state_dir: Path):
    """Marts, raw_ticks, quarantine and labels for the dashboard tests (AppTest and browser)."""
    from stock_lakehouse_tests.support.dashboard_seed import build_dashboard_lake

    return build_dashboard_lake(services, test_state_dir, f"dash{uuid.uuid4().hex[:8]}")
