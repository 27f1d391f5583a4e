"""`stock-lakehouse status`: the whole platform on one screen, or as JSON."""

from __future__ import annotations

import json
import sys

import click

from stock_lakehouse.cli import status_report
from stock_lakehouse.cli.output import console
from stock_lakehouse.settings import get_settings


@click.command()
@click.option("--json", "as_json", is_flag=True, help="one JSON object, for scripts and monitors")
def status(as_json: bool) -> None:
    """One screen: services, the stream (run, lag per Kafka partition, last micro-batch), and
    per-day partitions of raw, compacted and marts. Exits 1 when a service is down or no stream
    is running."""
    settings = get_settings()
    report = status_report.collect(settings)
    if as_json:
        click.echo(json.dumps(status_report.as_json(report), indent=2))
    else:
        status_report.render(report, console, settings)
    if not report.ok:
        sys.exit(1)
