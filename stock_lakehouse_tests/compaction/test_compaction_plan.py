"""The pure parts of compaction: which engine runs, and the statistics the DuckDB engine logs."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pyarrow as pa
import pytest

from stock_lakehouse.compaction.delta_files import _FileStats, _stat_value
from stock_lakehouse.settings import CompactionSettings


@pytest.mark.parametrize(
    ("engine", "master", "runs"),
    [
        ("auto", "local[2]", "duckdb"),
        ("auto", "local[*]", "duckdb"),
        ("auto", "spark://127.0.0.1:7077", "spark"),
        ("spark", "local[2]", "spark"),
        ("duckdb", "spark://127.0.0.1:7077", "duckdb"),
    ],
)
def test_auto_engine_is_duckdb_on_one_machine_and_spark_on_a_cluster(engine, master, runs):
    assert CompactionSettings(engine=engine).engine_for(master) == runs


def test_timestamp_stats_are_rounded_outwards_to_milliseconds():
    at = datetime(2026, 11, 20, 14, 30, 0, 123456, tzinfo=UTC)
    assert _stat_value(at, up=False) == "2026-11-20T14:30:00.123Z"
    assert _stat_value(at, up=True) == "2026-11-20T14:30:00.124Z"
    # Rounding up past the second carries into it.
    late = datetime(2026, 11, 20, 14, 30, 59, 999500, tzinfo=UTC)
    assert _stat_value(late, up=True) == "2026-11-20T14:31:00.000Z"
    exact = datetime(2026, 11, 20, 14, 30, 0, 5000, tzinfo=UTC)
    assert _stat_value(exact, up=True) == _stat_value(exact, up=False) == "2026-11-20T14:30:00.005Z"
    assert _stat_value(date(2026, 11, 20), up=False) == "2026-11-20"


def test_file_stats_cover_every_batch_and_leave_out_nan_bounds():
    stats = _FileStats()
    stats.add(pa.record_batch({"ticker": ["MSFT", "AAPL"], "price": [1.5, None]}))
    stats.add(pa.record_batch({"ticker": ["ZM", None], "price": [float("nan"), 2.0]}))
    logged = json.loads(stats.to_json())
    assert logged["numRecords"] == 4
    assert logged["minValues"] == {"ticker": "AAPL"}
    assert logged["maxValues"] == {"ticker": "ZM"}
    assert logged["nullCount"] == {"ticker": 1, "price": 1}


def test_an_unknown_engine_is_refused_naming_the_allowed_ones(monkeypatch):
    from pydantic import ValidationError

    monkeypatch.setenv("COMPACTION_ENGINE", "postgres")
    with pytest.raises(ValidationError, match="'auto', 'duckdb' or 'spark'"):
        CompactionSettings()


def test_idle_days_have_no_session_and_no_raw_ticks():
    from stock_lakehouse.compaction.plan import idle_days

    thanksgiving, friday, saturday, sunday = (date(2026, 11, d) for d in (26, 27, 28, 29))
    days = [thanksgiving, friday, saturday, sunday]
    # Friday is a session even without ticks yet; Sunday has live ticks (the simulator trades
    # around the clock), so it is compacted like any day.
    raw_files = {"2026-11-27": 0, "2026-11-29": 2}
    assert idle_days(days, raw_files, "XNYS") == [thanksgiving, saturday]
    assert idle_days(days, raw_files, "XLON") == [saturday]  # London trades on Thanksgiving
