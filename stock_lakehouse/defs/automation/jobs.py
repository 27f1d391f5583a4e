"""daily_refresh: compaction then the daily marts for one day (or a range), in one run.

Airflow triggers it for the day that just closed; people can launch it from the UI. The summary
marts follow through automation once the daily marts have changed.
"""

import dagster as dg

from stock_lakehouse.defs.compaction.assets import COMPACTED_TICKS_KEY
from stock_lakehouse.defs.marts.assets import daily_marts
from stock_lakehouse.defs.marts.freshness import CHECK_NAME as FRESHNESS_CHECK
from stock_lakehouse.partitions import daily_partitions

daily_refresh = dg.define_asset_job(
    name="daily_refresh",
    # dbt's source freshness judges the lake as a whole on its own 10-minute schedule; in every
    # refresh it would add a dbt invocation and say nothing about the run's days.
    selection=dg.AssetSelection.assets(COMPACTED_TICKS_KEY, daily_marts)
    - dg.AssetSelection.checks(dg.AssetCheckKey(COMPACTED_TICKS_KEY, FRESHNESS_CHECK)),
    partitions_def=daily_partitions,
    description="compacted_ticks, then every daily-partitioned dbt mart, for the run's days.",
)
