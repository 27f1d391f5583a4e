"""The Dagster entry point: every asset, check, job, sensor and resource is registered here.

Domains live under `stock_lakehouse/defs/<domain>/`: ingest (Kafka -> raw_ticks stream),
compaction (raw -> compacted_ticks), marts (dbt on DuckDB, and the dashboard pages from its
exposures), automation (conditions, sensors, jobs, the alerts sensor), maintenance (the nightly
VACUUM of the lake's tables).
"""

import dagster as dg

from stock_lakehouse.defs.automation.alerts import alerts
from stock_lakehouse.defs.automation.jobs import daily_refresh
from stock_lakehouse.defs.automation.sensors import batch_automation
from stock_lakehouse.defs.compaction.assets import compacted_ticks
from stock_lakehouse.defs.ingest.assets import raw_ticks
from stock_lakehouse.defs.ingest.jobs import ingest_stream
from stock_lakehouse.defs.ingest.sensors import raw_ticks_partitions_sensor, stream_supervisor
from stock_lakehouse.defs.maintenance.vacuum import lake_maintenance, lake_vacuum, nightly_vacuum
from stock_lakehouse.defs.marts.assets import daily_marts, summary_marts
from stock_lakehouse.defs.marts.dashboard import load_dashboard_pages
from stock_lakehouse.defs.marts.deadlines import closed_days_on_time
from stock_lakehouse.defs.marts.freshness import load_freshness_checks
from stock_lakehouse.defs.resources import build_resources
from stock_lakehouse.settings import get_settings


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(
        assets=[
            raw_ticks,
            compacted_ticks,
            daily_marts,
            summary_marts,
            lake_vacuum,
            *load_dashboard_pages(),
        ],
        asset_checks=[load_freshness_checks(), closed_days_on_time],
        jobs=[ingest_stream, daily_refresh, lake_maintenance],
        sensors=[raw_ticks_partitions_sensor, stream_supervisor, batch_automation, alerts],
        schedules=[nightly_vacuum],
        resources=build_resources(get_settings()),
        # Every batch step already runs its work in a subprocess (the compaction job through
        # Pipes, dbt through its CLI) and the steps of a run are sequential, so a Python process
        # per step, which loads these definitions again (~5.5 s each), buys nothing. Pools still
        # hold: the in-process executor claims the same concurrency slots.
        executor=dg.in_process_executor,
    )
