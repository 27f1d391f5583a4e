"""Compaction on the real S3 store, by both engines: few files, one row per offset, sorted inside,
idempotent, atomic, and the same rows in the same order whichever engine wrote them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import date

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from spark_jobs import compact_ticks as spark_engine
from stock_lakehouse.clients.delta_log import offsets_cannot_repeat
from stock_lakehouse.clients.s3 import pyarrow_filesystem, s3_client
from stock_lakehouse.compaction import duckdb_engine
from stock_lakehouse.compaction.plan import days_in, output_file_count
from stock_lakehouse.settings import PROJECT_ROOT, Settings
from stock_lakehouse.tables import COMPACTED_TICKS, RAW_TICKS, table_uri
from stock_lakehouse_tests.support.lake import day_rows, delta, prefixed
from stock_lakehouse_tests.support.raw_seed import RawSeeder, tick_payloads

DAY_1, DAY_2, DAY_3 = date(2026, 3, 2), date(2026, 3, 3), date(2026, 3, 4)
TICK_COLUMNS = ["ticker", "price", "volume", "event_time", "tick_id", "kafka_offset"]
FILE_ORDER = ["ticker", "event_time", "kafka_partition", "kafka_offset"]
RUNS = {"duckdb": duckdb_engine.run, "spark": spark_engine.run}
# Each engine's job as its own process, the way the compacted_ticks asset starts it.
JOBS = {
    "duckdb": ["-m", "stock_lakehouse.compaction"],
    "spark": [str(PROJECT_ROOT / "spark_jobs" / "compact_ticks.py")],
}


@pytest.fixture(params=sorted(RUNS))
def engine(request) -> str:
    return request.param


def test_output_file_count_is_bytes_over_target_and_at_least_one():
    mib = 1024 * 1024
    assert output_file_count(0, 128 * mib) == 1
    assert output_file_count(100 * mib, 128 * mib) == 1
    assert output_file_count(300 * mib, 128 * mib) == 3


def test_days_in_is_half_open():
    assert days_in(DAY_1, DAY_3) == [DAY_1, DAY_2]
    assert days_in(DAY_1, DAY_1) == []


def day_files(settings: Settings, table: str, day: date) -> list[str]:
    return [f for f in delta(settings, table).file_uris() if f"trade_date={day.isoformat()}/" in f]


@pytest.fixture(scope="module")
def seeded(spark, services: Settings, request) -> Settings:
    """Two days of raw_ticks in 5 micro-batches each, plus a replay that duplicates 2 batches."""
    settings = prefixed(services, f"compaction-{os.getpid()}-{id(request)}")
    seeder = RawSeeder(spark, settings.s3)
    for day, seed in ((DAY_1, 1), (DAY_2, 2)):
        ticks = tick_payloads(day, 1600, seed)
        for batch in range(5):
            offsets = seeder.write(ticks[batch * 320 : (batch + 1) * 320])
            if batch in (1, 3):  # a replay from a fresh checkpoint writes these offsets again
                seeder.write(ticks[batch * 320 : (batch + 1) * 320], app="replay", offsets=offsets)
    return settings


@pytest.mark.integration
def test_compaction_makes_few_sorted_files_with_one_row_per_offset(
    spark, seeded: Settings, engine: str
):
    results = RUNS[engine](seeded, DAY_1, DAY_3)
    assert [r.trade_date for r in results] == [DAY_1.isoformat(), DAY_2.isoformat()]
    for result, day in zip(results, (DAY_1, DAY_2), strict=True):
        raw = day_rows(seeded, RAW_TICKS, day, TICK_COLUMNS)
        compacted = day_rows(seeded, COMPACTED_TICKS, day)
        assert raw.num_rows == 2240  # 1600 ticks + 640 replayed duplicates
        assert len(day_files(seeded, RAW_TICKS, day)) >= 7
        assert len(day_files(seeded, COMPACTED_TICKS, day)) == 1
        # The row set is raw's, each Kafka offset once.
        raw_set = set(zip(*[raw[c].to_pylist() for c in TICK_COLUMNS], strict=True))
        compacted_keys = list(zip(*[compacted[c].to_pylist() for c in TICK_COLUMNS], strict=True))
        assert len(compacted_keys) == len(set(compacted_keys)) == 1600
        assert set(compacted_keys) == raw_set
        # Sorted by ticker, then event time, inside the file.
        order = list(
            zip(compacted["ticker"].to_pylist(), compacted["event_time"].to_pylist(), strict=True)
        )
        assert order == sorted(order)
        assert (result.raw_rows, result.distinct_offsets) == (2240, 1600)
        assert result.compacted_rows == 1600 and result.check_passed
        assert result.compacted_files == 1 and result.raw_files >= 7
        assert result.engine == engine


@pytest.mark.integration
def test_compaction_twice_leaves_table_unchanged(spark, seeded: Settings, engine: str):
    RUNS[engine](seeded, DAY_1, DAY_2)
    before = day_rows(seeded, COMPACTED_TICKS, DAY_1)
    version_before = delta(seeded, COMPACTED_TICKS).version()
    RUNS[engine](seeded, DAY_1, DAY_2)
    after = day_rows(seeded, COMPACTED_TICKS, DAY_1)
    assert delta(seeded, COMPACTED_TICKS).version() == version_before + 1
    assert after.sort_by("kafka_offset").equals(before.sort_by("kafka_offset"))


@pytest.mark.integration
def test_compaction_of_a_day_without_raw_rows_empties_that_day_only(
    spark, seeded: Settings, engine: str
):
    RUNS[engine](seeded, DAY_1, DAY_3)
    [result] = RUNS[engine](seeded, DAY_3, date(2026, 3, 5))
    assert result.raw_rows == result.compacted_rows == 0 and result.check_passed
    assert day_rows(seeded, COMPACTED_TICKS, DAY_1).num_rows == 1600


def s3_day_objects(settings: Settings, table: str, day: date) -> set[str]:
    s3 = settings.s3
    prefix = s3.uri(table, f"trade_date={day.isoformat()}").split(f"{s3.bucket}/", 1)[1]
    pages = s3_client(s3).get_paginator("list_objects_v2").paginate(Bucket=s3.bucket, Prefix=prefix)
    return {o["Key"] for page in pages for o in page.get("Contents", [])}


@pytest.mark.integration
def test_compaction_killed_mid_write_leaves_day_readable_and_rerun_fixes_it(
    spark, seeded: Settings, test_state_dir, engine: str
):
    RUNS[engine](seeded, DAY_2, DAY_3)
    committed = delta(seeded, COMPACTED_TICKS)
    version, rows_before = committed.version(), day_rows(seeded, COMPACTED_TICKS, DAY_2)
    known = s3_day_objects(seeded, COMPACTED_TICKS, DAY_2)
    env = {**os.environ, "S3_PREFIX": seeded.s3.prefix}
    # A 4 KiB target splits the day into dozens of files: writing them takes seconds.
    command = [sys.executable, *JOBS[engine], "--start", DAY_2.isoformat()]
    command += ["--target-file-mb", "0.004"]
    log = (test_state_dir / f"compaction-killed-{engine}.log").open("w")
    job = subprocess.Popen(command, env=env, stdout=log, stderr=log, start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        while not (s3_day_objects(seeded, COMPACTED_TICKS, DAY_2) - known):
            assert job.poll() is None, "the job ended before writing a file"
            assert time.monotonic() < deadline, "no file written within 180 s"
            time.sleep(0.05)
        os.killpg(job.pid, signal.SIGKILL)
    finally:
        if job.poll() is None:
            os.killpg(job.pid, signal.SIGKILL)
        job.wait(timeout=30)
        log.close()

    # Killed before its commit: new files exist, but no reader sees them.
    assert s3_day_objects(seeded, COMPACTED_TICKS, DAY_2) - known
    assert delta(seeded, COMPACTED_TICKS).version() == version
    assert (
        day_rows(seeded, COMPACTED_TICKS, DAY_2)
        .sort_by("kafka_offset")
        .equals(rows_before.sort_by("kafka_offset"))
    )
    [result] = RUNS[engine](seeded, DAY_2, DAY_3)
    assert result.check_passed and result.compacted_rows == 1600
    offsets = day_rows(seeded, COMPACTED_TICKS, DAY_2, ["kafka_offset"])["kafka_offset"]
    assert pc.count_distinct(offsets).as_py() == offsets.length() == 1600


def epoch_micros(table: pa.Table) -> list[dict]:
    """Rows with timestamps as epoch microseconds: older Spark files hold INT96 (read back without
    a zone), the engines now INT64 microseconds in UTC; the instants are what must agree."""
    columns = [
        col.cast(pa.timestamp("us", tz=col.type.tz)).cast(pa.int64())
        if pa.types.is_timestamp(col.type)
        else col
        for col in table.columns
    ]
    return pa.table(columns, names=table.column_names).to_pylist()


def rows_in_file_order(settings: Settings, day: date, columns: list[str]) -> list[list[tuple]]:
    """Each compacted file of `day` as its rows, read in stored order; files by their first row."""
    fs = pyarrow_filesystem(settings.s3)
    files = [
        epoch_micros(pq.read_table(uri.removeprefix("s3://"), columns=columns, filesystem=fs))
        for uri in day_files(settings, COMPACTED_TICKS, day)
    ]
    return sorted(
        ([tuple(r[c] for c in columns) for r in rows] for rows in files if rows),
        key=lambda rows: rows[0],
    )


@pytest.mark.integration
def test_every_compacted_file_is_sorted_inside_even_when_the_writer_spills(
    spark, seeded: Settings, test_state_dir, engine: str
):
    """Row by row, in file order: (ticker, event_time, kafka_partition, kafka_offset) never drops.

    The job runs as its own process with its sort forced to spill, as a large day does: Spark
    after every 100 rows (a sort by trade_date that Delta's writer adds before writing, when the
    plan's order does not start with the partition column, merges spilled runs of equal keys in
    any order); DuckDB within the smallest memory limit it accepts.
    """
    spill_env = {
        "spark": {
            "PYSPARK_SUBMIT_ARGS": (
                "--conf spark.shuffle.spill.numElementsForceSpillThreshold=100 pyspark-shell"
            )
        },
        "duckdb": {"COMPACTION_DUCKDB_MEMORY_LIMIT": "32MB"},
    }[engine]
    log = test_state_dir / f"compaction-spill-{engine}-{os.getpid()}.log"
    result_json = log.with_suffix(".json")
    started = time.time()
    with log.open("wb") as out:
        done = subprocess.run(
            [
                sys.executable,
                *JOBS[engine],
                "--start",
                DAY_1.isoformat(),
                "--end",
                DAY_3.isoformat(),
                "--result-json",
                str(result_json),
            ],
            env={**os.environ, "S3_PREFIX": seeded.s3.prefix, **spill_env},
            cwd=PROJECT_ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=600,
        )
    assert done.returncode == 0, log.read_text()[-3000:]
    # --result-json, as bench reads it: each day's figures match the table, in the order run.
    reported = json.loads(result_json.read_text())
    assert reported["engine"] == engine
    assert [d["trade_date"] for d in reported["days"]] == [DAY_1.isoformat(), DAY_2.isoformat()]
    finished = [d["finished_at"] for d in reported["days"]]
    assert started < finished[0] <= finished[1] < time.time()
    for day, figures in zip((DAY_1, DAY_2), reported["days"], strict=True):
        assert figures["check_passed"] and figures["refused"] == ""
        assert figures["compacted_rows"] == day_rows(seeded, COMPACTED_TICKS, day).num_rows
    for day in (DAY_1, DAY_2):
        files = rows_in_file_order(seeded, day, FILE_ORDER)
        assert files
        for keys in files:
            drops = [i for i in range(1, len(keys)) if keys[i] < keys[i - 1]]
            assert not drops, f"{day}: order drops at rows {drops[:5]} of {len(keys)}"


@pytest.mark.integration
def test_both_engines_write_the_same_rows_in_the_same_order(spark, seeded: Settings):
    """DuckDB and Spark compaction of the same day: equal rows, row for row, in file order."""
    columns = [*FILE_ORDER, "price", "volume", "tick_id", "kafka_topic", "ingested_at"]
    written = {}
    for name, run in RUNS.items():
        [result] = run(seeded, DAY_1, DAY_2, target_file_mb=0.02)
        assert result.check_passed and result.compacted_files > 1, result
        written[name] = rows_in_file_order(seeded, DAY_1, columns)
    # Files may split the day at other rows; the day read file after file is the same sequence.
    sequences = {name: [row for rows in files for row in rows] for name, files in written.items()}
    assert len(sequences["duckdb"]) == 1600
    assert sequences["duckdb"] == sequences["spark"]


@pytest.mark.integration
def test_log_proves_unique_offsets_only_for_a_day_without_replays(spark, seeded: Settings):
    raw = table_uri(seeded.s3, RAW_TICKS)
    version = delta(seeded, RAW_TICKS).version()
    assert not offsets_cannot_repeat(raw, seeded.s3, DAY_1.isoformat(), version)  # replayed
    # A day written once, batch after batch, is proven unique without a scan.
    day = date(2026, 3, 6)
    seeder = RawSeeder(spark, seeded.s3)
    ticks = tick_payloads(day, 600, 6)
    for batch in range(3):  # its own app id: Delta skips batch ids an app has committed before
        seeder.write(ticks[batch * 200 : (batch + 1) * 200], app="unique-day")
    version = delta(seeded, RAW_TICKS).version()
    assert offsets_cannot_repeat(raw, seeded.s3, day.isoformat(), version)
    for run in RUNS.values():
        [result] = run(seeded, day, day + (DAY_2 - DAY_1))
        assert (result.raw_rows, result.distinct_offsets, result.compacted_rows) == (600, 600, 600)


@pytest.mark.integration
def test_a_day_without_session_or_ticks_materializes_empty_without_a_job(seeded):
    """Thanksgiving in a backfill: the partition is materialized at once, empty, saying why, with
    its checks passed; no job runs, so compacted_ticks gets no commit."""
    import dagster as dg

    from stock_lakehouse.defs.compaction.assets import AUDIT_CHECKS, compacted_ticks

    before = compacted_versions(seeded)
    result = dg.materialize(
        [compacted_ticks],
        partition_key="2026-11-26",
        resources={"pipes_subprocess_client": dg.PipesSubprocessClient(), "settings": seeded},
    )
    assert result.success
    [materialization] = result.asset_materializations_for_node("compacted_ticks")
    assert materialization.partition == "2026-11-26"
    assert materialization.metadata["session"].value.startswith("no session: XNYS")
    assert materialization.metadata["rows"].value == 0
    checks = result.get_asset_check_evaluations()
    assert sorted(c.check_name for c in checks if c.passed) == sorted(AUDIT_CHECKS)
    assert compacted_versions(seeded) == before


def compacted_versions(settings: Settings) -> list[int]:
    """The versions of compacted_ticks; none when the module's other tests have not made it."""
    from deltalake.exceptions import TableNotFoundError

    try:
        return [h["version"] for h in delta(settings, COMPACTED_TICKS).history()]
    except TableNotFoundError:
        return []
