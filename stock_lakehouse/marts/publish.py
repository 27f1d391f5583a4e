"""Publish the marts: readers get a complete DuckDB file or the previous one, never a lock error.

DuckDB allows one writing process per file, and a reader that opens a file a writer holds fails.
So dbt writes only the build database, and after each successful run this module checkpoints it,
copies it beside the published file and renames the copy over it (atomic on POSIX). A reader that
already has the old file open keeps reading the old inode until it reconnects.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

from stock_lakehouse.clients import duckdb_conn


def publish(build_db: Path, published_db: Path) -> int:
    """Copy `build_db` over `published_db` atomically; returns the published size in bytes."""
    with duckdb_conn.connect_file(build_db) as con:
        con.execute("CHECKPOINT")  # fold the write-ahead log into the file before copying it
    published_db.parent.mkdir(parents=True, exist_ok=True)
    staging = published_db.with_name(f".{published_db.name}.{uuid.uuid4().hex}.tmp")
    try:
        shutil.copyfile(build_db, staging)
        os.replace(staging, published_db)
    finally:
        staging.unlink(missing_ok=True)
    return published_db.stat().st_size
