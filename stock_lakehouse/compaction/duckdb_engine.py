"""Compaction on one machine: DuckDB sorts and deduplicates the day, delta-rs commits it.

Chosen by `COMPACTION_ENGINE=duckdb` (or `auto` with a `local[*]` Spark master). The Spark job
needs ~95 s and a JVM for a 5M-tick day that DuckDB sorts in ~12 s on the same two cores
(docs/benchmarks.md); with no cluster to spread over, the single-machine engine is the right one.

Per day: pin the raw_ticks version, read the day at that version (DuckDB's delta extension,
`ATTACH ... (TYPE delta, VERSION n)`), keep the first ingested copy of each Kafka offset, audit
those rows (`audit.py`: a day that fails is not written), sort by SORT_KEY, write the sorted rows
into files in that order (`delta_files.py`), check their row count, and commit them as the whole
day in one Delta version: a reader sees the old day or the new one. A run killed before that
commit leaves only unreferenced files.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

import duckdb
from deltalake import DeltaTable

from stock_lakehouse.clients import duckdb_conn
from stock_lakehouse.clients.delta_log import DayStats, offsets_cannot_repeat, table_stats
from stock_lakehouse.clients.s3 import deltalake_storage_options, s3_answers
from stock_lakehouse.compaction.audit import AuditRules, DayAudit, outside_session_sql
from stock_lakehouse.compaction.delta_files import (
    ROW_GROUP_ROWS,
    replace_partition,
    write_partition_files,
)
from stock_lakehouse.compaction.plan import (
    FIRST_COPY_ORDER,
    OFFSET_KEY,
    SORT_KEY,
    CannotRun,
    DayResult,
    days_in,
    output_file_count,
)
from stock_lakehouse.settings import S3Settings, Settings
from stock_lakehouse.tables import COMPACTED_TICKS, RAW_TICKS, table_uri

# Rows per Arrow batch handed from DuckDB to the file writer: each batch becomes one Parquet row
# group, and 1Mi rows (~60 MB) keep a day's row groups few and large.
BATCH_ROWS = ROW_GROUP_ROWS


def day_query(day: date, *, dedupe: bool) -> str:
    """The day's rows in file order; with `dedupe`, the first ingested copy of each offset."""
    select = f"SELECT * FROM raw_snapshot WHERE trade_date = DATE '{day.isoformat()}'"
    if dedupe:
        select += (
            f" QUALIFY row_number() OVER (PARTITION BY {', '.join(OFFSET_KEY)}"
            f" ORDER BY {', '.join(FIRST_COPY_ORDER)}) = 1"
        )
    return f"{select} ORDER BY {', '.join(SORT_KEY)}"


def audit_day(
    con: duckdb.DuckDBPyConnection,
    day: date,
    distinct_offsets: int,
    *,
    dedupe: bool,
    rules: AuditRules,
) -> DayAudit:
    """The audit's counts over the rows the day would publish (one per offset), in one scan of
    the raw day's tick_id and event_time, without the dedupe's window: both copies of a replayed
    offset are one message with one tick_id, so distinct tick_ids against distinct offsets count
    the ticks that arrived twice."""
    outside = outside_session_sql(rules.session(day))
    counted = f"DISTINCT ({', '.join(OFFSET_KEY)})" if dedupe else "*"
    ticks, outside_rows = con.execute(
        f"SELECT count(DISTINCT tick_id), count({counted}) FILTER (WHERE {outside})"
        f" FROM raw_snapshot WHERE trade_date = DATE '{day.isoformat()}'"
    ).fetchone()  # type: ignore[misc]
    return DayAudit(distinct_offsets - int(ticks), int(outside_rows))


def open_connection(settings: Settings) -> duckdb.DuckDBPyConnection:
    con = duckdb_conn.connect(s3=settings.s3)
    con.execute("SET TimeZone = 'UTC'")  # TIMESTAMPTZ -> Arrow timestamp[us, UTC], Delta's type
    con.execute(f"SET memory_limit = '{settings.compaction.duckdb_memory_limit}'")
    spill = Path(settings.local.state_dir) / "duckdb-spill"
    spill.mkdir(parents=True, exist_ok=True)
    con.execute(f"SET temp_directory = '{spill}'")
    # Sorted output needs the rows in order, not the threads' order.
    con.execute("SET preserve_insertion_order = true")
    return con


def compact_day(
    con: duckdb.DuckDBPyConnection,
    s3: S3Settings,
    day: date,
    target_file_bytes: int,
    rules: AuditRules,
) -> DayResult:
    """Replace one day of compacted_ticks from raw_ticks if it passes the audit; returns what it
    read, found and wrote."""
    started = time.monotonic()
    raw_uri, compacted_uri = table_uri(s3, RAW_TICKS), table_uri(s3, COMPACTED_TICKS)
    raw_version = DeltaTable(raw_uri, storage_options=deltalake_storage_options(s3)).version()
    logged = table_stats(raw_uri, s3, version=raw_version).days.get(
        day.isoformat(), DayStats(0, 0, 0)
    )
    con.execute("DETACH DATABASE IF EXISTS raw_snapshot")
    con.execute(f"ATTACH '{raw_uri}' AS raw_snapshot (TYPE delta, VERSION {raw_version})")
    unique = offsets_cannot_repeat(raw_uri, s3, day.isoformat(), raw_version)
    if unique:
        distinct_offsets = logged.rows
    else:
        distinct_offsets = con.execute(
            f"SELECT count(DISTINCT ({', '.join(OFFSET_KEY)})) FROM raw_snapshot "
            f"WHERE trade_date = DATE '{day.isoformat()}'"
        ).fetchone()[0]  # type: ignore[index]
    dedupe = distinct_offsets != logged.rows
    audit = audit_day(con, day, distinct_offsets, dedupe=dedupe, rules=rules)
    refused = rules.refusal(day, audit)
    if not refused:
        files = output_file_count(logged.bytes, target_file_bytes)
        batches = con.execute(day_query(day, dedupe=dedupe)).fetch_record_batch(BATCH_ROWS)
        rows_per_file = max(1, math.ceil(distinct_offsets / files))
        actions = write_partition_files(batches, s3, compacted_uri, day, rows_per_file)
        staged = sum(json.loads(a.stats)["numRecords"] for a in actions)
        if staged != distinct_offsets:  # never committed: the files stay unreferenced
            refused = f"{staged} rows written for {distinct_offsets} distinct offsets"
        else:
            replace_partition(s3, compacted_uri, day, batches.schema, actions)
    con.execute("DETACH DATABASE raw_snapshot")
    # Read back from the table's log, not from the writer's own counters: the new version, or
    # for a refused day the one readers still see.
    after = table_stats(compacted_uri, s3)
    written = after.days.get(day.isoformat(), DayStats(0, 0, 0))
    return DayResult(
        trade_date=day.isoformat(),
        raw_version=raw_version,
        raw_rows=logged.rows,
        raw_files=logged.files,
        raw_bytes=logged.bytes,
        distinct_offsets=int(distinct_offsets),
        compacted_rows=written.rows,
        compacted_files=written.files,
        compacted_bytes=written.bytes,
        compacted_version=after.version,
        seconds=round(time.monotonic() - started, 2),
        engine="duckdb",
        duplicate_tick_ids=audit.duplicate_tick_ids,
        outside_session=audit.outside_session,
        refused=refused,
    )


def run(
    settings: Settings,
    start: date,
    end: date,
    target_file_mb: float | None = None,
    on_day: Callable[[DayResult], None] | None = None,
) -> list[DayResult]:
    """Compact each day of [start, end) in turn, one DuckDB connection for the whole range."""
    if not s3_answers(settings.s3):
        raise CannotRun(
            f"S3 store is not reachable at {settings.s3.endpoint_url} - run "
            "'stock-lakehouse services up' or set S3_ENDPOINT_URL"
        )
    raw_uri = table_uri(settings.s3, RAW_TICKS)
    if not DeltaTable.is_deltatable(raw_uri, deltalake_storage_options(settings.s3)):
        raise CannotRun(f"raw_ticks has no Delta table at {raw_uri} - run the stream first")
    target = int((target_file_mb or settings.compaction.target_file_mb) * 1024 * 1024)
    rules = AuditRules.from_settings(settings)
    results = []
    con = open_connection(settings)
    try:
        for day in days_in(start, end):
            result = compact_day(con, settings.s3, day, target, rules)
            if on_day is not None:
                on_day(result)
            results.append(result)
    finally:
        con.close()
    return results
