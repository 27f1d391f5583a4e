"""bench.summary reads the newest result of each benchmark and says what it could not find."""

from __future__ import annotations

import json

from bench.summary import disturbed_count, summary_rows


def write(folder, name, stamp, payload):
    (folder / f"{name}-{stamp}.json").write_text(json.dumps({"finished_at": stamp, **payload}))


def test_summary_takes_the_newest_result_and_counts_disturbed_runs(tmp_path):
    quiet, busy = {"others": {"disturbed": False}}, {"others": {"disturbed": True}}
    write(tmp_path, "ingest", "20261201T000000Z", {"median_ratio": 0.2, "runs": []})
    write(
        tmp_path,
        "ingest",
        "20261206T000000Z",
        {
            "median_ratio": 0.75,
            "median_ratio_plain": 1.1,
            "runs": [{"job": quiet, "noop": busy}, {"job": quiet}],
        },
    )
    write(
        tmp_path,
        "freshness",
        "20261206T000000Z",
        {
            "rate": 500,
            "runs": [
                {"trigger_s": 2.0, "p95_s": 4.0, **quiet},
                {"trigger_s": 2.0, "p95_s": 5.0, **quiet},
            ],
        },
    )
    write(
        tmp_path,
        "closed_day",
        "20261206T000000Z",
        {"ticks": 20000, "median_wall_s_duckdb": 22.8, "median_wall_s_spark": None, "runs": []},
    )
    rows = {row[0]: row for row in summary_rows(tmp_path)}
    assert rows["closed 20,000-tick day, duckdb engine"][1] == "run 22.8 s"
    assert "closed 20,000-tick day, spark engine" not in rows
    assert rows["ingest, backlog"][3] == "0.75"
    assert rows["ingest, backlog"][5] == "1 of 3"
    assert rows["ingest vs plain append"][3] == "1.10"
    assert rows["freshness at 500 ticks/s"][1] == "p95 4.50 s"
    assert rows["freshness at 500 ticks/s"][3] == "+2.50 s"
    assert rows["producer"][1] == "no result"


def test_disturbed_count_finds_flags_at_any_depth():
    assert disturbed_count({"a": [{"b": {"others": {"disturbed": True}}}]}) == (1, 1)
    assert disturbed_count([]) == (0, 0)
