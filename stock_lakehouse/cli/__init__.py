"""The `stock-lakehouse` command: one module per command (group), registered in app.py.

Commands call down into services/, simulator/ and read_model/; nothing there calls back up here.
"""

from stock_lakehouse.cli.app import cli, main

__all__ = ["cli", "main"]
