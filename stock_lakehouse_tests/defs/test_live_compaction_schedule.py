"""When the stream compacts the live day: each period, today (and yesterday once after midnight)."""

from __future__ import annotations

import pytest

from spark_jobs import stream_ticks
from spark_jobs.stream_ticks import LiveCompaction, LiveDayCompactor


@pytest.fixture
def passes(monkeypatch) -> list[str]:
    """The days each pass compacted (no Spark: compact_live_day is replaced by a recorder)."""
    done: list[str] = []

    def compact(spark, uri, day):
        if day == "broken":
            raise RuntimeError("ConcurrentDeleteReadException: the repair job removed a file\nmore")
        done.append(day)
        return LiveCompaction(day, files_removed=3, files_added=1, seconds=0.1)

    monkeypatch.setattr(stream_ticks, "compact_live_day", compact)
    return done


def test_a_pass_runs_once_per_period_and_takes_yesterday_along_after_midnight(passes):
    clock, today = [0.0], ["2026-12-06"]
    compactor = LiveDayCompactor("s3a://b/raw", 600, clock=lambda: clock[0], today=lambda: today[0])
    assert compactor.maybe_run(None) == []  # the first pass waits one period
    clock[0] = 600
    assert [c.trade_date for c in compactor.maybe_run(None)] == ["2026-12-06"]
    clock[0] = 900
    assert compactor.maybe_run(None) == []  # next one at 1200
    clock[0], today[0] = 1200, "2026-12-07"
    assert [c.trade_date for c in compactor.maybe_run(None)] == ["2026-12-06", "2026-12-07"]
    clock[0] = 1800
    compactor.maybe_run(None)
    assert passes == ["2026-12-06", "2026-12-06", "2026-12-07", "2026-12-07"]


def test_a_failed_pass_is_logged_and_the_next_period_tries_again(passes, caplog):
    clock, today = [0.0], ["broken"]
    compactor = LiveDayCompactor("s3a://b/raw", 600, clock=lambda: clock[0], today=lambda: today[0])
    clock[0] = 600.0
    assert compactor.maybe_run(None) == []
    assert "live compaction of trade_date=broken failed: ConcurrentDeleteReadException" in (
        caplog.text
    )
    assert "more" not in caplog.text  # one line
    today[0], clock[0] = "2026-12-06", 1200.0
    # The failed day is tried again (and fails again) beside the new one, which goes through.
    assert [c.trade_date for c in compactor.maybe_run(None)] == ["2026-12-06"]
    assert caplog.text.count("trade_date=broken failed") == 2


def test_zero_minutes_turns_it_off(passes):
    compactor = LiveDayCompactor("s3a://b/raw", 0, clock=lambda: 1e9)
    assert compactor.maybe_run(None) == [] and passes == []
