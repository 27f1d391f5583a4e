"""Reading the lake's Delta tables back, the way each reader does."""

from __future__ import annotations

from datetime import date

from deltalake import DeltaTable
from pyspark.sql import functions as F

from stock_lakehouse.clients import duckdb_conn
from stock_lakehouse.clients.delta_log import table_stats
from stock_lakehouse.clients.s3 import deltalake_storage_options
from stock_lakehouse.clients.spark_session import get_spark_session
from stock_lakehouse.settings import Settings
from stock_lakehouse.tables import QUARANTINE, RAW_TICKS, table_uri


def prefixed(settings: Settings, prefix: str) -> Settings:
    return settings.model_copy(update={"s3": settings.s3.model_copy(update={"prefix": prefix})})


def delta(settings: Settings, table: str) -> DeltaTable:
    s3 = settings.s3
    return DeltaTable(table_uri(s3, table), storage_options=deltalake_storage_options(s3))


def day_rows(settings: Settings, table: str, day: date, columns=None):
    data = delta(settings, table).to_pyarrow_table(
        filters=[("trade_date", "=", day)], columns=columns
    )
    return data


def assert_every_reader_reads_every_column(
    services: Settings, prefix: str, raw_rows: int, bad_rows: int
) -> None:
    """DuckDB, delta-rs and Spark each read every column of both tables, every row once.

    Regressions: a tick stamped 1e20 made the partition `trade_date=+294247-01-10`, which DuckDB
    and delta-rs refuse; invalid UTF-8 in `payload_text` made DuckDB refuse the quarantine table.
    """
    s3 = services.s3.model_copy(update={"prefix": prefix})
    con = duckdb_conn.connect(s3=s3)
    spark = get_spark_session("hostile_readers", services)
    for table, rows in ((RAW_TICKS, raw_rows), (QUARANTINE, bad_rows)):
        uri = table_uri(s3, table)
        # Every column as text: each value is decoded, not only counted.
        columns = [
            d[0] for d in con.execute(f"DESCRIBE SELECT * FROM delta_scan('{uri}')").fetchall()
        ]
        cast = ", ".join(f'CAST("{c}" AS VARCHAR)' for c in columns)
        assert len(con.execute(f"SELECT {cast} FROM delta_scan('{uri}')").fetchall()) == rows
        time_column = "event_time" if table == RAW_TICKS else "kafka_timestamp"
        days = table_stats(uri, s3, time_column).days  # the log's stats parse, too
        assert sum(day.rows for day in days.values()) == rows
        assert all(date.fromisoformat(day) for day in days)
        frame = spark.read.format("delta").load(table_uri(s3, table, scheme="s3a"))
        assert frame.select([F.col(c).cast("string") for c in frame.columns]).count() == rows
