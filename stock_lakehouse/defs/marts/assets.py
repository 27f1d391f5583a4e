"""The dbt models as Dagster assets: daily-partitioned marts and the summaries built on them.

Two `@dbt_assets`, one partitions definition each: models tagged `partitioned` rebuild exactly
the run's day range (dbt vars `min_date`/`max_date`, half-open), the others are small tables
rebuilt whole. Both write the one DuckDB build database, so both sit in a pool of one writer
(dagster.yaml), and each successful run publishes the marts for readers.
"""

import json
import os
from collections.abc import Iterator

import dagster as dg
from dagster_dbt import DbtCliInvocation, DbtCliResource, dbt_assets

from stock_lakehouse.defs.marts.project import dbt_project
from stock_lakehouse.defs.marts.translator import PARTITIONED_TAG, LakehouseDbtTranslator
from stock_lakehouse.defs.partition_checks import per_partition
from stock_lakehouse.marts.publish import publish
from stock_lakehouse.parent_watch import parent_env
from stock_lakehouse.partitions import daily_partitions
from stock_lakehouse.settings import MartsSettings, Settings

# One DuckDB file, one writer at a time: dagster.yaml sets this pool's limit to 1.
DUCKDB_WRITER_POOL = "duckdb_writer"
PARTITIONED = f"tag:{PARTITIONED_TAG}"


def dbt_vars_for(window: dg.TimeWindow) -> dict[str, str]:
    """dbt vars for a partition window: one day, or a whole backfill range, half-open."""
    return {"min_date": window.start.date().isoformat(), "max_date": window.end.date().isoformat()}


def build_and_publish(
    context: dg.AssetExecutionContext, dbt: DbtCliResource, marts: MartsSettings, args: list[str]
) -> Iterator:
    """Run dbt against the build database, then publish it if every selected node succeeded."""
    # dbt's profile reads the build database's path from the environment (profiles.yml); the
    # lakehouse plugin ends dbt if this worker dies (parent_watch).
    os.environ.update({**marts.dbt_env(), **parent_env()})
    marts.build_db.parent.mkdir(parents=True, exist_ok=True)
    invocation = dbt.cli(args, context=context)
    try:
        # Row counts and column schemas go on each model's materialization in the UI. With
        # DuckDB, dagster-dbt reads them once dbt has ended and released the database's lock.
        yield from invocation.stream().fetch_row_counts().fetch_column_metadata()
    finally:
        release_build_db(invocation)
    size = publish(marts.build_db, marts.published_db)
    context.log.info(f"published {marts.published_db} ({size} bytes)")


def release_build_db(invocation: DbtCliInvocation) -> None:
    """Close the read-only DuckDB connection dagster-dbt opened in this process for metadata.

    dbt-duckdb keeps its connection open until the process ends (its `keep_open`): the next dbt
    of the same run (summary_marts after daily_marts) could not lock the build database, and the
    publish would copy a file still held open.
    """
    if invocation.adapter is None:
        return
    invocation.adapter.cleanup_connections()
    # dbt-duckdb's one environment per process holds the connection; dropping it closes DuckDB.
    type(invocation.adapter.connections).close_all_connections()


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    select=PARTITIONED,
    name="daily_marts",
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    dagster_dbt_translator=LakehouseDbtTranslator(),
    pool=DUCKDB_WRITER_POOL,
)
def daily_marts(
    context: dg.AssetExecutionContext, dbt: DbtCliResource, settings: dg.ResourceParam[Settings]
):
    dbt_vars = dbt_vars_for(context.partition_time_window)
    context.log.info(f"dbt window: {dbt_vars}")
    args = ["build", "--vars", json.dumps(dbt_vars)]
    for event in build_and_publish(context, dbt, settings.marts, args):
        if isinstance(event, dg.AssetCheckResult):
            # A test judged the run's whole window: its result stands for each day of it.
            yield from per_partition(context, dict.fromkeys(context.partition_keys, event))
        else:
            yield event


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    exclude=PARTITIONED,
    name="summary_marts",
    dagster_dbt_translator=LakehouseDbtTranslator(),
    pool=DUCKDB_WRITER_POOL,
)
def summary_marts(
    context: dg.AssetExecutionContext, dbt: DbtCliResource, settings: dg.ResourceParam[Settings]
):
    yield from build_and_publish(context, dbt, settings.marts, ["build"])
