"""A real Dagster webserver + daemon for one test, on its own port, storage and S3 prefix."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from stock_lakehouse.services.platform import DagsterService
from stock_lakehouse.settings import Settings
from stock_lakehouse_tests.support.dagster_graphql import SENSORS, STOP_SENSOR, graphql


def batch_env(prefix: str, state: Path) -> dict[str, str]:
    """Runs of this Dagster write under `prefix` in the bucket and keep their files in `state`."""
    return {
        "S3_PREFIX": prefix,
        "MARTS_BUILD_DB": str(state / "marts" / "build.duckdb"),
        "MARTS_PUBLISHED_DB": str(state / "marts" / "marts.duckdb"),
        "DAGSTER_STORAGE_DIR": str(state / "dagster"),
    }


@contextmanager
def running_dagster(
    settings: Settings,
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    keep_sensors: frozenset[str] = frozenset(),
) -> Iterator[DagsterService]:
    """Start the webserver, stop every sensor but `keep_sensors` the way the UI toggles them
    (they would start runs of their own), then start the daemon; stop both by PID afterwards.

    `env` reaches the Dagster processes and, through `monkeypatch`, the instance the test reads.
    """
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    port = settings.local.dagster_port
    service = DagsterService(settings, extra_env=env)
    try:
        service.webserver.start()
        for repo in graphql(SENSORS, port=port)["repositoriesOrError"]["nodes"]:
            for sensor in repo["sensors"]:
                if sensor["name"] not in keep_sensors:
                    result = graphql(STOP_SENSOR, port=port, id=sensor["id"])["stopSensor"]
                    assert result["__typename"] != "PythonError", result
        service.daemon.start()
        yield service
    finally:
        service.stop()  # the stream runs first, then the daemon and the webserver
