"""closed_days_on_time: each closed trading session is modelled within its deadline.

A day whose compaction or dbt run failed, or never ran, otherwise stays unbuilt without a word.
The check looks at the last few sessions of the exchange's calendar (since the first raw_ticks
day, so days before the platform existed never count): a session is late while its close plus
MARTS_DEADLINE_MINUTES has passed and fct_daily_summary still has no materialization of that day
made after the close. A day built late turns the check green again: it reports what is missing
now. It runs every 10 minutes and after each daily refresh; a red result reaches people through
the alerts sensor. With no raw_ticks day recorded (the partitions sensor stopped) it owes nothing,
and says so (`sessions_checked: 0`).
"""

from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta

import dagster as dg

from stock_lakehouse.defs.ingest.assets import RAW_TICKS_KEY
from stock_lakehouse.market_calendar import Session, sessions_between
from stock_lakehouse.settings import Settings

DAILY_SUMMARY_KEY = dg.AssetKey("fct_daily_summary")
CHECK_NAME = "closed_days_on_time"
# How far back a late day stays visible: a week of calendar days covers a long weekend.
LOOKBACK_DAYS = 7


def late_sessions(
    sessions: list[Session],
    built_at: Mapping[str, datetime | None],
    now: datetime,
    deadline: timedelta,
) -> list[Session]:
    """Sessions past close + deadline whose day was not built after its close."""
    late = []
    for session in sessions:
        if now < session.close + deadline:
            continue  # still open, or inside its deadline
        built = built_at.get(session.day.isoformat())
        if built is None or built < session.close:
            late.append(session)
    return late


def last_built(instance: dg.DagsterInstance, key: dg.AssetKey, day: str) -> datetime | None:
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=key, asset_partitions=[day]), limit=1
    ).records
    return datetime.fromtimestamp(records[0].timestamp, UTC) if records else None


def recent_sessions(instance: dg.DagsterInstance, now: datetime, calendar: str) -> list[Session]:
    """The last week's sessions, none before the first day raw_ticks holds (none if it is empty)."""
    raw_days = instance.get_materialized_partitions(RAW_TICKS_KEY)
    if not raw_days:
        return []
    start = max((now - timedelta(days=LOOKBACK_DAYS)).date(), date.fromisoformat(min(raw_days)))
    return sessions_between(start, now.date(), calendar)


@dg.asset_check(
    asset=DAILY_SUMMARY_KEY,
    name=CHECK_NAME,
    description=(
        "No closed trading session of the last week (since the first raw_ticks day) is still "
        "without its daily marts MARTS_DEADLINE_MINUTES after its close."
    ),
    automation_condition=dg.AutomationCondition.cron_tick_passed("*/10 * * * *"),
)
def closed_days_on_time(
    context: dg.AssetCheckExecutionContext, settings: dg.ResourceParam[Settings]
) -> dg.AssetCheckResult:
    now = datetime.now(UTC)
    deadline = timedelta(minutes=settings.marts.deadline_minutes)
    sessions = recent_sessions(context.instance, now, settings.market.calendar)
    built = {
        s.day.isoformat(): last_built(context.instance, DAILY_SUMMARY_KEY, s.day.isoformat())
        for s in sessions
    }
    late = late_sessions(sessions, built, now, deadline)
    return dg.AssetCheckResult(
        passed=not late,
        metadata={
            "late_days": ", ".join(s.day.isoformat() for s in late) or "none",
            "sessions_checked": len(sessions),
            "deadline_minutes": settings.marts.deadline_minutes,
        },
        description=(
            f"{len(late)} closed session(s) not modelled within {deadline} of the close"
            if late
            else None
        ),
    )
