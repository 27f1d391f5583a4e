"""A backfill launched like the UI does it: GraphQL to a real webserver, runs by a real daemon.

Three days of raw_ticks are seeded through the stream's writer; the backfill of compacted_ticks and
every mart must leave each partition materialized, each check passed and the marts published.
"""

from __future__ import annotations

import os
import signal
import time
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from stock_lakehouse.defs.marts.freshness import CHECK_NAME as FRESHNESS_CHECK
from stock_lakehouse.settings import Settings
from stock_lakehouse_tests.support.dagster_graphql import (
    DAGSTER_PORT,
    FINISHED,
    graphql,
)
from stock_lakehouse_tests.support.dagster_platform import batch_env, running_dagster
from stock_lakehouse_tests.support.raw_seed import TICKERS, RawSeeder, tick_payloads
from stock_lakehouse_tests.support.waiting import wait_for

pytestmark = pytest.mark.integration

DAYS = [date(2026, 3, 2), date(2026, 3, 3), date(2026, 3, 4)]
ONE_MORE_DAY = date(2026, 3, 6)

ASSETS = """
query { assetNodes { assetKey { path } isPartitioned isMaterializable } }
"""
LAUNCH = """
mutation($params: LaunchBackfillParams!) { launchPartitionBackfill(backfillParams: $params) {
  __typename ... on LaunchBackfillSuccess { backfillId } ... on PythonError { message } } }
"""
BACKFILL = """
query($id: String!) { partitionBackfillOrError(backfillId: $id) {
  ... on PartitionBackfill { status } ... on PythonError { message } } }
"""

# What the UI's check page shows for each day: time-partition ranges with a status.
CHECK_STATUSES = """
query($path: [String!]!) { assetNodeOrError(assetKey: {path: $path}) { ... on AssetNode {
  assetChecksOrError { ... on AssetChecks { checks { name partitionStatuses {
    ... on AssetCheckTimePartitionStatuses { ranges { startKey endKey status } } } } } } } } }
"""


@pytest.fixture
def platform(spark, services: Settings, unique_name, test_state_dir, monkeypatch):
    """raw_ticks for DAYS, and a Dagster webserver + daemon whose sensors are stopped."""
    s3 = services.s3.model_copy(update={"prefix": unique_name})
    # One micro-batch spanning the days (the stream splits it by trade_date).
    RawSeeder(spark, s3).write(
        [
            tick
            for seed, day in enumerate([*DAYS, ONE_MORE_DAY])
            for tick in tick_payloads(day, 900, seed)
        ]
    )

    state = test_state_dir / unique_name
    env = batch_env(unique_name, state)
    local = services.local.model_copy(update={"dagster_port": DAGSTER_PORT, "state_dir": state})
    # The stream supervisor, the raw_ticks sensor and automation would start runs of their own:
    # this test wants the backfill's runs only.
    with running_dagster(services.model_copy(update={"local": local}), env, monkeypatch):
        yield env


def day_statuses(asset: str, check: str) -> dict[str, str]:
    """Each day's status of `check` on `asset`, as the UI's check page reads it."""
    node = graphql(CHECK_STATUSES, path=[asset])["assetNodeOrError"]
    [found] = [c for c in node["assetChecksOrError"]["checks"] if c["name"] == check]
    statuses = {}
    for span in found["partitionStatuses"]["ranges"]:
        first, last = date.fromisoformat(span["startKey"]), date.fromisoformat(span["endKey"])
        for offset in range((last - first).days + 1):
            statuses[(first + timedelta(days=offset)).isoformat()] = span["status"]
    return statuses


def backfill(days: list[date], assets: list[dict]) -> None:
    """Launch a backfill as the UI's Materialize button does, and wait for it to succeed."""
    launched = graphql(
        LAUNCH,
        params={
            "partitionNames": [d.isoformat() for d in days],
            "assetSelection": [{"path": n["assetKey"]["path"]} for n in assets],
            "fromFailure": False,
        },
    )["launchPartitionBackfill"]
    assert launched["__typename"] == "LaunchBackfillSuccess", launched
    deadline = time.monotonic() + 900
    status = None
    while status not in FINISHED:
        assert time.monotonic() < deadline, f"backfill still {status} after 15 min"
        time.sleep(5)
        status = graphql(BACKFILL, id=launched["backfillId"])["partitionBackfillOrError"]["status"]
    assert status in {"COMPLETED", "COMPLETED_SUCCESS"}, status


def test_backfill_of_three_days_materializes_every_partition_and_passes_every_check(platform):
    nodes = graphql(ASSETS)["assetNodes"]
    # What the UI's "Materialize all" offers: the dashboard pages (dbt exposures) are not
    # materialized by Dagster, raw_ticks is the stream's, lake_vacuum is maintenance.
    batch_assets = [
        n
        for n in nodes
        if n["isMaterializable"] and n["assetKey"]["path"] not in (["raw_ticks"], ["lake_vacuum"])
    ]
    backfill(DAYS, batch_assets)
    # Every day of the range has its own result for compaction's checks and for dbt's tests:
    # passed, not skipped (a range run once left one result without a day).
    checks = [
        ("compacted_ticks", "compacted_tick_ids_unique"),
        ("compacted_ticks", "compacted_rows_match_raw_offsets"),
        ("fct_bars_1m", "unique_combination_fct_bars_1m_ticker__bar_start"),
    ]
    for asset, check in checks:
        assert day_statuses(asset, check) == {d.isoformat(): "SUCCEEDED" for d in DAYS}
    # One more day, alone: its own results too, and the range's stay.
    backfill([ONE_MORE_DAY], [n for n in batch_assets if n["isPartitioned"]])
    for asset, check in checks:
        assert day_statuses(asset, check) == {
            d.isoformat(): "SUCCEEDED" for d in [*DAYS, ONE_MORE_DAY]
        }

    instance = dg.DagsterInstance.get()
    days = {d.isoformat() for d in DAYS}
    for node in batch_assets:
        key = dg.AssetKey(node["assetKey"]["path"])
        if node["isPartitioned"]:
            assert days <= instance.get_materialized_partitions(key), key
        else:
            assert instance.get_latest_materialization_event(key) is not None, key
    checks = instance.event_log_storage.get_asset_check_summary_records(_check_keys(batch_assets))
    assert checks, "the batch assets have no checks"
    for check_key, summary in checks.items():
        record = summary.last_check_execution_record
        assert record is not None, f"{check_key} never ran"
        # dbt's source freshness judges the lake now, not the backfilled days: nothing of the last
        # 10 days is compacted here, so it fails; every check of the days passes.
        expected = "FAILED" if check_key.name == FRESHNESS_CHECK else "SUCCEEDED"
        assert record.status.value == expected, (check_key, record.status)

    with duckdb.connect(platform["MARTS_PUBLISHED_DB"], read_only=True) as marts:
        summary = marts.execute(
            "select trade_date::varchar, count(*) from fct_daily_summary group by all order by 1"
        ).fetchall()
    assert summary == [(d.isoformat(), len(TICKERS)) for d in [*DAYS, ONE_MORE_DAY]]


def _check_keys(batch_assets: list[dict]) -> list[dg.AssetCheckKey]:
    from stock_lakehouse.definitions import defs

    wanted = {tuple(n["assetKey"]["path"]) for n in batch_assets}
    return [
        key
        for key in defs().resolve_asset_graph().asset_check_keys
        if tuple(key.asset_key.path) in wanted
    ]


def _wait_for_backfills(ids: list[str], timeout_s: float) -> dict[str, str]:
    deadline = time.monotonic() + timeout_s
    statuses: dict[str, str] = {}
    while True:
        statuses = {i: graphql(BACKFILL, id=i)["partitionBackfillOrError"]["status"] for i in ids}
        if all(s in FINISHED for s in statuses.values()):
            return statuses
        assert time.monotonic() < deadline, f"backfills still {statuses} after {timeout_s} s"
        time.sleep(3)


def _compaction_step_windows(instance: dg.DagsterInstance, backfill_id: str) -> list[tuple]:
    """(start, end) of every compacted_ticks step of the backfill's runs, from the event log."""
    windows = []
    for run in instance.get_runs(filters=dg.RunsFilter(tags={"dagster/backfill": backfill_id})):
        times: dict[str, float] = {}
        for record in instance.all_logs(
            run.run_id,
            of_type={dg.DagsterEventType.STEP_START, dg.DagsterEventType.STEP_SUCCESS},
        ):
            if record.step_key and "compacted_ticks" in record.step_key:
                times[record.dagster_event.event_type_value] = record.timestamp
        windows.append((times["STEP_START"], times["STEP_SUCCESS"]))
    return windows


def test_overlapping_compaction_runs_take_turns_and_both_leave_a_correct_table(platform, services):
    """A three-day backfill and a run of its middle day, launched together, as when an operator
    backfills while the automation catches up: Delta on S3 has no multi-writer log store, so the
    writer pool of one must run the two compactions one after the other, and no commit is lost."""
    from deltalake import DeltaTable

    from stock_lakehouse.clients.s3 import deltalake_storage_options
    from stock_lakehouse.tables import COMPACTED_TICKS, table_uri

    ranges = ([d.isoformat() for d in DAYS], [DAYS[1].isoformat()])
    ids = []
    for partitions in ranges:
        launched = graphql(
            LAUNCH,
            params={
                "partitionNames": partitions,
                "assetSelection": [{"path": ["compacted_ticks"]}],
                "fromFailure": False,
            },
        )["launchPartitionBackfill"]
        assert launched["__typename"] == "LaunchBackfillSuccess", launched
        ids.append(launched["backfillId"])
    statuses = _wait_for_backfills(ids, 600)
    assert set(statuses.values()) <= {"COMPLETED", "COMPLETED_SUCCESS"}, statuses

    instance = dg.DagsterInstance.get()
    [first], [second] = (_compaction_step_windows(instance, i) for i in ids)
    assert first[1] <= second[0] or second[1] <= first[0], (first, second)

    s3 = services.s3.model_copy(update={"prefix": platform["S3_PREFIX"]})
    table = DeltaTable(
        table_uri(s3, COMPACTED_TICKS), storage_options=deltalake_storage_options(s3)
    )
    # Three days in one commit each, then the middle day again: four versions, none lost.
    assert len(table.history()) == 4
    rows = table.to_pyarrow_table(columns=["trade_date", "kafka_offset"]).to_pylist()
    for day in DAYS:
        offsets = [r["kafka_offset"] for r in rows if r["trade_date"] == day]
        assert len(offsets) == len(set(offsets)) == 900, day


REPOSITORIES = """
query { repositoriesOrError { ... on RepositoryConnection { nodes { name location { name } } } } }
"""
LAUNCH_RUN = """
mutation($params: ExecutionParams!) { launchRun(executionParams: $params) {
  __typename ... on LaunchRunSuccess { run { runId } } ... on PythonError { message } } }
"""


def _children(pid: int, named: str) -> list[int]:
    """PIDs of the live children of `pid` whose command line mentions `named` (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == pid and named in cmdline:
            found.append(int(entry.name))
    return found


def test_a_run_whose_worker_dies_is_retried_once_and_its_orphaned_job_stops(platform, services):
    """The worker of a daily_refresh run is killed while its compaction job runs: the job stops
    by itself (no second writer beside the retry), run monitoring fails the run, and run retries
    (dagster.yaml) launch it again, which then succeeds."""
    from stock_lakehouse.defs.compaction.assets import COMPACTED_TICKS_KEY
    from stock_lakehouse.run_launcher import run_worker_pid

    [repository] = graphql(REPOSITORIES)["repositoriesOrError"]["nodes"]
    day = DAYS[0].isoformat()
    selector = {
        "repositoryLocationName": repository["location"]["name"],
        "repositoryName": repository["name"],
        "jobName": "daily_refresh",
    }
    launched = graphql(
        LAUNCH_RUN,
        params={
            "selector": selector,
            "executionMetadata": {"tags": [{"key": "dagster/partition", "value": day}]},
        },
    )["launchRun"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    run_id = launched["run"]["runId"]
    instance = dg.DagsterInstance.get()

    worker = wait_for(
        lambda: run_worker_pid(instance, run_id), "the run's worker", 180, interval=0.1
    )[0]
    # Either engine's job: `python -m stock_lakehouse.compaction --start ...` or the Spark script.
    jobs = wait_for(lambda: _children(worker, "--start"), "the compaction job", 180, interval=0.1)
    os.kill(worker, signal.SIGKILL)
    wait_for(
        lambda: not any(Path(f"/proc/{pid}").exists() for pid in jobs),
        "the orphaned compaction job to stop",
        30,
        interval=0.1,
    )

    def finished(run_id: str) -> dg.DagsterRun | None:
        run = instance.get_run_by_id(run_id)
        return run if run is not None and run.is_finished else None

    killed = wait_for(lambda: finished(run_id), "run monitoring to fail the run", 120, interval=0.1)
    assert killed.status == dg.DagsterRunStatus.FAILURE
    [retry] = wait_for(
        lambda: instance.get_runs(filters=dg.RunsFilter(tags={"dagster/parent_run_id": run_id})),
        "the retry run",
        60,
        interval=0.1,
    )
    assert retry.tags["dagster/retry_number"] == "1"
    assert wait_for(lambda: finished(retry.run_id), "the retry", 600, interval=0.1).is_success
    assert day in instance.get_materialized_partitions(COMPACTED_TICKS_KEY)
    # The retried day holds what a clean run writes: each of the day's 900 ticks once.
    offsets = _compacted_offsets(services, platform["S3_PREFIX"], DAYS[0])
    assert len(offsets) == len(set(offsets)) == 900


def _compacted_offsets(services: Settings, prefix: str, day: date) -> list[int]:
    from deltalake import DeltaTable

    from stock_lakehouse.clients.s3 import deltalake_storage_options
    from stock_lakehouse.tables import COMPACTED_TICKS, table_uri

    s3 = services.s3.model_copy(update={"prefix": prefix})
    table = DeltaTable(
        table_uri(s3, COMPACTED_TICKS), storage_options=deltalake_storage_options(s3)
    )
    rows = table.to_pyarrow_table(columns=["trade_date", "kafka_offset"]).to_pylist()
    return [r["kafka_offset"] for r in rows if r["trade_date"] == day]
