"""VACUUM of the lake's Delta tables: delete the files no version within the retention needs.

Raw keeps every small file the live compaction merged, compacted every day it replaced, and a
killed compaction leaves files no commit references; without this they stay on S3 forever.

delta-rs lists what VACUUM may delete (files removed more than `retention_hours` ago and files
no commit references, older than that too) and this module deletes them with batched S3 deletes.
It writes nothing to the Delta log: delta-rs's own VACUUM records VACUUM START/END commits, and
raw_ticks has one writer, the stream, whose commits on S3 (no multi-writer log store) a second
committer could overwrite. A file still referenced, or written by a commit in progress (it is
newer than the retention), is never listed. Readers that pin a version (compaction's read of
raw, time travel) keep working for `retention_hours` after a file's removal.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from deltalake import DeltaTable

from stock_lakehouse.clients.s3 import deltalake_storage_options, s3_client
from stock_lakehouse.settings import S3Settings
from stock_lakehouse.tables import COMPACTED_TICKS, QUARANTINE, RAW_TICKS, table_uri

# The tables by the names the UI and the docs use.
VACUUMED_TABLES = {
    "raw_ticks": RAW_TICKS,
    "quarantine": QUARANTINE,
    "compacted_ticks": COMPACTED_TICKS,
}
S3_DELETE_BATCH = 1000  # DeleteObjects takes at most 1,000 keys


@dataclass(frozen=True)
class VacuumResult:
    table: str  # a name of VACUUMED_TABLES
    version: int  # -1: no table yet
    files_deleted: int
    seconds: float


def vacuum_table(s3: S3Settings, name: str, retention_hours: int) -> VacuumResult:
    """Delete the files of table `name` that no version of the last `retention_hours` needs."""
    started = time.monotonic()
    table = VACUUMED_TABLES[name]
    uri = table_uri(s3, table)
    options = deltalake_storage_options(s3)
    if not DeltaTable.is_deltatable(uri, options):
        return VacuumResult(name, -1, 0, 0.0)
    delta = DeltaTable(uri, storage_options=options)
    stale = delta.vacuum(
        retention_hours=retention_hours,
        dry_run=True,  # list only: the deletes below leave the log alone
        enforce_retention_duration=False,  # the retention is ours (VACUUM_RETENTION_HOURS)
        full=True,  # files no commit references too (a killed compaction's)
    )
    client = s3_client(s3)
    root = s3.key(table)
    for start in range(0, len(stale), S3_DELETE_BATCH):
        keys = [{"Key": f"{root}/{path}"} for path in stale[start : start + S3_DELETE_BATCH]]
        answer = client.delete_objects(Bucket=s3.bucket, Delete={"Objects": keys, "Quiet": True})
        if answer.get("Errors"):
            first = answer["Errors"][0]
            raise RuntimeError(f"S3 refused to delete {first['Key']}: {first['Message']}")
    return VacuumResult(name, delta.version(), len(stale), round(time.monotonic() - started, 2))


def vacuum_lake(s3: S3Settings, retention_hours: int) -> list[VacuumResult]:
    return [vacuum_table(s3, name, retention_hours) for name in VACUUMED_TABLES]
