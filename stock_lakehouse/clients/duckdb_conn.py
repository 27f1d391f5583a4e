"""DuckDB connections that read Delta tables on the S3 store, offline.

DuckDB would download `httpfs` and `delta` at first use; here they come from the duckdb-ext wheels
and auto-install is off, so a machine without internet access behaves like any other. Shared by dbt,
the dashboard and the tests: one place knows how to reach the S3 store from DuckDB.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import duckdb_ext

from stock_lakehouse.settings import S3Settings, get_settings


def s3_secret_sql(s3: S3Settings, name: str = "lakehouse_s3") -> str:
    """CREATE SECRET for the configured S3 store (DuckDB takes no parameters in this statement)."""
    return (
        f"CREATE OR REPLACE SECRET {name} (TYPE s3, "
        f"KEY_ID {_literal(s3.access_key_id)}, "
        f"SECRET {_literal(s3.secret_access_key.get_secret_value())}, "
        f"ENDPOINT {_literal(s3.host_port)}, REGION {_literal(s3.region)}, "
        f"URL_STYLE '{'path' if s3.path_style else 'vhost'}', USE_SSL {str(s3.use_ssl).lower()})"
    )


def connect(
    database: str | Path = ":memory:", *, read_only: bool = False, s3: S3Settings | None = None
) -> duckdb.DuckDBPyConnection:
    """A connection with httpfs and delta loaded and an S3 secret for the lakehouse bucket."""
    con = duckdb.connect(str(database), read_only=read_only)
    configure(con, s3 or get_settings().s3)
    return con


def connect_file(database: str | Path, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """A DuckDB file on this machine without the lake's extensions or secret: the marts' build
    and published databases, which hold plain tables."""
    return duckdb.connect(str(database), read_only=read_only)


def configure(con: duckdb.DuckDBPyConnection, s3: S3Settings) -> None:
    """Offline httpfs + delta and the S3 secret, on a connection someone else opened (dbt's)."""
    duckdb_ext.init(con)  # extension_directory -> the wheels, autoinstall off
    con.execute("LOAD httpfs")
    con.execute("LOAD delta")
    con.execute(s3_secret_sql(s3))


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"
