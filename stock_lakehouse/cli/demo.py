"""`stock-lakehouse demo up|down`: the whole platform on this machine."""

from __future__ import annotations

import click
from rich.table import Table

from stock_lakehouse.cli.output import console
from stock_lakehouse.services.manager import LocalServices
from stock_lakehouse.settings import get_settings


@click.group()
def demo() -> None:
    """The whole platform on this machine: services, simulator, Dagster and the stream."""


@demo.command("up")
@click.option("--history-days", default=3, show_default=True, help="Past days a fresh topic gets.")
@click.option("--rate", default=20.0, show_default=True, help="Live ticks per second.")
def demo_up(history_days: int, rate: float) -> None:
    """Start everything (idempotent) and print where to look."""
    from stock_lakehouse.clients.dagster_instance import dagster_env
    from stock_lakehouse.services.platform import (
        DagsterService,
        DashboardService,
        SimulatorService,
    )
    from stock_lakehouse.simulator import SimulationOptions, run_simulation
    from stock_lakehouse.simulator.producer import ensure_topic

    settings = get_settings()
    local = LocalServices(settings)
    with console.status("starting Kafka and the S3 store") as spinner:
        local.up(on_start=lambda s: spinner.update(f"starting {s.name} at {s.address}"))
    topic = settings.kafka.ticks_topic
    if ensure_topic(settings, topic) and history_days > 0:
        console.print(f"new topic {topic}: producing {history_days} past trading days")
        summary = run_simulation(
            settings,
            SimulationOptions(
                mode="history",
                topic=topic,
                tickers=tuple(settings.market.ticker_list),
                days=history_days,
                bad_ratio=0.005,
                seed=7,
            ),
        )
        console.print(summary.line(), markup=False, highlight=False, soft_wrap=True)
    # The live simulator trades around the clock: the days it feeds are published with a warning
    # for their ticks outside the session, not refused (unless the user chose otherwise).
    chosen = "COMPACTION_OUTSIDE_SESSION" in dagster_env(settings)
    demo_env = {} if chosen else {"COMPACTION_OUTSIDE_SESSION": "warn"}
    dagster, dashboard = DagsterService(settings, extra_env=demo_env), DashboardService(settings)
    apps = [SimulatorService(settings, rate=rate), dagster, dashboard]
    with console.status("starting the live simulator, Dagster and the dashboard") as spinner:
        for app in apps:
            spinner.update(f"starting {app.name}")
            app.start()
    table = Table(title="stock-lakehouse demo")
    for column in ("what", "where"):
        table.add_column(column, no_wrap=True)
    table.add_row("Dagster UI", dagster.address)
    table.add_row("dashboard", dashboard.address)
    table.add_row("Kafka", settings.kafka.bootstrap_servers)
    table.add_row("S3 store", f"{settings.s3.endpoint_url}  (bucket {settings.s3.bucket})")
    table.add_row("live simulator", f"{rate:g} ticks/s -> {topic}")
    table.add_row("marts (DuckDB, read-only)", str(settings.marts.published_db))
    console.print(table)
    console.print(
        "The stream_supervisor sensor starts the ingest_stream run within a minute; raw_ticks "
        "partitions appear in the Dagster UI as they fill, and batch_automation then compacts "
        "and models each closed day. Stop all: make down",
        soft_wrap=True,
    )


@demo.command("down")
def demo_down() -> None:
    """Stop the stream run, Dagster, the simulator and the services (data stays)."""
    from stock_lakehouse.services.platform import (
        DagsterService,
        DashboardService,
        SimulatorService,
    )

    settings = get_settings()
    stopped = []
    with console.status("stopping") as spinner:
        apps = (DashboardService(settings), DagsterService(settings), SimulatorService(settings))
        for app in apps:
            spinner.update(f"stopping {app.name}")
            if app.stop():
                stopped.append(app.name)
        # Then any stream Dagster no longer knows (found by its checkpoint's lease), and the rest.
        stopped += LocalServices(settings).down(
            on_stop=lambda s: spinner.update(f"stopping {s.name}")
        )
    console.print(
        f"stopped: {', '.join(stopped) or 'nothing was running'}; data stays in "
        f"{settings.local.state_dir}",
        highlight=False,
    )
