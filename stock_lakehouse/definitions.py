"""The Dagster entry point: every asset, check, job, sensor and resource is registered here.

Later issues add their domains under `stock_lakehouse/defs/<domain>/` and list them below.
"""

import dagster as dg

from stock_lakehouse.defs.resources import build_resources
from stock_lakehouse.settings import get_settings


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(
        assets=[],
        asset_checks=[],
        jobs=[],
        sensors=[],
        schedules=[],
        resources=build_resources(get_settings()),
    )
