"""Both compaction jobs' command line refuses what it cannot use before any day is read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from spark_jobs import compact_ticks
from stock_lakehouse.compaction import __main__ as duckdb_job
from stock_lakehouse.compaction.job import DayClock, write_result_json
from stock_lakehouse.compaction.plan import DayResult

# Each engine's command line, as `python -m stock_lakehouse.compaction` and spark-submit run it.
ENGINES = {"duckdb": duckdb_job.main, "spark": compact_ticks.main}


@pytest.mark.parametrize("engine", sorted(ENGINES))
@pytest.mark.parametrize("kind", ["under a file", "a folder", "missing folder"])
def test_a_result_json_that_cannot_be_written_is_refused_before_any_day(
    engine, kind, tmp_path, capsys
):
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    target = {
        "under a file": blocked / "result.json",
        "a folder": tmp_path,
        "missing folder": tmp_path / "nowhere" / "result.json",
    }[kind]
    argv = ["--start", "2026-03-02", "--result-json", str(target)]
    with pytest.raises(SystemExit) as refused:
        ENGINES[engine](argv)
    assert refused.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert f"error: --result-json {target} cannot be written: " in error
    assert blocked.read_text() == "not a folder"
    assert not (tmp_path / "nowhere").exists()


def test_the_result_json_has_every_day_with_when_it_finished(tmp_path: Path):
    clock = DayClock()
    days = [
        DayResult(day, 7, rows + 2, 3, 900, rows, rows, 1, 800, 4, 0.5, "duckdb")  # 2 replayed
        for day, rows in (("2026-03-02", 10), ("2026-03-03", 0))
    ]
    clock(days[0])
    write_result_json(tmp_path / "r.json", "duckdb", days, clock)
    written = json.loads((tmp_path / "r.json").read_text())
    assert written["engine"] == "duckdb"
    assert [d["trade_date"] for d in written["days"]] == ["2026-03-02", "2026-03-03"]
    assert written["days"][0]["finished_at"] == clock.finished["2026-03-02"]
    assert written["days"][1]["finished_at"] is None  # never reported: no time is made up
    assert [d["compacted_rows"] for d in written["days"]] == [10, 0]
    assert [d["duplicates_dropped"] for d in written["days"]] == [2, 2]
