"""The `alerts` sensor: failed checks, failed runs and failing sensors become notices.

Each tick it lists what is wrong now (the latest execution of every check, the latest run of each
job and partition, the latest tick of every other sensor) and hands it to stock_lakehouse.alerts,
which sends one "open" per new problem and one "resolved" per problem gone; the cursor remembers
what was announced.
"""

import json
from collections.abc import Iterable
from datetime import UTC, datetime

import dagster as dg
from dagster._core.scheduler.instigation import InstigatorType, TickStatus
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus

from stock_lakehouse.alerts import Problem, announce
from stock_lakehouse.settings import Settings

SENSOR_NAME = "alerts"
PARTITION_TAG = "dagster/partition"
RANGE_TAGS = ("dagster/asset_partition_range_start", "dagster/asset_partition_range_end")
# A failed run the daemon is about to retry (dagster.yaml) is not a problem yet.
WILL_RETRY_TAG = "dagster/will_retry"


def check_problems(
    instance: dg.DagsterInstance, check_keys: Iterable[dg.AssetCheckKey]
) -> list[Problem]:
    problems = []
    summaries = instance.event_log_storage.get_asset_check_summary_records(list(check_keys))
    for key, summary in summaries.items():
        # The latest *completed* execution: a run that will execute the check plans it first,
        # and a planned (or crashed) execution says nothing about whether it passes.
        record = summary.last_completed_check_execution_record
        if record is None or record.status != AssetCheckExecutionRecordStatus.FAILED:
            continue
        problems.append(
            Problem(
                key=f"check:{key.asset_key.to_user_string()}/{key.name}",
                kind="check",
                summary=f"check {key.name} on {key.asset_key.to_user_string()} failed",
                details={"run_id": record.run_id},
            )
        )
    return problems


def run_scope(run: dg.DagsterRun) -> str:
    """The days a run worked on: one partition, a range, or none."""
    if PARTITION_TAG in run.tags:
        return run.tags[PARTITION_TAG]
    if all(tag in run.tags for tag in RANGE_TAGS):
        return "..".join(run.tags[tag] for tag in RANGE_TAGS)
    return ""


def run_target(run: dg.DagsterRun) -> str:
    """What a run was for: its job, or the assets and checks an automation run selected."""
    selected = sorted(k.to_user_string() for k in run.asset_selection or ())
    selected += sorted(
        f"{k.asset_key.to_user_string()}:{k.name}" for k in run.asset_check_selection or ()
    )
    if run.job_name.startswith("__") and selected:  # __ASSET_JOB: one name for every selection
        return "+".join(selected)
    return run.job_name


def run_problems(instance: dg.DagsterInstance, limit: int = 3000) -> list[Problem]:
    """The latest finished run of each target and scope that failed (and will not be retried).

    A failure is resolved by a later run of the same target and days that finishes well, not by
    one that merely starts. `limit` (newest runs first) reaches back about a week at the demo's
    rate; an older failure nobody re-ran leaves the window and is reported resolved.
    """
    latest: dict[tuple[str, str], dg.DagsterRun] = {}
    for record in instance.get_run_records(limit=limit):  # newest first
        run = record.dagster_run
        if not run.is_finished:
            continue
        latest.setdefault((run_target(run), run_scope(run)), run)
    problems = []
    for (target, scope), run in latest.items():
        if run.status != dg.DagsterRunStatus.FAILURE or run.tags.get(WILL_RETRY_TAG) == "true":
            continue
        name = f"{target}[{scope}]" if scope else target
        problems.append(
            Problem(
                key=f"run:{name}",
                kind="run",
                summary=f"run of {name} failed",
                details={"run_id": run.run_id},
            )
        )
    return problems


def sensor_problems(instance: dg.DagsterInstance, ignore: str = SENSOR_NAME) -> list[Problem]:
    """Every sensor (but this one) whose latest tick failed."""
    problems = []
    for state in instance.all_instigator_state(instigator_type=InstigatorType.SENSOR):
        if state.instigator_name == ignore:
            continue
        ticks = instance.get_ticks(state.instigator_origin_id, state.selector_id, limit=1)
        if ticks and ticks[0].status == TickStatus.FAILURE:
            error = ticks[0].error.message.strip() if ticks[0].error else ""
            problems.append(
                Problem(
                    key=f"sensor:{state.instigator_name}",
                    kind="sensor",
                    summary=f"sensor {state.instigator_name} is failing",
                    details={"error": error[:500]},
                )
            )
    return problems


@dg.sensor(
    name=SENSOR_NAME,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Sends one 'open' and one 'resolved' notice per failed check, failed run or failing "
        "sensor to ALERTS_WEBHOOK_URL and ALERTS_FILE."
    ),
)
def alerts(context: dg.SensorEvaluationContext, settings: dg.ResourceParam[Settings]):
    instance = context.instance
    problems = [
        *check_problems(instance, context.repository_def.asset_graph.asset_check_keys),
        *run_problems(instance),
        *sensor_problems(instance),
    ]
    current = {problem.key: problem for problem in problems}
    announced = json.loads(context.cursor) if context.cursor else {}
    file = settings.alerts.file or settings.local.state_dir / "alerts.jsonl"
    state, sent, failed = announce(
        announced, current, datetime.now(UTC), settings.alerts.webhook_url, file
    )
    for notice in sent:
        context.log.info(f"{notice.event}: {notice.summary}")
    for error in failed:
        context.log.warning(f"notice not delivered, retried next tick: {error}")
    return dg.SensorResult(
        cursor=json.dumps(state, sort_keys=True),
        skip_reason=f"{len(current)} open problem(s), {len(sent)} notice(s) sent",
    )
