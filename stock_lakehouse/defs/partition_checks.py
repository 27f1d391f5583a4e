"""Check results that belong to partitions, in a run of one day or of a whole range.

A partitioned check (its spec has the asset's `partitions_def`) is planned for every day of a
run. Dagster files an `AssetCheckResult` under the step's partition, and a step over a range
(a single-run backfill) has none: the result would land without a partition and each planned
day would show as skipped in the UI. So a range run reports one evaluation per day itself.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import dagster as dg


def per_partition(
    context: dg.AssetExecutionContext, results: Mapping[str, dg.AssetCheckResult]
) -> Iterator[dg.AssetCheckResult | dg.AssetCheckEvaluation | dg.Output]:
    """Report one check's `results` (partition key -> result, every key of the run).

    Every result names its asset (`asset_key`) and check (`check_name`)."""
    if len(results) == 1:
        yield from results.values()  # Dagster files it under the step's one partition
        return
    first = next(iter(results.values()))
    key = dg.AssetCheckKey(first.asset_key, first.check_name)
    if key not in context.selected_asset_check_keys:
        return
    spec = context.assets_def.get_spec_for_check_key(key)
    # The check's output, once, as an AssetCheckResult would produce it.
    yield dg.Output(None, output_name=context.assets_def.get_output_name_for_asset_check_key(key))
    for partition, result in results.items():
        yield dg.AssetCheckEvaluation(
            asset_key=key.asset_key,
            check_name=key.name,
            passed=result.passed,
            metadata=result.metadata,
            severity=result.severity,
            description=result.description,
            blocking=spec.blocking,
            partition=partition,
        )
