"""dbt source freshness as Dagster asset checks on the lake tables the marts read.

The thresholds are dbt's own (`freshness` in dbt_project/models/staging/_sources.yml), so
`dbt source freshness` by hand and the check in the UI agree. dbt runs against the profile's
in-memory `lake` target: it reads the Delta tables through the lakehouse plugin's views and never
waits for the build database's lock.
"""

import json
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

import dagster as dg
from dagster_dbt import DbtCliInvocation, DbtCliResource

from stock_lakehouse.defs.marts.project import dbt_project
from stock_lakehouse.defs.marts.translator import LakehouseDbtTranslator

CHECK_NAME = "dbt_source_freshness"
# dbt's target of profiles.yml that reads the lake only.
LAKE_TARGET = "lake"
EVERY_10_MINUTES = "*/10 * * * *"


def freshness_sources(manifest: Mapping[str, Any]) -> dict[dg.AssetKey, Mapping[str, Any]]:
    """The dbt sources with a freshness policy, by the asset key Dagster knows them under."""
    translator = LakehouseDbtTranslator()
    return {
        translator.get_asset_key(source): source
        for source in manifest["sources"].values()
        if source.get("freshness") and source.get("loaded_at_field")
    }


def check_result(
    asset_key: dg.AssetKey, result: Mapping[str, Any] | None, error: str | None = None
) -> dg.AssetCheckResult:
    """One source's line of dbt's sources.json as a check result: warn -> WARN, error -> ERROR.

    A source dbt could not read at all (no table yet, the S3 store down) has no line there, only
    dbt's error message: that fails as ERROR with the message.
    """
    if result is None:
        return dg.AssetCheckResult(
            asset_key=asset_key,
            check_name=CHECK_NAME,
            passed=False,
            metadata={
                "dbt_status": "runtime error",
                "error": error or "dbt source freshness reported nothing for this source",
            },
        )
    status = result["status"]
    metadata: dict[str, Any] = {"dbt_status": status}
    metadata["max_loaded_at"] = dg.MetadataValue.timestamp(
        datetime.fromisoformat(result["max_loaded_at"])
    )
    metadata["age_minutes"] = round(result["max_loaded_at_time_ago_in_s"] / 60, 1)
    for level in ("warn_after", "error_after"):
        after = result["criteria"].get(level) or {}
        if after.get("count"):
            metadata[level] = f"{after['count']} {after['period']}(s)"
    return dg.AssetCheckResult(
        asset_key=asset_key,
        check_name=CHECK_NAME,
        passed=status == "pass",
        severity=dg.AssetCheckSeverity.WARN if status == "warn" else dg.AssetCheckSeverity.ERROR,
        metadata=metadata,
    )


def source_errors(invocation: DbtCliInvocation) -> dict[str, str]:
    """dbt's error message per source it could not read, from its structured log."""
    errors = {}
    for event in invocation.stream_raw_events():
        if event.raw_event["info"]["name"] == "RunResultError":
            data = event.raw_event["data"]
            unique_id = data.get("node_info", {}).get("unique_id")
            if unique_id:
                errors[unique_id] = data.get("msg", "")
    return errors


def build_freshness_checks(manifest: Mapping[str, Any]) -> dg.AssetChecksDefinition:
    sources = freshness_sources(manifest)

    @dg.multi_asset_check(
        specs=[
            dg.AssetCheckSpec(
                CHECK_NAME,
                asset=key,
                description=(
                    f"dbt source freshness of {source['source_name']}.{source['name']}: "
                    f"newest `{source['loaded_at_field']}` against the thresholds in "
                    f"{source['original_file_path']}."
                ),
                automation_condition=dg.AutomationCondition.cron_tick_passed(EVERY_10_MINUTES),
            )
            for key, source in sources.items()
        ],
        can_subset=True,
        name=CHECK_NAME,
    )
    def dbt_source_freshness(
        context: dg.AssetCheckExecutionContext, dbt: DbtCliResource
    ) -> Iterator[dg.AssetCheckResult]:
        selected = [k.asset_key for k in context.selected_asset_check_keys]
        select = [
            f"source:{sources[key]['source_name']}.{sources[key]['name']}" for key in selected
        ]
        args = ["source", "freshness", "--target", LAKE_TARGET, "--select", " ".join(select)]
        # dbt exits 1 when a source is past error_after: that is a result, not a failure.
        context.log.info(f"dbt {' '.join(args)}")
        invocation = dbt.cli(args, manifest=dbt_project.manifest_path, raise_on_error=False)
        errors = source_errors(invocation)
        try:
            results = {
                r["unique_id"]: r for r in invocation.get_artifact("sources.json")["results"]
            }
        except FileNotFoundError as missing:
            # dbt itself failed (a bad profile, a broken project): its own errors say why.
            raise invocation.get_error() or dg.Failure(
                "dbt source freshness wrote no sources.json"
            ) from missing
        for key in selected:
            unique_id = sources[key]["unique_id"]
            yield check_result(key, results.get(unique_id), errors.get(unique_id))

    return dbt_source_freshness


def load_freshness_checks() -> dg.AssetChecksDefinition:
    return build_freshness_checks(json.loads(dbt_project.manifest_path.read_text()))
