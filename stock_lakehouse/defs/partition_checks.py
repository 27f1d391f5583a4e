"""Check results that belong to partitions, in a run of one day or of a whole range.

A partitioned check (its spec has the asset's `partitions_def`) is planned for every day of a
run. Dagster files an `AssetCheckResult` under the step's partition, and a step over a range
(a single-run backfill, even of one day) has none: the result would land without a partition and
each planned day would show as skipped in the UI. So every run reports one evaluation per day,
each aimed at that day's latest materialization as Dagster's own results are: the UI shows a
day's check only while it judges the day's current version.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import dagster as dg
from dagster._core.definitions.asset_checks.asset_check_evaluation import (
    AssetCheckEvaluationTargetMaterializationData,
)


def per_partition(
    context: dg.AssetExecutionContext, results: Mapping[str, dg.AssetCheckResult]
) -> Iterator[dg.AssetCheckResult | dg.AssetCheckEvaluation | dg.Output]:
    """Report one check's `results` (partition key -> result, every key of the run).

    Every result names its asset (`asset_key`) and check (`check_name`). Even a run of one day
    reports this way: a backfill of one day runs as a range of one, with no step partition."""
    first = next(iter(results.values()))
    key = dg.AssetCheckKey(first.asset_key, first.check_name)
    if key not in context.selected_asset_check_keys:
        return
    spec = context.assets_def.get_spec_for_check_key(key)
    # The check's output, once, as an AssetCheckResult would produce it.
    yield dg.Output(None, output_name=context.assets_def.get_output_name_for_asset_check_key(key))
    for partition, result in results.items():
        yield dg.AssetCheckEvaluation(
            target_materialization_data=latest_materialization(context, key.asset_key, partition),
            asset_key=key.asset_key,
            check_name=key.name,
            passed=result.passed,
            metadata=result.metadata,
            severity=result.severity,
            description=result.description,
            blocking=spec.blocking,
            partition=partition,
        )


def latest_materialization(
    context: dg.AssetExecutionContext, asset_key: dg.AssetKey, partition: str
) -> AssetCheckEvaluationTargetMaterializationData | None:
    """The day's latest materialization (this run's, when it published the day), as Dagster's
    own AssetCheckResult finds it for a one-day step."""
    found = context.instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=asset_key, asset_partitions=[partition]), limit=1
    ).records
    if not found:
        return None
    return AssetCheckEvaluationTargetMaterializationData(
        run_id=found[0].event_log_entry.run_id,
        storage_id=found[0].storage_id,
        timestamp=found[0].timestamp,
    )
