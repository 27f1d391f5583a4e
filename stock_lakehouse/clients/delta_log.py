"""What a Delta table's transaction log alone tells (no data scan, no JVM): per-day statistics, and
whether a stream's batch has committed.

Each Delta `add` action carries its partition value, size, row count and min/max column stats, so
summing the live files of one `trade_date` gives rows, files, bytes and the event-time range of
that day in milliseconds, however large the table.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from itertools import pairwise

import pyarrow as pa
from deltalake import DeltaTable
from deltalake.exceptions import TableNotFoundError

from stock_lakehouse.clients.s3 import deltalake_storage_options
from stock_lakehouse.settings import S3Settings


@dataclass(frozen=True)
class DayStats:
    rows: int
    files: int
    bytes: int
    min_event_time: datetime | None = None
    max_event_time: datetime | None = None
    # When the newest live file of the day was written: the day's last stream commit or compaction.
    last_modified: datetime | None = None


@dataclass(frozen=True)
class TableStats:
    version: int  # -1: the table does not exist yet
    days: dict[str, DayStats]


def table_stats(
    uri: str, s3: S3Settings, time_column: str | None = None, version: int | None = None
) -> TableStats:
    """Stats per `trade_date` partition of the Delta table at `uri` (s3://...), at `version`
    (default: the latest)."""
    try:
        table = DeltaTable(uri, version=version, storage_options=deltalake_storage_options(s3))
    except TableNotFoundError:
        return TableStats(version=-1, days={})
    actions = pa.table(table.get_add_actions(flatten=True)).to_pydict()
    days: dict[str, DayStats] = {}
    partitions = actions.get("partition.trade_date", [])
    modified = actions.get("modification_time", [None] * len(partitions))
    for i, day in enumerate(partitions):
        key = day.isoformat() if isinstance(day, date) else str(day)
        before = days.get(key, DayStats(0, 0, 0))
        low = (
            actions.get(f"min.{time_column}", [None] * len(partitions))[i] if time_column else None
        )
        high = (
            actions.get(f"max.{time_column}", [None] * len(partitions))[i] if time_column else None
        )
        days[key] = DayStats(
            rows=before.rows + int(actions["num_records"][i] or 0),
            files=before.files + 1,
            bytes=before.bytes + int(actions["size_bytes"][i]),
            min_event_time=_earliest(before.min_event_time, low),
            max_event_time=_latest(before.max_event_time, high),
            last_modified=_latest(before.last_modified, _as_datetime(modified[i])),
        )
    return TableStats(version=table.version(), days=days)


def _as_datetime(value: datetime | int | None) -> datetime | None:
    """deltalake gives modification times as timestamps or as epoch milliseconds."""
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromtimestamp(value / 1000, UTC)


def _earliest(a: datetime | None, b: datetime | None) -> datetime | None:
    return min((x for x in (a, b) if x is not None), default=None)


def _latest(a: datetime | None, b: datetime | None) -> datetime | None:
    return max((x for x in (a, b) if x is not None), default=None)


def offsets_cannot_repeat(uri: str, s3: S3Settings, day: str, version: int) -> bool:
    """True when the Delta log alone proves no Kafka offset is stored twice in `day`'s files.

    Each stream file holds rows of one Kafka partition, read once as one offset range, so its
    offsets are unique inside it. The proof: every file of the day covers one topic and one
    partition, holds no more rows than its offset range, and no two files of the same partition
    have overlapping ranges. Anything it cannot see (a missing statistic, a file of several
    partitions) answers False, and the caller counts distinct offsets instead.
    """
    table = DeltaTable(uri, version=version, storage_options=deltalake_storage_options(s3))
    actions = pa.table(table.get_add_actions(flatten=True)).to_pylist()
    ranges: dict[tuple[str, int], list[tuple[int, int]]] = {}
    for action in actions:
        value = action.get("partition.trade_date")
        if (value.isoformat() if isinstance(value, date) else str(value)) != day:
            continue
        topic, partition = action.get("min.kafka_topic"), action.get("min.kafka_partition")
        low, high = action.get("min.kafka_offset"), action.get("max.kafka_offset")
        rows = action.get("num_records")
        if None in (topic, partition, low, high, rows):
            return False
        if topic != action.get("max.kafka_topic") or partition != action.get("max.kafka_partition"):
            return False
        if rows > high - low + 1:
            return False
        ranges.setdefault((topic, partition), []).append((low, high))
    for spans in ranges.values():
        spans.sort()
        if any(later[0] <= earlier[1] for earlier, later in pairwise(spans)):
            return False
    return True


# A stream's append carries this in its commit's userMetadata: which query wrote it, which batch.
def batch_marker(app_id: str, batch_id: int) -> str:
    return json.dumps({"app": app_id, "batch": batch_id}, separators=(",", ":"))


def _marked_batch(commit: dict, app_id: str) -> int | None:
    """The batch id of `app_id` a commit (from history()) carries, else None."""
    try:
        marker = json.loads(commit.get("userMetadata") or "")
    except ValueError:
        return None
    if isinstance(marker, dict) and marker.get("app") == app_id:
        return int(marker["batch"])
    return None


# A commit this much older than its batch's planning is still looked at (the planning time and
# the commit times come from the driver's clock; a margin for a clock set back in between).
CLOCK_MARGIN_MS = 60_000


class BatchLookupError(Exception):
    """The log cannot tell whether a batch committed: the stream stops rather than risk it."""


def stream_batch_committed(
    uri: str, s3: S3Settings, app_id: str, batch_id: int, planned_at: float | None = None
) -> bool:
    """Did the stream `app_id` already commit batch `batch_id` to the Delta table at `uri`?

    Read from the log alone (delta-rs, on the driver): walking back from the newest commit, the
    first commit marked by `app_id` names the last batch it committed (its batches commit in
    order). A commit older than the batch's planning (`planned_at`, epoch seconds, from the
    checkpoint's offset log) cannot be the batch's, so the walk stops there: it reads the commits
    made since the batch was planned. An append tagged the former way (Delta txnAppId) counts too.
    When the log no longer reaches back that far (its older commits cleaned up), it raises
    BatchLookupError instead of guessing.
    """
    options = deltalake_storage_options(s3)
    try:
        table = DeltaTable(uri.replace("s3a://", "s3://", 1), storage_options=options)
    except TableNotFoundError:
        return False
    former = table.transaction_version(app_id)
    if former is not None and former >= batch_id:
        return True
    oldest_ms = None if planned_at is None else planned_at * 1000 - CLOCK_MARGIN_MS
    latest = table.version()
    limit = 8
    while True:
        history = table.history(limit=limit)  # newest first
        for commit in history:
            marked = _marked_batch(commit, app_id)
            if marked is not None:
                return marked >= batch_id
            stamp = commit.get("timestamp")
            if oldest_ms is not None and stamp is not None and stamp < oldest_ms:
                return False
        if limit > latest:  # every commit the log holds has been read
            if min((c.get("version", -1) for c in history), default=0) == 0:
                return False  # back to the table's creation
            raise BatchLookupError(
                f"cannot tell whether batch {batch_id} of {app_id} committed to {uri}: its log "
                "no longer holds the commits from before the batch was planned - restarting "
                "would risk a duplicate; see docs/failure-and-recovery.md"
            )
        limit *= 4
