"""lake_vacuum: each night, the files no recent version of raw, quarantine or compacted needs go.

The work and why it never commits to a Delta log (so it cannot race the stream, the only writer
of raw_ticks) are in stock_lakehouse/vacuum.py. VACUUM_RETENTION_HOURS (default 7 days) says how
long a removed file stays for readers that pin a version.
"""

import dagster as dg

from stock_lakehouse.defs.compaction.assets import COMPACTED_TICKS_KEY
from stock_lakehouse.defs.ingest.assets import RAW_TICKS_KEY
from stock_lakehouse.settings import Settings
from stock_lakehouse.vacuum import vacuum_lake


@dg.asset(
    deps=[RAW_TICKS_KEY, COMPACTED_TICKS_KEY],
    group_name="maintenance",
    kinds={"delta", "s3"},
    owners=["team:data-platform"],
    description=(
        "VACUUM of raw_ticks, quarantine and compacted_ticks: deletes the files that no version "
        "of the last VACUUM_RETENTION_HOURS references (merged, replaced, or left by a killed "
        "job). Writes no Delta commit."
    ),
)
def lake_vacuum(
    context: dg.AssetExecutionContext, settings: dg.ResourceParam[Settings]
) -> dg.MaterializeResult:
    retention = settings.vacuum.retention_hours
    results = vacuum_lake(settings.s3, retention)
    for result in results:
        context.log.info(
            f"{result.table}: {result.files_deleted} files deleted at version {result.version} "
            f"in {result.seconds:.1f}s"
        )
    return dg.MaterializeResult(
        metadata={
            "retention_hours": retention,
            "files_deleted": sum(r.files_deleted for r in results),
            **{f"{r.table}_files_deleted": r.files_deleted for r in results},
        }
    )


lake_maintenance = dg.define_asset_job(
    name="lake_maintenance", selection=[lake_vacuum], description="VACUUM of the lake's tables."
)

nightly_vacuum = dg.ScheduleDefinition(
    name="nightly_vacuum",
    job=lake_maintenance,
    cron_schedule="30 4 * * *",  # 04:30 UTC: after every exchange session of the Americas
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
