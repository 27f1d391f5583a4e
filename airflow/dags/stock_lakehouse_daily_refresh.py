"""stock_lakehouse_daily_refresh: after each trading day closes, ask Dagster to refresh that day.

The single task launches Dagster's `daily_refresh` job (compacted_ticks, then the daily dbt marts)
for the day's partition through dagster-airlift, waits for the run and fails when the run fails;
Airflow then retries it with exponential back-off. Airflow holds no platform logic: this file
imports neither Spark nor Dagster, only the GraphQL client half of dagster-airlift.

Configuration (environment, read when the DAG is parsed): DAGSTER_URL, DAILY_REFRESH_RETRIES,
DAILY_REFRESH_RETRY_DELAY_SECONDS. airflow/README.md shows how to run it against the demo.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
from airflow.sdk import DAG, CronTriggerTimetable
from airflow.sdk.exceptions import AirflowException, AirflowFailException
from dagster_airlift.in_airflow.gql_queries import RUNS_QUERY, TRIGGER_ASSETS_MUTATION
from dagster_airlift.in_airflow.materialize_assets_operator import BaseMaterializeAssetsOperator
from dagster_airlift.in_airflow.partition_utils import PartitioningInformation

DAG_ID = "stock_lakehouse_daily_refresh"
DAGSTER_JOB = "daily_refresh"
# How long the status poll may go unanswered before the task fails: longer than a webserver
# restart takes, even on a busy machine.
STATUS_POLL_PATIENCE_SECONDS = 300
# The selection of Dagster's daily_refresh job (stock_lakehouse/defs/automation/jobs.py); the
# operator fails, without retrying, if Dagster does not list one of them in that job.
DAILY_REFRESH_ASSETS = [
    "compacted_ticks",
    "stg_ticks",
    "fct_bars_1m",
    "fct_daily_summary",
    "fct_volume_spikes",
    "fct_price_anomalies",
]


def partition_key_for(
    data_interval_end: datetime | None, logical_date: datetime | None, run_after: datetime
) -> str:
    """The Dagster partition a DAG run refreshes: a UTC day, formatted YYYY-MM-DD.

    The DAG's CronTriggerTimetable gives a scheduled run an empty data interval at its trigger
    time (Monday 17:30 New York refreshes Monday), and `airflow dags test DAG 2026-03-02` an empty
    interval at midnight (that day). A run triggered without a logical date (allowed in Airflow 3)
    has neither, and refreshes the UTC day it was triggered on.
    """
    instant = next(d for d in (data_interval_end, logical_date, run_after) if d is not None)
    return instant.astimezone(UTC).date().isoformat()


class DagsterDailyRefreshOperator(BaseMaterializeAssetsOperator):
    """Materializes `asset_key_paths` for one daily partition as a run of the Dagster job `job`.

    dagster-airlift launches the assets in Dagster's implicit asset job, tags the run
    `dagster/partition` with `get_partition_key()` (by default a partition *starting* at the
    logical date, which a 17:30 trigger never matches) and selects no asset checks. This operator
    overrides `get_partition_key()` with `partition_key_for()`, and `launch_dagster_run()` to
    launch `job` instead and keep the checks that the job runs.
    """

    def __init__(self, *, job: str, dagster_url: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.job = job
        self.dagster_url = dagster_url.rstrip("/")

    def get_dagster_url(self, context: Mapping[str, Any]) -> str:
        return self.dagster_url

    def get_dagster_session(self, context: Mapping[str, Any]) -> requests.Session:
        session = requests.Session()
        # The webserver (uvicorn) drops a keep-alive connection after 5 s idle, and a status poll
        # reusing one just then failed with "connection reset by peer": one connection a request.
        session.headers["Connection"] = "close"
        return session

    def execute(self, context: Mapping[str, Any]) -> Any:
        try:
            return super().execute(context)
        except requests.ConnectionError as error:
            raise AirflowException(
                f"Dagster is not reachable at {self.dagster_url} - run `make demo` (or "
                f"`dagster dev`) or set DAGSTER_URL: {error}"
            ) from error

    def get_partition_key(
        self, context: Mapping[str, Any], partitioning_info: PartitioningInformation
    ) -> str:
        key = partition_key_for(
            context.get("data_interval_end"),
            context.get("logical_date"),
            context["dag_run"].run_after,
        )
        if key not in partitioning_info.partition_keys:
            first, last = partitioning_info.partition_keys[0], partitioning_info.partition_keys[-1]
            raise AirflowFailException(
                f"Dagster has no partition {key} (its days run from {first} to {last}) - "
                "trigger the DAG with a logical date inside that range"
            )
        self.log.info("Dagster partition for this run: %s", key)
        return key

    def filter_asset_nodes(
        self, context: Mapping[str, Any], asset_nodes: Sequence[Mapping[str, Any]]
    ) -> Iterable[Mapping[str, Any]]:
        nodes = list(super().filter_asset_nodes(context, asset_nodes))
        outside = [
            "/".join(node["assetKey"]["path"])
            for node in nodes
            if self.job not in {job["name"] for job in node["jobs"]}
        ]
        if outside:
            raise AirflowFailException(
                f"Dagster job {self.job} does not select {', '.join(outside)} - align "
                f"asset_key_paths in {DAG_ID} with the job"
            )
        return nodes

    def get_dagster_run_obj(
        self, session: requests.Session, dagster_url: str, run_id: str
    ) -> Mapping[str, Any]:
        # airlift polls once with a 3 s timeout: a webserver slowed by the run's own Spark job on
        # 2 cores, or restarting, would fail the task while the run goes on, and Airflow's retry
        # would launch a second run of the day. The poll is read-only, so it may be repeated.
        deadline = time.monotonic() + STATUS_POLL_PATIENCE_SECONDS
        while True:
            try:
                response = session.post(
                    f"{dagster_url}/graphql",
                    json={"query": RUNS_QUERY, "variables": {"runId": run_id}},
                    timeout=30,
                )
                return self.get_valid_graphql_response(response, "runOrError")
            except (requests.ConnectionError, requests.Timeout) as error:
                if time.monotonic() > deadline:
                    raise
                self.log.warning(
                    "no status of Dagster run %s yet (%s); asking again", run_id, error
                )
                time.sleep(self.dagster_run_status_poll_interval)

    def launch_dagster_run(
        self,
        context: Mapping[str, Any],
        session: requests.Session,
        dagster_url: str,
        execution_params: Mapping[str, Any],
    ) -> str:
        # airlift sends assetCheckSelection []: no checks. Left out (null), Dagster runs the checks
        # of the selected assets, as a launch of the job from the UI does.
        selector = {
            key: value
            for key, value in execution_params["selector"].items()
            if key != "assetCheckSelection"
        }
        params = {**execution_params, "selector": {**selector, "pipelineName": self.job}}
        response = session.post(
            f"{dagster_url}/graphql",
            json={"query": TRIGGER_ASSETS_MUTATION, "variables": {"executionParams": params}},
            timeout=30,
        )
        launched = self.get_valid_graphql_response(response, "launchPipelineExecution")
        if launched["__typename"] != "LaunchRunSuccess":
            raise AirflowException(f"Dagster did not launch {self.job}: {launched}")
        run_id = launched["run"]["id"]
        # airlift's "Triggering run for ... __ASSET_JOB" line above names the job it would use.
        self.log.info("Dagster run of %s: %s/runs/%s", self.job, dagster_url, run_id)
        return run_id


with DAG(
    dag_id=DAG_ID,
    description="After the close, Dagster's daily_refresh (compaction + daily marts) for the day.",
    # The exchange (XNYS, MARKET_CALENDAR's default) closes at 16:00 New York time, 20:00 or 21:00
    # UTC with daylight saving; 17:30 New York leaves the stream an hour and a half to land the
    # day's last ticks (its freshness check allows 15 minutes) before the day is compacted, all
    # year. Another exchange's calendar wants its own hour here.
    schedule=CronTriggerTimetable("30 17 * * 1-5", timezone="America/New_York"),
    # Dagster's first daily partition (stock_lakehouse/partitions.py).
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    # Days are independent in Dagster, but one run at a time keeps two Spark JVMs off 2 cores.
    max_active_runs=1,
    tags=["stock-lakehouse", "dagster"],
    default_args={
        "retries": int(os.environ.get("DAILY_REFRESH_RETRIES", "3")),
        "retry_delay": timedelta(
            seconds=float(os.environ.get("DAILY_REFRESH_RETRY_DELAY_SECONDS", "300"))
        ),
        # A multiplier in Airflow 3 (True would mean 1.0, a constant delay). With the defaults the
        # retries start 5-10, 10-20 and 20-40 min after a failure (Airflow adds up to 100% jitter):
        # time for a Dagster restart or a busy S3 store to pass.
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": timedelta(hours=1),
    },
) as dag:
    DagsterDailyRefreshOperator(
        task_id="materialize_daily_refresh",
        job=DAGSTER_JOB,
        asset_key_paths=DAILY_REFRESH_ASSETS,
        dagster_url=os.environ.get("DAGSTER_URL", "http://127.0.0.1:3000"),
        # A day's refresh takes minutes; polling every 5 s adds little to it.
        dagster_run_status_poll_interval=5,
        # A run that stays queued (no Dagster daemon) must not hold the next day's DAG run.
        execution_timeout=timedelta(hours=2),
    )
