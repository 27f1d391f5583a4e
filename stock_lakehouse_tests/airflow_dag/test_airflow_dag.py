"""The Airflow DAG (airflow/dags) run by Airflow 3 from .venv-airflow against a real Dagster.

`airflow dags test` runs the DAG in one foreground process with the metadata DB of the test's own
AIRFLOW_HOME; Dagster's webserver and daemon are started like the backfill test starts them. The
partition arithmetic is checked inside the Airflow environment too, where the DAG imports.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time
from contextlib import closing
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from stock_lakehouse.compaction.audit import ROWS_CHECK
from stock_lakehouse.settings import PROJECT_ROOT, Settings
from stock_lakehouse_tests.support.dagster_platform import batch_env, running_dagster
from stock_lakehouse_tests.support.environment import PORT_OFFSET
from stock_lakehouse_tests.support.raw_seed import TICKERS, RawSeeder, tick_payloads

AIRFLOW_BIN = PROJECT_ROOT / ".venv-airflow" / "bin"
DAGS_FOLDER = PROJECT_ROOT / "airflow" / "dags"
PROBE = Path(__file__).parent.parent / "support" / "airflow_dag_probe.py"
DAG_ID = "stock_lakehouse_daily_refresh"
TASK_ID = "materialize_daily_refresh"
DAY = date(2026, 3, 2)
DAGSTER_PORT = 13100 + PORT_OFFSET
# Each `dags test` waits for a whole Dagster run: the refresh took up to 6 min on a 2-core machine
# busy with other test runs (load average ~15).
AIRFLOW_TIMEOUT = 600


@pytest.fixture(scope="module")
def airflow_bin() -> Path:
    if not (AIRFLOW_BIN / "airflow").exists():
        pytest.fail(f"{AIRFLOW_BIN / 'airflow'} is missing - run `make airflow-setup`")
    return AIRFLOW_BIN


def test_dag_imports_and_refreshes_the_day_of_each_kind_of_run(airflow_bin, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAILY_REFRESH_")}
    result = subprocess.run(
        [str(airflow_bin / "python"), str(PROBE), str(DAGS_FOLDER), DAG_ID, TASK_ID],
        env={**env, "AIRFLOW_HOME": str(tmp_path), "AIRFLOW__CORE__LOAD_EXAMPLES": "False"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found["import_errors"] == {}
    assert (
        found["retries"],
        found["retry_delay_seconds"],
        found["retry_exponential_backoff"],
    ) == (3, 300.0, 2.0)
    # Friday's run is followed by Monday's, at 17:30 New York after the close, for Monday: the
    # clocks changed on Sunday 8 March, so that is 21:30 UTC (Friday's was 22:30).
    assert found["next_after_friday"] == "2026-03-09T21:30:00+00:00"
    assert found["next_after_friday_key"] == "2026-03-09"
    assert found["dags_test_2026_03_02"] == "2026-03-02"
    # A manual run without logical date (Airflow 3) refreshes the UTC day it was triggered on.
    assert found["no_logical_date"] == "2026-03-04"
    # Dagster's partitions start 2026-01-01: fail without retrying rather than launch nothing.
    assert found["before_first_partition"] == "AirflowFailException"


@pytest.fixture
def dagster(services: Settings, unique_name, test_state_dir, monkeypatch):
    """A Dagster webserver + daemon on an empty S3 prefix, its sensors stopped."""
    state = test_state_dir / unique_name
    env = batch_env(unique_name, state)
    local = services.local.model_copy(update={"dagster_port": DAGSTER_PORT, "state_dir": state})
    # Automation would refresh the day on its own once raw_ticks appears: only Airflow may.
    with running_dagster(services.model_copy(update={"local": local}), env, monkeypatch):
        yield {**env, "state": state}


@pytest.fixture
def airflow_env(airflow_bin, dagster) -> dict[str, str]:
    """AIRFLOW_HOME in the test's state folder with a migrated SQLite DB; no retries."""
    home = dagster["state"] / "airflow"
    home.mkdir(parents=True)
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "DAGSTER_URL": f"http://127.0.0.1:{DAGSTER_PORT}",
        "DAILY_REFRESH_RETRIES": "0",
    }
    run_airflow(env, "db", "migrate", log=home / "db-migrate.log", timeout=180)
    return env


def run_airflow(env: dict[str, str], *args: str, log: Path, timeout: float) -> int:
    """One foreground `airflow` command, output to `log`; killed by its PID group on timeout."""
    with log.open("w") as out:
        process = subprocess.Popen(
            [str(AIRFLOW_BIN / "airflow"), *args],
            env=env,
            cwd=env["AIRFLOW_HOME"],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            return process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            pytest.fail(f"airflow {' '.join(args)} still running after {timeout} s; see {log}")


def dags_test(env: dict[str, str], name: str) -> tuple[int, str | None, str]:
    """`airflow dags test` for DAY: exit code, the task instance's state, the log's tail."""
    log = Path(env["AIRFLOW_HOME"]) / f"dags-test-{name}.log"
    started = time.monotonic()
    code = run_airflow(
        env, "dags", "test", DAG_ID, DAY.isoformat(), log=log, timeout=AIRFLOW_TIMEOUT
    )
    print(f"airflow dags test ({name}): exit {code} after {time.monotonic() - started:.0f} s")
    # `dags test` replaces the DAG run of that logical date, so one task instance remains.
    with closing(sqlite3.connect(f"file:{env['AIRFLOW_HOME']}/airflow.db?mode=ro", uri=True)) as db:
        states = db.execute(
            "select ti.state from task_instance ti join dag_run dr"
            " on dr.dag_id = ti.dag_id and dr.run_id = ti.run_id"
            " where ti.dag_id = ? and ti.task_id = ?",
            (DAG_ID, TASK_ID),
        ).fetchall()
    assert len(states) == 1, states
    return code, states[0][0], log.read_text()[-4000:]


def partition_runs(instance: dg.DagsterInstance) -> list[dg.DagsterRun]:
    """Runs of DAY's partition, oldest first."""
    runs = instance.get_runs(filters=dg.RunsFilter(tags={"dagster/partition": DAY.isoformat()}))
    return sorted(runs, key=lambda run: instance.get_run_record_by_id(run.run_id).create_timestamp)


@pytest.mark.integration
@pytest.mark.timeout(1500)  # setup, then two `dags test` of at most AIRFLOW_TIMEOUT each
def test_dag_fails_with_the_dagster_run_then_refreshes_the_day_once_raw_ticks_exist(
    spark, services: Settings, dagster, airflow_env, unique_name
):
    instance = dg.DagsterInstance.get()

    # No raw_ticks under this prefix yet: compaction refuses to run, so the Dagster run fails.
    code, state, tail = dags_test(airflow_env, "without-raw-ticks")
    assert (code, state) == (1, "failed"), tail
    [failed] = partition_runs(instance)
    assert failed.job_name == "daily_refresh"
    assert failed.status == dg.DagsterRunStatus.FAILURE
    assert failed.tags["dagster-airlift/airflow-dag-id"] == DAG_ID

    RawSeeder(spark, services.s3.model_copy(update={"prefix": unique_name})).write(
        tick_payloads(DAY, 900, seed=0)
    )
    code, state, tail = dags_test(airflow_env, "with-raw-ticks")
    assert (code, state) == (0, "success"), tail
    runs = partition_runs(instance)
    assert [run.status for run in runs] == [
        dg.DagsterRunStatus.FAILURE,
        dg.DagsterRunStatus.SUCCESS,
    ]
    succeeded = runs[-1]
    assert succeeded.job_name == "daily_refresh"

    # What the job selects, read from the definitions rather than from the DAG's list.
    from stock_lakehouse.definitions import defs

    job = defs().resolve_job_def("daily_refresh")
    job_keys = job.asset_layer.selected_asset_keys
    assert dg.AssetKey("compacted_ticks") in job_keys
    for key in job_keys:
        assert DAY.isoformat() in instance.get_materialized_partitions(key), key
    # The run executed the checks the job selects (dagster-airlift alone would select none);
    # dbt's source freshness is not one of them (it judges the lake on its own schedule).
    check_keys = list(job.asset_layer.asset_graph.asset_check_keys)
    assert dg.AssetCheckKey(dg.AssetKey("compacted_ticks"), ROWS_CHECK) in check_keys
    summaries = instance.event_log_storage.get_asset_check_summary_records(check_keys)
    for check_key in check_keys:
        record = summaries[check_key].last_check_execution_record
        assert record is not None, f"{check_key} never ran"
        assert (record.run_id, record.status.value) == (succeeded.run_id, "SUCCEEDED"), check_key

    with duckdb.connect(dagster["MARTS_PUBLISHED_DB"], read_only=True) as marts:
        summary = marts.execute(
            "select trade_date::varchar, count(*) from fct_daily_summary group by all"
        ).fetchall()
    assert summary == [(DAY.isoformat(), len(TICKERS))]
