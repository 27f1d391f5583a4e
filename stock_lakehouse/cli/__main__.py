"""`python -m stock_lakehouse.cli`, the same as the installed `stock-lakehouse`."""

from stock_lakehouse.cli.app import main

main()
