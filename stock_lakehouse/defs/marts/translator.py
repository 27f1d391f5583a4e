"""How dbt models appear in Dagster: the marts group, and automation by kind of model."""

from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings

from stock_lakehouse.defs.automation.conditions import (
    closed_day_refresh,
    rebuild_when_upstream_changes,
)

# dbt tag of the models that are built one day (or one backfill range) at a time.
PARTITIONED_TAG = "partitioned"


class LakehouseDbtTranslator(DagsterDbtTranslator):
    def __init__(self) -> None:
        # dbt tests become asset checks on the models they test.
        super().__init__(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        return "marts"

    def get_automation_condition(
        self, dbt_resource_props: Mapping[str, Any]
    ) -> dg.AutomationCondition | None:
        if dbt_resource_props["resource_type"] != "model":
            return None
        if PARTITIONED_TAG in dbt_resource_props.get("tags", []):
            return closed_day_refresh()
        return rebuild_when_upstream_changes()
