"""How dbt models appear in Dagster: the marts group, and automation by kind of model."""

from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtProject

from stock_lakehouse.defs.automation.conditions import (
    closed_day_refresh,
    rebuild_when_upstream_changes,
)
from stock_lakehouse.partitions import daily_partitions

# dbt tag of the models that are built one day (or one backfill range) at a time.
PARTITIONED_TAG = "partitioned"


class LakehouseDbtTranslator(DagsterDbtTranslator):
    def __init__(self) -> None:
        # dbt tests become asset checks on the models they test.
        super().__init__(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))

    def get_asset_check_spec(
        self,
        asset_spec: dg.AssetSpec,
        manifest: Mapping[str, Any],
        unique_id: str,
        project: DbtProject | None,
    ) -> dg.AssetCheckSpec | None:
        """A dbt test of a partitioned model is a check per day: a result for each day of a run
        (defs/partition_checks.py), so the UI shows each day's tests, not one for the range."""
        spec = super().get_asset_check_spec(asset_spec, manifest, unique_id, project)
        if spec is None or PARTITIONED_TAG not in asset_spec.tags:
            return spec
        return dg.AssetCheckSpec(
            spec.name,
            asset=spec.asset_key,
            description=spec.description,
            additional_deps=spec.additional_deps,
            blocking=spec.blocking,
            metadata=spec.metadata,
            automation_condition=spec.automation_condition,
            partitions_def=daily_partitions,
        )

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
