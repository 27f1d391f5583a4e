"""The `stock-lakehouse` command. Errors meant for people print as one line, never a traceback."""

from __future__ import annotations

import sys

import click
from rich.console import Console
from rich.table import Table

from stock_lakehouse.errors import UserFacingError
from stock_lakehouse.services.manager import LocalServices
from stock_lakehouse.services.process import tail
from stock_lakehouse.settings import get_settings

console = Console()
err = Console(stderr=True)

STATE_STYLE = {
    "healthy": "green",
    "external": "cyan",
    "stopped": "yellow",
    "unhealthy": "red",
    "unreachable": "red",
}


def _services() -> LocalServices:
    return LocalServices(get_settings())


@click.group()
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


def _print_status(local: LocalServices):
    rows = local.status()
    table = Table(title="stock-lakehouse services")
    for column in ("service", "address", "state", "pids"):
        table.add_column(column, no_wrap=True)
    for row in rows:
        style = STATE_STYLE.get(row.state, "")
        pids = " ".join(map(str, row.pids)) or "-"
        table.add_row(row.name, row.address, f"[{style}]{row.state}[/]", pids)
    console.print(table)
    console.print(
        f"bucket {local.settings.s3.uri()}; data and logs in {local.settings.local.state_dir}",
        highlight=False,
    )
    return rows


def main() -> None:
    try:
        cli(standalone_mode=False)
    except UserFacingError as exc:
        err.print(f"[bold red]error:[/] {exc}", highlight=False)
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
