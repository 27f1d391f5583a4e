"""python -m stock_lakehouse.compaction --start 2026-11-20 [--end 2026-11-23]: the DuckDB engine."""

import sys

from stock_lakehouse.compaction import duckdb_engine
from stock_lakehouse.compaction.job import job_main


def main(argv: list[str] | None = None) -> int:
    return job_main(argv, "duckdb", duckdb_engine.run, duckdb_engine.__doc__.splitlines()[0])


if __name__ == "__main__":
    sys.exit(main())
