"""Where the commands print: stdout for results, stderr for errors and notes."""

from __future__ import annotations

from rich.console import Console

from stock_lakehouse.cli.status_report import services_table
from stock_lakehouse.services.manager import LocalServices, ServiceStatus

console = Console()
err = Console(stderr=True)


def print_services(local: LocalServices) -> list[ServiceStatus]:
    """The services table, the bucket and the state folder; returns the rows it printed."""
    rows = local.status()
    console.print(services_table(rows))
    console.print(
        f"bucket {local.settings.s3.uri()}; data and logs in {local.settings.local.state_dir}",
        highlight=False,
    )
    return rows
