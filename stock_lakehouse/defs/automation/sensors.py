"""The sensor that evaluates every asset's automation condition (see conditions.py)."""

import dagster as dg

batch_automation = dg.AutomationConditionSensorDefinition(
    name="batch_automation",
    target=dg.AssetSelection.all(),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
    description=(
        "Compacts and models each closed day, and again when late data changes its raw_ticks "
        "partition; rebuilds the summary marts after their daily inputs change."
    ),
)
