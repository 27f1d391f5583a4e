"""`stock-lakehouse status`: services, the stream and every day's partitions, for people or scripts.

`collect` gathers one `PlatformReport`; `render` prints it as tables, `as_json` as one JSON object
(`status --json`) for monitors. Each part degrades on its own: a stopped Kafka leaves the lag
unknown, a missing Dagster instance or S3 store gets a note, and the rest is still reported.
`problems` lists what keeps the platform from ingesting (a service down, no stream running): the
CLI exits non-zero when there is any.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from rich.console import Console
from rich.table import Table

from stock_lakehouse.errors import UserFacingError
from stock_lakehouse.services.manager import LocalServices, ServiceStatus
from stock_lakehouse.settings import Settings
from stock_lakehouse.stream_lease import StreamLease
from stock_lakehouse.stream_progress import StreamProgress, stream_progress, topic_end_offsets

STATE_STYLE = {
    "healthy": "green",
    "external": "cyan",
    "running": "green",
    "stopped": "yellow",
    "unhealthy": "red",
    "unreachable": "red",
}
SERVICE_UP = {"healthy", "external"}
SERVICE_FIX = {
    "stopped": "'make services-up' starts it",
    "unhealthy": "see 'stock-lakehouse services logs {name}'; 'make services-down services-up'",
    "unreachable": "check that it runs at that address, or the settings that point to it",
}


@dataclass(frozen=True)
class AppState:
    name: str
    address: str
    state: str  # "running" | "stopped" | "unhealthy"
    pids: tuple[int, ...]


@dataclass
class PlatformReport:
    services: list[ServiceStatus]
    apps: list[AppState]
    topic: str
    progress: StreamProgress
    stream_holder: str | None  # who runs the stream on this checkpoint, None when nobody does
    stream_run: str  # the ingest_stream run in Dagster, as a phrase
    days: list[dict[str, Any]] | None  # None: the S3 store could not be read
    notes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def collect(settings: Settings) -> PlatformReport:
    services = LocalServices(settings).status()
    up = {row.name for row in services if row.state in SERVICE_UP}
    problems = [
        f"{row.name} at {row.address} is {row.state} - "
        + SERVICE_FIX.get(row.state, "").format(name=row.name)
        for row in services
        if row.state not in SERVICE_UP
    ]
    notes = []
    ends = topic_end_offsets(settings) if "kafka" in up else None
    if ends is None and "kafka" in up:
        notes.append(f"Kafka at {settings.kafka.bootstrap_servers} does not answer - lag unknown")
    holder = StreamLease(settings.stream.checkpoint_dir).holder()
    running = holder is not None and holder.alive()
    if not running:
        problems.append(
            f"no stream is running on {settings.stream.checkpoint_dir} - 'make demo' starts one "
            "under Dagster (or 'python spark_jobs/stream_ticks.py')"
        )
    days = None
    if "s3" in up:
        days, note = _days(settings)
        if note:
            notes.append(note)
    return PlatformReport(
        services=services,
        apps=_apps(settings),
        topic=settings.kafka.ticks_topic,
        progress=stream_progress(settings, ends),
        stream_holder=holder.describe() if running and holder else None,
        stream_run=_stream_run(settings),
        days=days,
        notes=notes,
        problems=problems,
    )


def as_json(report: PlatformReport) -> dict[str, Any]:
    """One object for scripts: every field in plain JSON types (times as ISO strings)."""
    progress = report.progress
    return {
        "ok": report.ok,
        "problems": report.problems,
        "notes": report.notes,
        "services": [asdict(row) for row in report.services],
        "platform": [asdict(app) for app in report.apps],
        "stream": {
            "topic": report.topic,
            "running": report.stream_holder is not None,
            "holder": report.stream_holder,
            "dagster_run": report.stream_run,
            "last_batch": progress.last_batch,
            "last_batch_at": _iso(progress.last_batch_at),
            # Unknown (null) unless Kafka answered for every partition of a known topic.
            "lag": None
            if not progress.partitions or any(p.lag is None for p in progress.partitions)
            else sum(p.lag or 0 for p in progress.partitions),
            "partitions": [
                {
                    "partition": p.partition,
                    "end_offset": p.end_offset,
                    "processed": p.processed,
                    "lag": p.lag,
                }
                for p in progress.partitions
            ],
        },
        "days": report.days,
    }


def render(report: PlatformReport, console: Console, settings: Settings) -> None:
    console.print(services_table(report.services))
    console.print(
        f"bucket {settings.s3.uri()}; data and logs in {settings.local.state_dir}",
        highlight=False,
    )
    console.print(_state_table("platform processes", "process", report.apps))
    _print_stream(report, console, settings)
    if report.days is None:
        console.print(
            f"[yellow]partitions: the S3 store at {settings.s3.endpoint_url} cannot be read[/]",
            soft_wrap=True,
        )
    else:
        console.print(
            _days_table(report.days) if report.days else "partitions: raw_ticks holds no day yet"
        )
    for note in report.notes:
        console.print(f"[yellow]note: {note}[/]", highlight=False, soft_wrap=True)
    for problem in report.problems:
        console.print(f"[red]problem: {problem}[/]", highlight=False, soft_wrap=True)


def services_table(rows: list[ServiceStatus]) -> Table:
    return _state_table("stock-lakehouse services", "service", rows)


def _state_table(title: str, kind: str, rows: list[ServiceStatus] | list[AppState]) -> Table:
    """Name, address, coloured state and PIDs: one row per service or platform process."""
    table = Table(title=title)
    for column in (kind, "address", "state", "pids"):
        table.add_column(column, no_wrap=True)
    for row in rows:
        style = STATE_STYLE.get(row.state, "")
        pids = " ".join(map(str, row.pids)) or "-"
        table.add_row(row.name, row.address, f"[{style}]{row.state}[/]", pids)
    return table


def _apps(settings: Settings) -> list[AppState]:
    from stock_lakehouse.services.platform import (
        DagsterService,
        DashboardService,
        SimulatorService,
    )

    apps = []
    for app in (DagsterService(settings), DashboardService(settings), SimulatorService(settings)):
        pids = [p.pid() for p in app.processes]
        running = all(pids)
        state = "stopped"
        if running:
            state = "running" if app.healthy() else "unhealthy"
        apps.append(AppState(app.name, app.address, state, tuple(p for p in pids if p)))
    return apps


def _print_stream(report: PlatformReport, console: Console, settings: Settings) -> None:
    progress = report.progress
    table = Table(title=f"stream: {report.topic} -> raw_ticks")
    for column in ("partition", "end offset", "processed", "lag"):
        table.add_column(column, justify="right")
    for p in progress.partitions:
        table.add_row(
            str(p.partition),
            "-" if p.end_offset is None else f"{p.end_offset:,}",
            f"{p.processed:,}",
            "-" if p.lag is None else f"{p.lag:,}",
        )
    console.print(table)
    if progress.last_batch_at is not None:
        age = (datetime.now(UTC) - progress.last_batch_at).total_seconds()
        console.print(
            f"last micro-batch: #{progress.last_batch} committed {age:,.0f} s ago "
            f"({settings.stream.checkpoint_dir})",
            highlight=False,
            soft_wrap=True,
        )
    else:
        console.print("last micro-batch: none yet (no committed batch in the checkpoint)")
    running = report.stream_holder or "not running"
    console.print(f"stream: {running}", highlight=False, soft_wrap=True)
    console.print(f"stream run: {report.stream_run}", highlight=False, soft_wrap=True)


def _stream_run(settings: Settings) -> str:
    """The ingest_stream run in Dagster, if any, as one phrase."""
    import dagster as dg

    from stock_lakehouse.clients.dagster_instance import dagster_env, dagster_instance

    storage = dagster_env(settings)["DAGSTER_STORAGE_DIR"]
    if not os.path.isdir(storage):
        return f"no Dagster instance yet at {storage} - 'make demo' starts one"
    with dagster_instance(settings) as instance:
        runs = instance.get_runs(filters=dg.RunsFilter(job_name="ingest_stream"), limit=1)
    if not runs:
        return "never launched (the stream_supervisor sensor starts it once the daemon runs)"
    run = runs[0]
    return f"{run.status.value.lower()} (run {run.run_id[:8]})"


def _days(settings: Settings) -> tuple[list[dict[str, Any]] | None, str | None]:
    """Each day's rows and files in raw, compacted and the marts; or None and why not."""
    from stock_lakehouse.read_model import queries
    from stock_lakehouse.read_model.day_status import day_status
    from stock_lakehouse.tables import COMPACTED_TICKS, RAW_TICKS

    try:
        raw = queries.lake_stats(settings, RAW_TICKS)
        compacted = queries.lake_stats(settings, COMPACTED_TICKS)
    except UserFacingError as exc:
        return None, f"partitions: {exc}"
    try:
        marts = queries.marts_rows_per_day(settings)
    except queries.NoData:
        import pandas as pd

        marts = pd.DataFrame()
    days = day_status(raw, compacted, marts)
    return [
        {
            "trade_date": str(row.trade_date),
            "status": row.status,
            "raw_rows": int(row.raw_rows),
            "raw_files": int(row.raw_files),
            "compacted_rows": _count(row.compacted_rows),
            "compacted_files": _count(row.compacted_files),
            "ticks_in_marts": _count(row.ticks_in_marts),
        }
        for row in days.itertuples()
    ], None


def _days_table(days: list[dict[str, Any]]) -> Table:
    table = Table(title="partitions per day")
    # Short headers: the table fits an 80-column terminal without cutting a date or a status.
    table.add_column("day", no_wrap=True, min_width=10)
    table.add_column("status", no_wrap=True, min_width=11)
    for column in ("raw rows", "files", "compacted", "files", "in marts"):
        table.add_column(column, justify="right", no_wrap=True)
    for day in days:
        table.add_row(
            day["trade_date"],
            day["status"],
            f"{day['raw_rows']:,}",
            f"{day['raw_files']:,}",
            *(
                "-" if day[k] is None else f"{day[k]:,}"
                for k in ("compacted_rows", "compacted_files", "ticks_in_marts")
            ),
        )
    return table


def _count(value) -> int | None:
    import pandas as pd

    return None if value is None or pd.isna(value) else int(value)


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()
