"""dbt-duckdb plugin: connects dbt's DuckDB to the lakehouse through the one settings object.

dbt_project/profiles.yml names this module, so dbt (run by Dagster or by hand) gets the offline
httpfs/delta extensions, the S3 secret, and a `lakehouse` schema of views over the Delta tables on
the S3 store: dbt sources then read `lakehouse.compacted_ticks` like any table, and DuckDB pushes
the models' `trade_date` filters down into `delta_scan` (partition pruning). The same schema gets
`trading_sessions`, the exchange calendar's sessions, for the tests that judge bars by them.
"""

from __future__ import annotations

import os
from typing import Any

from dbt.adapters.duckdb.plugins import BasePlugin
from deltalake import DeltaTable
from duckdb import DuckDBPyConnection

from stock_lakehouse.clients.duckdb_conn import configure
from stock_lakehouse.clients.s3 import deltalake_storage_options
from stock_lakehouse.market_calendar import session_table
from stock_lakehouse.parent_watch import exit_with_parent
from stock_lakehouse.settings import get_settings
from stock_lakehouse.tables import COMPACTED_TICKS, RAW_TICKS, table_uri

SOURCE_SCHEMA = "lakehouse"
# view name -> table in the bucket
SOURCE_TABLES = {"compacted_ticks": COMPACTED_TICKS, "raw_ticks": RAW_TICKS}


def is_read_only(conn: DuckDBPyConnection) -> bool:
    row = conn.execute(
        "SELECT readonly FROM duckdb_databases() WHERE database_name = current_database()"
    ).fetchone()
    return bool(row and row[0])


def create_trading_sessions(conn: DuckDBPyConnection, calendar: str) -> None:
    """`lakehouse.trading_sessions`: the MARKET_CALENDAR's sessions (date, open, close in UTC),
    rewritten at every dbt start so that a new calendar or a new year is there at once."""
    conn.register("calendar_sessions", session_table(calendar))
    try:
        conn.execute(
            f"CREATE OR REPLACE TABLE {SOURCE_SCHEMA}.trading_sessions AS "
            "SELECT session_date::DATE AS session_date, open_utc::TIMESTAMP AS open_utc, "
            "close_utc::TIMESTAMP AS close_utc FROM calendar_sessions"
        )
    finally:
        conn.unregister("calendar_sessions")


class Plugin(BasePlugin):
    def initialize(self, plugin_config: dict[str, Any]) -> None:
        # `lake_views: false` (the profile's `lint` target): sqlfluff's dbt templater compiles the
        # models through an adapter connection, and linting must not need the S3 store.
        self.lake_views = bool(plugin_config.get("lake_views", True))
        # dbt started by a Dagster run (dagster-dbt sets DAGSTER_DBT_CLI) ends with its worker:
        # an orphan would hold the build database's lock against the run's retry.
        if os.environ.get("DAGSTER_DBT_CLI") == "true":
            exit_with_parent("dbt")  # DuckDB rolls back an unfinished transaction

    def configure_connection(self, conn: DuckDBPyConnection) -> None:
        s3 = get_settings().s3
        configure(conn, s3)
        if is_read_only(conn):
            # dagster-dbt reads row counts and column schemas after a run through a read-only
            # connection: the views that run created are in the file already.
            return
        conn.execute(f"CREATE SCHEMA IF NOT EXISTS {SOURCE_SCHEMA}")
        create_trading_sessions(conn, get_settings().market.calendar)
        if not self.lake_views:
            return
        options = deltalake_storage_options(s3)
        for view, table in SOURCE_TABLES.items():
            uri = table_uri(s3, table)
            # DuckDB binds a view when it is created: only for tables that exist. A missing one
            # makes the models fail with "lakehouse.compacted_ticks does not exist": nothing to
            # model before the first compaction.
            if DeltaTable.is_deltatable(uri, storage_options=options):
                conn.execute(
                    f"CREATE OR REPLACE VIEW {SOURCE_SCHEMA}.{view} AS "
                    f"SELECT * FROM delta_scan('{uri}')"
                )
