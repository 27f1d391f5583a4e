"""Session fixtures: the real services, on ports and folders of their own, stopped by PID.

The test services never touch a demo that may be running on the default ports, and the data lives
in .state/test (wiped at the start of each session). Every port, SeaweedFS's gRPC ports (+10000)
included, stays below 32768: Linux hands out 32768-60999 as ephemeral client ports, and a broker
once failed to bind 39092 because a client connection was using it.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from stock_lakehouse.settings import PROJECT_ROOT, Settings, get_settings

# Two test runs can share a machine (a developer's and a clean-clone CI run, say) when one sets
# STOCK_LAKEHOUSE_TEST_PORT_OFFSET (e.g. 300): it shifts every port and the state folder.
PORT_OFFSET = int(os.environ.get("STOCK_LAKEHOUSE_TEST_PORT_OFFSET", "0"))
# Set by `make test-unit`: a test that asks for the services there is missing its mark.
UNIT_LANE_ENV = "STOCK_LAKEHOUSE_UNIT_LANE"
TEST_STATE_DIR = PROJECT_ROOT / ".state" / (f"test-{PORT_OFFSET}" if PORT_OFFSET else "test")


def service_ports_env(state_dir: Path, kafka: int, seaweed: int, s3: int) -> dict[str, str]:
    """Env for one private set of servers: Kafka on `kafka`/+1, SeaweedFS on `seaweed`+0/1/2."""
    return {
        "STOCK_LAKEHOUSE_STATE_DIR": str(state_dir),
        "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{kafka}",
        "STOCK_LAKEHOUSE_KAFKA_CONTROLLER_PORT": str(kafka + 1),
        "STOCK_LAKEHOUSE_SEAWEED_MASTER_PORT": str(seaweed),
        "STOCK_LAKEHOUSE_SEAWEED_VOLUME_PORT": str(seaweed + 1),
        "STOCK_LAKEHOUSE_SEAWEED_FILER_PORT": str(seaweed + 2),
        "S3_ENDPOINT_URL": f"http://127.0.0.1:{s3}",
    }


TEST_ENV = {
    **service_ports_env(
        TEST_STATE_DIR / "services",
        kafka=12092 + PORT_OFFSET,
        seaweed=12333 + PORT_OFFSET,
        s3=11333 + PORT_OFFSET,
    ),
    "S3_ACCESS_KEY_ID": "test-access-key",
    "S3_SECRET_ACCESS_KEY": "test-secret-key",
    "S3_BUCKET": "lakehouse-test",
    "SPARK_MASTER": "local[2]",
    # Never the demo's checkpoint: `services down` in a test stops the streams on these.
    "STREAM_CHECKPOINT_DIR": str(TEST_STATE_DIR / "checkpoints" / "stream_ticks"),
    "DAGSTER_HOME": str(PROJECT_ROOT),
    "DAGSTER_STORAGE_DIR": str(TEST_STATE_DIR / "dagster"),
}
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

    from stock_lakehouse.spark_session import get_spark_session

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
    from stock_lakehouse_tests.dashboard_seed import build_dashboard_lake

    return build_dashboard_lake(services, test_state_dir, f"dash{uuid.uuid4().hex[:8]}")
