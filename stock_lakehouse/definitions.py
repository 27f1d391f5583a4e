"""The Dagster entry point: every asset, check, job, sensor and resource is registered here.

Later issues add their domains under `stock_lakehouse/defs/<domain>/` and list them below.
"""

import dagster as dg

from stock_lakehouse.defs.ingest.assets import raw_ticks
from stock_lakehouse.defs.ingest.checks import raw_ticks_fresh
from stock_lakehouse.defs.ingest.jobs import ingest_stream
from stock_lakehouse.defs.ingest.sensors import raw_ticks_partitions_sensor, stream_supervisor
from stock_lakehouse.defs.resources import build_resources
from stock_lakehouse.settings import get_settings


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(
        assets=[raw_ticks],
        asset_checks=[raw_ticks_fresh],
        jobs=[ingest_stream],
        sensors=[raw_ticks_partitions_sensor, stream_supervisor],
        schedules=[],
        resources=build_resources(get_settings()),
    )
