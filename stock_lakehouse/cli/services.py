"""`stock-lakehouse services ...` and `smoke`: the local Kafka and S3 store."""

from __future__ import annotations

import sys

import click

from stock_lakehouse.cli.output import console, print_services
from stock_lakehouse.services.manager import LocalServices
from stock_lakehouse.services.process import tail
from stock_lakehouse.settings import get_settings


def _services() -> LocalServices:
    return LocalServices(get_settings())


@click.group()
def services() -> None:
    """Run Kafka and the S3 store as local processes on 127.0.0.1."""


@services.command("up")
def services_up() -> None:
    """Start every local service (idempotent) and wait until each is healthy."""
    local = _services()
    with console.status("starting services") as spinner:
        local.up(on_start=lambda s: spinner.update(f"starting {s.name} at {s.address}"))
    print_services(local)


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
    rows = print_services(local)
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


@click.command()
def smoke() -> None:
    """Round-trip data through Kafka and the S3 store, then print how to reach them."""
    from stock_lakehouse.services.smoke import kafka_round_trip, s3_round_trip

    settings = get_settings()
    local = LocalServices(settings)
    for probe in (kafka_round_trip, s3_round_trip):
        result = probe(settings)
        console.print(f"[green]ok[/] {result.check}: {result.detail} ({result.seconds}s)")
    print_services(local)
    console.print(
        "next: 'make services-down' stops them; 'stock-lakehouse services logs kafka|s3' shows logs"
    )
