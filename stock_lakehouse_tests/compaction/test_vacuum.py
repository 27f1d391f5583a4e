"""The nightly VACUUM: files no recent version needs are deleted from the real S3 store, nothing
within the retention is touched, and every table reads the same by Spark, DuckDB and delta-rs."""

from __future__ import annotations

import os
from datetime import date

import dagster as dg
import pytest
from deltalake import DeltaTable

from spark_jobs.stream_ticks import compact_live_day
from stock_lakehouse.clients import duckdb_conn
from stock_lakehouse.clients.s3 import deltalake_storage_options, s3_client
from stock_lakehouse.compaction import duckdb_engine
from stock_lakehouse.defs.maintenance.vacuum import lake_vacuum
from stock_lakehouse.settings import Settings
from stock_lakehouse.tables import COMPACTED_TICKS, QUARANTINE, RAW_TICKS, table_uri
from stock_lakehouse.vacuum import VACUUMED_TABLES, vacuum_lake
from stock_lakehouse_tests.support.raw_seed import RawSeeder, tick_payloads

DAY = date(2026, 4, 14)


def data_files(settings: Settings, table: str) -> set[str]:
    """Every object of the table on S3 but its log."""
    root = settings.s3.key(table) + "/"
    pages = s3_client(settings.s3).get_paginator("list_objects_v2")
    keys = {
        item["Key"].removeprefix(root)
        for page in pages.paginate(Bucket=settings.s3.bucket, Prefix=root)
        for item in page.get("Contents", [])
    }
    return {k for k in keys if not k.startswith("_delta_log/")}


def referenced(settings: Settings, table: str) -> set[str]:
    uri = table_uri(settings.s3, table)
    delta = DeltaTable(uri, storage_options=deltalake_storage_options(settings.s3))
    return {f.removeprefix(uri + "/") for f in delta.file_uris()}


def readings(spark, settings: Settings) -> dict[str, tuple[int, int, int]]:
    """Rows of each table as Spark, DuckDB and delta-rs read it."""
    con = duckdb_conn.connect(s3=settings.s3)
    seen = {}
    for table in VACUUMED_TABLES.values():
        s3a, s3 = table_uri(settings.s3, table, scheme="s3a"), table_uri(settings.s3, table)
        options = deltalake_storage_options(settings.s3)
        seen[table] = (
            spark.read.format("delta").load(s3a).count(),
            con.execute(f"SELECT count(*) FROM delta_scan('{s3}')").fetchone()[0],
            DeltaTable(s3, storage_options=options).to_pyarrow_table().num_rows,
        )
    con.close()
    return seen


@pytest.mark.parametrize("hours", ["0", "-5", "a week"])
def test_a_retention_under_one_hour_or_not_a_number_is_refused_in_one_line(
    refused_settings, hours: str
):
    assert f"VACUUM_RETENTION_HOURS='{hours}'" in refused_settings(VACUUM_RETENTION_HOURS=hours)


@pytest.mark.integration
def test_vacuum_deletes_only_what_no_version_within_the_retention_needs(spark, services):
    settings = services.model_copy(
        update={"s3": services.s3.model_copy(update={"prefix": f"vacuum-{os.getpid()}"})}
    )
    seeder = RawSeeder(spark, settings.s3)
    ticks = tick_payloads(DAY, 900, 4)
    for batch in range(3):  # three micro-batches: small files the live compaction merges
        seeder.write(ticks[batch * 300 : (batch + 1) * 300])
    seeder.write([dict(ticks[0], price="not a number", tick_id="bad")])  # one for quarantine
    merged = compact_live_day(spark, seeder.raw_uri, DAY.isoformat())
    assert merged.files_removed >= 3
    for _ in range(2):  # the second run replaces the first's files
        duckdb_engine.run(settings, DAY, date(2026, 4, 15))
    orphan = f"trade_date={DAY.isoformat()}/part-orphan-of-a-killed-job.snappy.parquet"
    s3_client(settings.s3).put_object(
        Bucket=settings.s3.bucket, Key=f"{settings.s3.key(COMPACTED_TICKS)}/{orphan}", Body=b"x"
    )
    before = readings(spark, settings)
    assert before[RAW_TICKS] == (900, 900, 900) and before[QUARANTINE] == (1, 1, 1)
    files = {table: data_files(settings, table) for table in VACUUMED_TABLES.values()}
    assert orphan in files[COMPACTED_TICKS]
    assert files[RAW_TICKS] > referenced(settings, RAW_TICKS)  # the merged small files

    # Everything above is minutes old: a one-hour retention keeps it all, the orphan included
    # (it could be the file of a commit still in progress).
    kept = vacuum_lake(settings.s3, retention_hours=1)
    assert [r.files_deleted for r in kept] == [0, 0, 0]
    assert {table: data_files(settings, table) for table in VACUUMED_TABLES.values()} == files

    # The nightly asset, with no retention: only what the latest versions reference stays.
    result = dg.materialize(
        [lake_vacuum],
        resources={
            "settings": settings.model_copy(
                update={"vacuum": settings.vacuum.model_copy(update={"retention_hours": 0})}
            )
        },
    )
    [materialization] = result.asset_materializations_for_node("lake_vacuum")
    for name, table in VACUUMED_TABLES.items():
        assert data_files(settings, table) == referenced(settings, table)
        deleted = materialization.metadata[f"{name}_files_deleted"].value
        assert deleted == len(files[table] - referenced(settings, table))
    assert materialization.metadata["compacted_ticks_files_deleted"].value >= 2
    assert readings(spark, settings) == before
    # Exactly once still holds: every offset of the day once in raw, once in compacted.
    for table in (RAW_TICKS, COMPACTED_TICKS):
        uri = table_uri(settings.s3, table)
        offsets = DeltaTable(uri, storage_options=deltalake_storage_options(settings.s3))
        values = offsets.to_pyarrow_table(columns=["kafka_offset"]).column(0).to_pylist()
        assert sorted(values) == sorted(set(values)) and len(values) == 900
