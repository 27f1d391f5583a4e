"""Where each lakehouse table lives in the bucket: one place, so no path is spelled twice."""

from __future__ import annotations

from stock_lakehouse.settings import S3Settings

RAW_TICKS = "raw/ticks"
QUARANTINE = "raw/quarantine"
COMPACTED_TICKS = "compacted/ticks"


def table_uri(s3: S3Settings, table: str, *, scheme: str = "s3") -> str:
    """`s3://bucket/raw/ticks` for DuckDB/deltalake, `s3a://...` for Spark."""
    return s3.uri(table, scheme=scheme)
