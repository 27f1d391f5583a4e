"""The `stock-lakehouse` command. Errors meant for people print as one line, never a traceback."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from stock_lakehouse.errors import UserFacingError
from stock_lakehouse.services.manager import LocalServices
from stock_lakehouse.services.process import tail
from stock_lakehouse.settings import get_settings

console = Console()
err = Console(stderr=True)


def _services() -> LocalServices:
    return LocalServices(get_settings())


@click.group()
# The installed distribution's version, so a script or a bug report can say which build ran.
@click.version_option(package_name="stock-lakehouse", message="%(prog)s %(version)s")
def cli() -> None:
    """stock-lakehouse: Kafka -> Spark -> Delta on S3 -> dbt/DuckDB, orchestrated by Dagster."""


@cli.group()
def services() -> None:
    """Run Kafka and the S3 store as local processes on 127.0.0.1."""


@services.command("up")
def services_up() -> None:
    """Start every local service (idempotent) and wait until each is healthy."""
    local = _services()
    with console.status("starting services") as spinner:
        local.up(on_start=lambda s: spinner.update(f"starting {s.name} at {s.address}"))
    _print_status(local)


@services.command("down")
def services_down() -> None:
    """Stop the services this project started (data stays in the state folder)."""
    local = _services()
    with console.status("stopping services") as spinner:
        stopped = local.down(on_stop=lambda s: spinner.update(f"stopping {s.name}"))
    console.print(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")


@services.command("status")
def services_status() -> None:
    """Each service with its address and health; exits 1 if any managed service is not healthy."""
    local = _services()
    rows = _print_status(local)
    if any(row.state in {"stopped", "unhealthy", "unreachable"} for row in rows):
        sys.exit(1)


@services.command("logs")
@click.argument("name", type=click.Choice(["kafka", "s3"]))
@click.option("-n", "--lines", default=40, show_default=True)
def services_logs(name: str, lines: int) -> None:
    """Print the tail of a service's log file(s)."""
    service = getattr(_services(), name)
    for process in service.processes:
        console.rule(str(process.log_file))
        console.print(tail(process.log_file, lines), markup=False, highlight=False)


@cli.command()
def smoke() -> None:
    """Round-trip data through Kafka and the S3 store, then print how to reach them."""
    from stock_lakehouse.services.smoke import kafka_round_trip, s3_round_trip

    settings = get_settings()
    local = LocalServices(settings)
    for probe in (kafka_round_trip, s3_round_trip):
        result = probe(settings)
        console.print(f"[green]ok[/] {result.check}: {result.detail} ({result.seconds}s)")
    _print_status(local)
    console.print(
        "next: 'make services-down' stops them; 'stock-lakehouse services logs kafka|s3' shows logs"
    )


POSITIVE = click.FloatRange(min=0, min_open=True)


@cli.command()
@click.option("--live", is_flag=True, help="Ticks stamped now, at --rate, until Ctrl-C or a bound.")
@click.option(
    "--history",
    "days",
    type=click.IntRange(min=1),
    metavar="DAYS",
    help="The past DAYS trading sessions of MARKET_CALENDAR, as fast as Kafka takes them.",
)
@click.option("--rate", type=POSITIVE, default=100.0, show_default=True, help="Live: ticks/s.")
@click.option("--duration", type=POSITIVE, metavar="SECONDS", help="Live: stop after it.")
@click.option("--count", type=click.IntRange(min=1), help="Live: stop after this many ticks.")
@click.option(
    "--ticks-per-day",
    type=click.IntRange(min=1),
    default=20_000,
    show_default=True,
    help="History: ticks per session over all tickers.",
)
@click.option("--end-date", type=click.DateTime(["%Y-%m-%d"]), help="History: days before it.")
@click.option("--tickers", help="Comma-separated universe [default: MARKET_TICKERS].")
@click.option("--seed", type=int, help="Same seed and options, same messages [default: random].")
@click.option("--topic", help="[default: KAFKA_TICKS_TOPIC]")
@click.option(
    "--bad-ratio",
    type=click.FloatRange(0, 1, max_open=True),
    default=0.0,
    show_default=True,
    help="Share of malformed messages.",
)
@click.option(
    "--event-rate",
    type=click.FloatRange(min=0),
    default=2.0,
    show_default=True,
    help="Injected price jumps and volume spikes per trading hour.",
)
@click.option(
    "--labels",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where injected events are appended [default: <state dir>/simulator/labels.jsonl].",
)
@click.option("--partitions", type=click.IntRange(min=1), default=3, show_default=True)
@click.option("--retention-hours", type=POSITIVE, default=168.0, show_default=True)
def simulate(
    live: bool,
    days: int | None,
    tickers: str | None,
    topic: str | None,
    end_date: datetime | None,
    **options,
) -> None:
    """Produce simulated ticks to Kafka, with injected events (labelled) and bad messages."""
    from stock_lakehouse.simulator import SimulationOptions, run_simulation

    if live == (days is not None):
        raise click.UsageError("choose one of --live and --history DAYS")
    if days is not None and (options["duration"] or options["count"]):
        raise click.UsageError("--duration and --count bound --live runs only")
    settings = get_settings()
    symbols = settings.market.ticker_list if tickers is None else tickers.upper().split(",")
    universe = tuple(s.strip() for s in symbols if s.strip())
    if not universe:
        raise click.UsageError("no ticker to simulate: set --tickers or MARKET_TICKERS")
    strangers = [s for s in universe if s not in settings.market.ticker_list]
    if strangers:
        err.print(
            f"note: {', '.join(strangers)} not in MARKET_TICKERS - the stream will quarantine "
            "their ticks as unknown_ticker",
            highlight=False,
            soft_wrap=True,
        )
    summary = run_simulation(
        settings,
        SimulationOptions(
            mode="live" if live else "history",
            topic=topic or settings.kafka.ticks_topic,
            tickers=universe,
            days=days or 0,
            end_date=end_date.date() if end_date else None,
            labels_path=options.pop("labels"),
            **options,
        ),
    )
    console.print(summary.line(), markup=False, highlight=False, soft_wrap=True)
    if summary.failed:
        raise UserFacingError(
            f"Kafka did not acknowledge {summary.failed:,} of {summary.sent:,} messages "
            f"({summary.first_error or 'timed out'}) - see 'stock-lakehouse services logs kafka'"
        )


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="one JSON object, for scripts and monitors")
def status(as_json: bool) -> None:
    """One screen: services, the stream (run, lag per Kafka partition, last micro-batch), and
    per-day partitions of raw, compacted and marts. Exits 1 when a service is down or no stream
    is running."""
    import json

    from stock_lakehouse import platform_status

    settings = get_settings()
    report = platform_status.collect(settings)
    if as_json:
        click.echo(json.dumps(platform_status.as_json(report), indent=2))
    else:
        platform_status.render(report, console, settings)
    if not report.ok:
        sys.exit(1)


@cli.command()
@click.option("--port", type=int, help="[default: DASHBOARD_PORT]")
def dashboard(port: int | None) -> None:
    """Serve the Streamlit dashboard on 127.0.0.1 in the foreground (Ctrl-C stops it)."""
    import subprocess

    from stock_lakehouse.services.platform import dashboard_command
    from stock_lakehouse.services.process import port_is_free

    settings = get_settings()
    if port is not None:
        settings = settings.model_copy(
            update={"dashboard": settings.dashboard.model_copy(update={"port": port})}
        )
    where = f"{settings.dashboard.host}:{settings.dashboard.port}"
    if not port_is_free(settings.dashboard.port, settings.dashboard.host):
        raise UserFacingError(
            f"port {where} is already in use - is the dashboard already running (make demo)? "
            "Stop that program or pass --port"
        )
    console.print(f"dashboard: http://{where}  (Ctrl-C stops it)", highlight=False)
    try:
        sys.exit(subprocess.call(dashboard_command(settings)))
    except KeyboardInterrupt:
        sys.exit(130)


@cli.group()
def demo() -> None:
    """The whole platform on this machine: services, simulator, Dagster and the stream."""


@demo.command("up")
@click.option("--history-days", default=3, show_default=True, help="Past days a fresh topic gets.")
@click.option("--rate", default=20.0, show_default=True, help="Live ticks per second.")
def demo_up(history_days: int, rate: float) -> None:
    """Start everything (idempotent) and print where to look."""
    from stock_lakehouse.services.platform import (
        DagsterService,
        DashboardService,
        SimulatorService,
        dagster_env,
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


def _print_status(local: LocalServices):
    from stock_lakehouse.platform_status import services_table

    rows = local.status()
    console.print(services_table(rows))
    console.print(
        f"bucket {local.settings.s3.uri()}; data and logs in {local.settings.local.state_dir}",
        highlight=False,
    )
    return rows


def main() -> None:
    try:
        cli(standalone_mode=False)
    except UserFacingError as exc:
        # soft_wrap: one line even when stderr is a pipe (rich would wrap at 80 columns)
        err.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        if exc.detail:
            err.print(exc.detail, markup=False, highlight=False, style="dim")
        sys.exit(1)
    except click.exceptions.Abort:
        err.print("aborted")
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()
