"""The `stock-lakehouse` group: every command module registered, errors printed as one line."""

from __future__ import annotations

import sys

import click

from stock_lakehouse.cli.dashboard import dashboard
from stock_lakehouse.cli.demo import demo
from stock_lakehouse.cli.output import err
from stock_lakehouse.cli.services import services, smoke
from stock_lakehouse.cli.simulate import simulate
from stock_lakehouse.cli.status import status
from stock_lakehouse.errors import UserFacingError


@click.group()
# The installed distribution's version, so a script or a bug report can say which build ran.
@click.version_option(package_name="stock-lakehouse", message="%(prog)s %(version)s")
def cli() -> None:
    """stock-lakehouse: Kafka -> Spark -> Delta on S3 -> dbt/DuckDB, orchestrated by Dagster."""


for command in (services, smoke, simulate, status, dashboard, demo):
    cli.add_command(command)


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
