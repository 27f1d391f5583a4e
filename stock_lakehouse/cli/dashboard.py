"""`stock-lakehouse dashboard`: the Streamlit app in the foreground."""

from __future__ import annotations

import sys

import click

from stock_lakehouse.cli.output import console
from stock_lakehouse.errors import UserFacingError
from stock_lakehouse.settings import get_settings


@click.command()
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
