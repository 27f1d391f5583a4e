"""compacted_ticks: each day of raw_ticks deduplicated, sorted and rewritten into few large files.

The work runs as its own process through Dagster Pipes, on the engine COMPACTION_ENGINE picks:
`python -m stock_lakehouse.compaction` (DuckDB + delta-rs, one machine) or
spark_jobs/compact_ticks.py (Spark, for a `spark://` cluster). Either way the per-day log lines,
the materialization metadata (engine, rows, files and bytes in and out, duration, refused days)
and the audit's three blocking checks come back into the run. A backfill of many days is one run
and one process.
"""

import sys
from collections.abc import Iterator
from datetime import date

import dagster as dg

from stock_lakehouse.clients.delta_log import table_stats
from stock_lakehouse.compaction.audit import (
    ROWS_CHECK,
    SESSION_CHECK,
    UNIQUE_TICKS_CHECK,
    AuditRules,
    day_outcomes,
)
from stock_lakehouse.compaction.plan import DayResult, days_in, idle_days
from stock_lakehouse.defs.automation.conditions import closed_day_refresh
from stock_lakehouse.defs.ingest.assets import RAW_TICKS_KEY
from stock_lakehouse.defs.partition_checks import per_partition
from stock_lakehouse.market_calendar import session_on
from stock_lakehouse.parent_watch import parent_env
from stock_lakehouse.partitions import daily_partitions
from stock_lakehouse.settings import PROJECT_ROOT, Settings
from stock_lakehouse.tables import RAW_TICKS, table_uri

COMPACT_JOB = PROJECT_ROOT / "spark_jobs" / "compact_ticks.py"
# Write-audit-publish: each day is audited before its commit (compaction/audit.py). The checks
# are blocking, so a refused day's marts do not run in the same run.
AUDIT_CHECKS = {
    ROWS_CHECK: "Per day, compacted rows equal the distinct Kafka offsets in raw_ticks.",
    UNIQUE_TICKS_CHECK: "Per day, no tick_id is held by two Kafka offsets.",
    SESSION_CHECK: "Per day, every tick is inside the MARKET_CALENDAR session "
    "(COMPACTION_OUTSIDE_SESSION=warn makes a failure a warning).",
}
COMPACTED_TICKS_KEY = dg.AssetKey("compacted_ticks")
# One writer per Delta table: Delta on S3 has no multi-writer log store here, so two drivers that
# commit at once could lose a commit. dagster.yaml's default pool limit of 1 applies.
COMPACTED_TICKS_WRITER_POOL = "compacted_ticks_writer"


def compaction_command(start: date, end: date, engine: str) -> list[str]:
    """The job for the half-open day range [start, end) on `engine`, with this interpreter."""
    job = [str(COMPACT_JOB)] if engine == "spark" else ["-m", "stock_lakehouse.compaction"]
    return [sys.executable, *job, "--start", start.isoformat(), "--end", end.isoformat()]


@dg.asset(
    key=COMPACTED_TICKS_KEY,
    deps=[RAW_TICKS_KEY],
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    automation_condition=closed_day_refresh(),
    check_specs=[
        dg.AssetCheckSpec(
            name,
            asset=COMPACTED_TICKS_KEY,
            description=description,
            blocking=True,
            partitions_def=daily_partitions,  # a result per day, in a backfill's range too
        )
        for name, description in AUDIT_CHECKS.items()
    ],
    group_name="batch",
    pool=COMPACTED_TICKS_WRITER_POOL,
    kinds={"duckdb", "spark", "delta", "s3"},
    owners=["team:data-platform"],
    description=(
        "One copy of each day's valid ticks: one row per Kafka offset, sorted by ticker and event "
        "time, in files near COMPACTION_TARGET_FILE_MB, the day replaced in one Delta commit."
    ),
)
def compacted_ticks(
    context: dg.AssetExecutionContext,
    pipes_subprocess_client: dg.PipesSubprocessClient,
    settings: dg.ResourceParam[Settings],
):
    window = context.partition_time_window  # one day, or a backfill's whole range
    days = days_in(window.start.date(), window.end.date())
    calendar = settings.market.calendar
    # Holidays and weekends without ticks: no job over nothing. raw_ticks' log is read only when
    # no day of the range has a session, not on every run.
    if not any(session_on(day, calendar) for day in days):
        raw = table_stats(table_uri(settings.s3, RAW_TICKS), settings.s3).days
        if idle_days(days, {d: s.files for d, s in raw.items()}, calendar) == days:
            yield from no_session(context, days, calendar)
            return
    engine = settings.compaction.engine_for(settings.spark.master)
    command = compaction_command(window.start.date(), window.end.date(), engine)
    context.log.info(f"starting: {' '.join(command)}")
    invocation = pipes_subprocess_client.run(
        command=command, context=context, cwd=str(PROJECT_ROOT), env=parent_env()
    )
    results = invocation.get_results(implicit_materializations=False)  # none if all refused
    reported = [DayResult(**day) for day in invocation.get_custom_messages()[-1]["days"]]
    yield from results
    yield from audit_checks(context, reported, AuditRules.from_settings(settings))
    if not any(isinstance(r, dg.MaterializeResult) for r in results):
        # Every day refused: nothing new to record, and the run must fail, not the framework
        # for a missing output.
        reasons = "; ".join(f"{r.trade_date}: {r.refused}" for r in reported)
        raise dg.Failure(description=f"every day was refused, its last version stays: {reasons}")


def audit_checks(
    context: dg.AssetExecutionContext, days: list[DayResult], rules: AuditRules
) -> Iterator[dg.AssetCheckResult | dg.AssetCheckEvaluation | dg.Output]:
    """Each audit check's result for each day of the run."""
    outcomes = {day.trade_date: day_outcomes(day, rules) for day in days}
    for name in AUDIT_CHECKS:
        yield from per_partition(
            context,
            {
                day: dg.AssetCheckResult(
                    asset_key=COMPACTED_TICKS_KEY,
                    check_name=name,
                    passed=found[name].passed,
                    severity=dg.AssetCheckSeverity.WARN
                    if found[name].warn_only
                    else dg.AssetCheckSeverity.ERROR,
                    metadata={"found": found[name].detail, "refused": found[name].refused},
                )
                for day, found in outcomes.items()
            },
        )


def no_session(context: dg.AssetExecutionContext, days: list[date], calendar: str):
    """The result of a run over days the exchange did not trade and no tick came in: the
    partitions are materialized, empty, and say why."""
    listed = ", ".join(d.isoformat() for d in days)
    context.log.info(f"{listed}: no {calendar} session and no raw ticks - nothing to compact")
    reason = f"no session: {calendar} does not trade on {listed}, and raw_ticks has no rows"
    yield dg.MaterializeResult(metadata={"session": reason, "rows": 0, "days": len(days)})
    for name in AUDIT_CHECKS:
        yield from per_partition(
            context,
            {
                day.isoformat(): dg.AssetCheckResult(
                    asset_key=COMPACTED_TICKS_KEY,
                    check_name=name,
                    passed=True,
                    metadata={"found": "no session and no raw ticks"},
                )
                for day in days
            },
        )
