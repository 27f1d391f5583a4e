"""What a compaction run does per day, whatever the engine: the days, the file count, the result."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from stock_lakehouse.market_calendar import session_on

# A Kafka message is identified by where it was stored; the stream writes it once, but a replay
# from a new checkpoint (or an old seed job) can write it again.
OFFSET_KEY = ["kafka_topic", "kafka_partition", "kafka_offset"]
# Order inside every compacted file: a reader of one symbol and hour skips the rest by min/max.
SORT_KEY = ["ticker", "event_time", "kafka_partition", "kafka_offset"]
# Of two copies of one offset, the first ingested stays, so every run keeps the same one.
FIRST_COPY_ORDER = ["ingested_at", "tick_id"]


class CannotRun(Exception):
    """A precondition failed (S3 store unreachable, no raw_ticks yet): one line says which."""


def days_in(start: date, end: date) -> list[date]:
    """Days of the half-open range [start, end)."""
    return [start + timedelta(days=i) for i in range((end - start).days)]


def idle_days(days: list[date], raw_files: Mapping[str, int], calendar: str) -> list[date]:
    """The days with nothing to compact and no session to expect ticks from: no exchange session
    (`calendar`) and no file in raw_ticks. A weekend day with live ticks is not idle."""
    return [d for d in days if not raw_files.get(d.isoformat()) and not session_on(d, calendar)]


def output_file_count(input_bytes: int, target_file_bytes: int) -> int:
    """Files for a day: raw Parquet bytes over the target size, at least one.

    Raw bytes overestimate the output (many small files compress worse than few sorted ones), so
    compacted files come out at or below the target, never far above it.
    """
    return max(1, math.ceil(input_bytes / max(1, target_file_bytes)))


@dataclass(frozen=True)
class DayResult:
    trade_date: str
    raw_version: int
    raw_rows: int
    raw_files: int
    raw_bytes: int
    distinct_offsets: int
    compacted_rows: int
    compacted_files: int
    compacted_bytes: int
    compacted_version: int
    seconds: float
    engine: str = "spark"
    duplicate_tick_ids: int = 0
    outside_session: int = 0
    # Why the day was not published ("" when it was): its previous compacted version stays.
    refused: str = ""

    @property
    def duplicates_dropped(self) -> int:
        return self.raw_rows - self.distinct_offsets

    @property
    def rows_match(self) -> bool:
        """The published rows are the day's distinct offsets (a refused day published none)."""
        return bool(self.refused) or self.compacted_rows == self.distinct_offsets

    @property
    def check_passed(self) -> bool:
        return not self.refused and self.rows_match
