"""Asset checks on raw_ticks."""

from __future__ import annotations

from datetime import UTC, datetime

import dagster as dg

from stock_lakehouse.defs.ingest.assets import RAW_TICKS_KEY
from stock_lakehouse.delta_stats import table_stats
from stock_lakehouse.settings import get_settings
from stock_lakehouse.tables import RAW_TICKS, table_uri


def freshness_result(latest: datetime | None, now: datetime, bound_minutes: float):
    """(passed, lag in minutes or None): fresh when the newest event is within the bound."""
    if latest is None:
        return False, None
    lag = (now - latest).total_seconds() / 60
    return lag <= bound_minutes, lag


@dg.asset_check(
    asset=RAW_TICKS_KEY,
    name="raw_ticks_fresh",
    description="The newest event in raw_ticks is at most STREAM_FRESHNESS_MINUTES old.",
    automation_condition=dg.AutomationCondition.cron_tick_passed("*/10 * * * *"),
)
def raw_ticks_fresh() -> dg.AssetCheckResult:
    settings = get_settings()
    stats = table_stats(table_uri(settings.s3, RAW_TICKS), settings.s3, "event_time")
    latest = max((d.max_event_time for d in stats.days.values() if d.max_event_time), default=None)
    bound = settings.stream.freshness_minutes
    passed, lag = freshness_result(latest, datetime.now(UTC), bound)
    metadata = {"bound_minutes": bound}
    if latest is not None:
        metadata["latest_event_time"] = dg.MetadataValue.timestamp(latest)
        metadata["lag_minutes"] = round(lag, 2)
    return dg.AssetCheckResult(passed=passed, metadata=metadata)
