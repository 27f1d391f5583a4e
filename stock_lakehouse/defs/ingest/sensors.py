"""Sensors of the ingest domain: report raw_ticks partitions, and keep the stream running."""

import json
import time

import dagster as dg

from stock_lakehouse.clients.delta_log import DayStats, TableStats, table_stats
from stock_lakehouse.defs.ingest.assets import RAW_TICKS_KEY
from stock_lakehouse.defs.ingest.jobs import ingest_stream
from stock_lakehouse.partitions import daily_partitions
from stock_lakehouse.run_tags import STOPPED_BY_PLATFORM_TAG
from stock_lakehouse.settings import Settings, StreamSettings
from stock_lakehouse.tables import QUARANTINE, RAW_TICKS, table_uri


def partition_events(
    raw: TableStats, quarantine: TableStats, reported: dict[str, list[int]], valid_keys: set[str]
) -> tuple[list[dg.AssetMaterialization], dict[str, list[int]]]:
    """Materializations for the days whose (rows, quarantined rows) changed since `reported`."""
    events = []
    state = dict(reported)
    for day in sorted(set(raw.days) | set(quarantine.days)):
        if day not in valid_keys:
            continue  # before the partitions' start date, or a bogus future date
        stats = raw.days.get(day, DayStats(0, 0, 0))
        quarantined = quarantine.days.get(day, DayStats(0, 0, 0)).rows
        counts = [stats.rows, quarantined]
        if reported.get(day) == counts:
            continue
        state[day] = counts
        metadata: dict[str, dg.RawMetadataValue] = {
            "rows": dg.MetadataValue.int(stats.rows),
            "files": dg.MetadataValue.int(stats.files),
            "bytes": dg.MetadataValue.int(stats.bytes),
            "quarantined_rows": dg.MetadataValue.int(quarantined),
            "delta_version": dg.MetadataValue.int(raw.version),
        }
        if stats.min_event_time is not None and stats.max_event_time is not None:
            metadata["min_event_time"] = dg.MetadataValue.timestamp(stats.min_event_time)
            metadata["max_event_time"] = dg.MetadataValue.timestamp(stats.max_event_time)
        events.append(
            dg.AssetMaterialization(asset_key=RAW_TICKS_KEY, partition=day, metadata=metadata)
        )
    return events, state


@dg.sensor(
    name="raw_ticks_partitions",
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Records a raw_ticks materialization for each day whose rows changed.",
)
def raw_ticks_partitions_sensor(
    context: dg.SensorEvaluationContext, settings: dg.ResourceParam[Settings]
) -> dg.SensorResult:
    s3 = settings.s3
    raw = table_stats(table_uri(s3, RAW_TICKS), s3, time_column="event_time")
    quarantine = table_stats(table_uri(s3, QUARANTINE), s3)
    cursor = json.loads(context.cursor) if context.cursor else {}
    if [raw.version, quarantine.version] == cursor.get("versions"):
        return dg.SensorResult(skip_reason="no new Delta commits")
    valid_keys = set(daily_partitions.get_partition_keys(dynamic_partitions_store=None))
    events, reported = partition_events(raw, quarantine, cursor.get("days", {}), valid_keys)
    new_cursor = json.dumps({"versions": [raw.version, quarantine.version], "days": reported})
    return dg.SensorResult(asset_events=events, cursor=new_cursor)


def restart_delay(consecutive_failures: int, stream: StreamSettings) -> float:
    """Seconds to wait before restarting after that many failures in a row (0 = start now)."""
    if consecutive_failures <= 0:
        return 0.0
    delay = stream.restart_backoff_seconds * 2 ** (consecutive_failures - 1)
    return min(delay, stream.restart_backoff_max_seconds)


@dg.sensor(
    name="stream_supervisor",
    job=ingest_stream,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Starts ingest_stream when no run of it is in progress; after failures, with exponential "
        "back-off. A run a person terminated stays stopped until someone launches it again."
    ),
)
def stream_supervisor(
    context: dg.SensorEvaluationContext, settings: dg.ResourceParam[Settings]
) -> dg.SensorResult | dg.RunRequest:
    records = context.instance.get_run_records(
        filters=dg.RunsFilter(job_name=ingest_stream.name), limit=20
    )  # newest first
    in_progress = [r for r in records if not r.dagster_run.is_finished]
    if in_progress:
        return dg.SensorResult(
            skip_reason=f"ingest_stream is running (run {in_progress[0].dagster_run.run_id})"
        )
    last = records[0].dagster_run if records else None
    if (
        last is not None
        and last.status == dg.DagsterRunStatus.CANCELED
        and STOPPED_BY_PLATFORM_TAG not in last.tags
    ):
        return dg.SensorResult(
            skip_reason="the last ingest_stream run was terminated by a person; launch "
            "ingest_stream to resume supervision"
        )
    failures = 0
    for record in records:
        if record.dagster_run.status != dg.DagsterRunStatus.FAILURE:
            break
        failures += 1
    delay = restart_delay(failures, settings.stream)
    if failures and records[0].end_time is not None:
        wait = records[0].end_time + delay - time.time()
        if wait > 0:
            return dg.SensorResult(
                skip_reason=f"{failures} failed run(s) in a row: restarting in {wait:.0f}s"
            )
    return dg.RunRequest(tags={"stock_lakehouse/restart_after_failures": str(failures)})
