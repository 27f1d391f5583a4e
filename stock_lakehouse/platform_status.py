"""`stock-lakehouse status`: services, the stream and every day's partitions on one screen.

Each part degrades on its own: a stopped Kafka leaves the lag column empty, a missing Dagster
instance or S3 store gets a one-line note, and the rest still prints.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime

from rich.console import Console
from rich.table import Table

from stock_lakehouse.errors import UserFacingError
from stock_lakehouse.services.manager import LocalServices
from stock_lakehouse.settings import Settings
from stock_lakehouse.stream_progress import stream_progress, topic_end_offsets


def print_platform_status(settings: Settings, console: Console, print_services: Callable) -> None:
    rows = {row.name: row.state for row in print_services(LocalServices(settings))}
    up = {name for name, state in rows.items() if state in {"healthy", "external"}}
    console.print(_apps_table(settings))
    _print_stream(settings, console, kafka_up="kafka" in up)
    if "s3" in up:
        _print_days(settings, console)
    else:
        console.print(
            f"[yellow]partitions: the S3 store at {settings.s3.endpoint_url} is not running - "
            "'make services-up' starts it[/]",
            soft_wrap=True,
        )


def _apps_table(settings: Settings) -> Table:
    from stock_lakehouse.services.platform import (
        DagsterService,
        DashboardService,
        SimulatorService,
    )

    table = Table(title="platform processes")
    for column in ("process", "address", "state", "pids"):
        table.add_column(column, no_wrap=True)
    for app in (DagsterService(settings), DashboardService(settings), SimulatorService(settings)):
        pids = [p.pid() for p in app.processes]
        running = all(pids)
        state = "[green]running[/]" if running and app.healthy() else "[yellow]stopped[/]"
        if running and not app.healthy():
            state = "[red]unhealthy[/]"
        table.add_row(app.name, app.address, state, " ".join(str(p) for p in pids if p) or "-")
    return table


def _print_stream(settings: Settings, console: Console, kafka_up: bool) -> None:
    run = _stream_run(settings)
    ends = topic_end_offsets(settings) if kafka_up else None
    progress = stream_progress(settings, ends)
    table = Table(title=f"stream: {settings.kafka.ticks_topic} -> raw_ticks")
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
    if ends is None:
        console.print(
            f"[yellow]Kafka at {settings.kafka.bootstrap_servers} is not running or does not "
            "answer - lag unknown[/]",
            soft_wrap=True,
        )
    console.print(f"stream run: {run}", highlight=False, soft_wrap=True)


def _stream_run(settings: Settings) -> str:
    """The ingest_stream run in Dagster, if any, as one phrase."""
    from stock_lakehouse.services.platform import dagster_env

    env = dagster_env(settings)
    storage = env["DAGSTER_STORAGE_DIR"]
    if not os.path.isdir(storage):
        return f"no Dagster instance yet at {storage} - 'make demo' starts one"
    import dagster as dg

    os.environ.update({k: env[k] for k in ("DAGSTER_HOME", "DAGSTER_STORAGE_DIR")})
    with dg.DagsterInstance.get() as instance:
        runs = instance.get_runs(filters=dg.RunsFilter(job_name="ingest_stream"), limit=1)
    if not runs:
        return "never launched (the stream_supervisor sensor starts it once the daemon runs)"
    run = runs[0]
    return f"{run.status.value.lower()} (run {run.run_id[:8]})"


def _print_days(settings: Settings, console: Console) -> None:
    from stock_lakehouse.dashboard import queries
    from stock_lakehouse.dashboard.status import day_status
    from stock_lakehouse.tables import COMPACTED_TICKS, RAW_TICKS

    try:
        raw = queries.lake_stats(settings, RAW_TICKS)
        compacted = queries.lake_stats(settings, COMPACTED_TICKS)
    except UserFacingError as exc:
        console.print(f"[red]partitions: {exc}[/]", highlight=False, soft_wrap=True)
        return
    try:
        marts = queries.marts_rows_per_day(settings)
    except queries.NoData:
        import pandas as pd

        marts = pd.DataFrame()
    days = day_status(raw, compacted, marts)
    table = Table(title="partitions per day")
    # Short headers: the table fits an 80-column terminal without cutting a date or a status.
    table.add_column("day", no_wrap=True, min_width=10)
    table.add_column("status", no_wrap=True, min_width=11)
    for column in ("raw rows", "files", "compacted", "files", "in marts"):
        table.add_column(column, justify="right", no_wrap=True)
    for row in days.itertuples():
        table.add_row(
            row.trade_date,
            row.status,
            f"{row.raw_rows:,}",
            f"{row.raw_files:,}",
            _count(row.compacted_rows),
            _count(row.compacted_files),
            _count(row.ticks_in_marts),
        )
    console.print(table if len(days) else "partitions: raw_ticks holds no day yet")


def _count(value) -> str:
    import pandas as pd

    return "-" if value is None or pd.isna(value) else f"{int(value):,}"
