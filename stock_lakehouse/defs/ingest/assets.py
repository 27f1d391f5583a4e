"""raw_ticks: a daily-partitioned asset that the stream fills, not a Dagster computation.

Dagster learns about its partitions from the `raw_ticks_partitions` sensor, which reads the Delta
log and records a materialization per day as the day's rows change.
"""

import dagster as dg

from stock_lakehouse.partitions import daily_partitions

RAW_TICKS_KEY = dg.AssetKey("raw_ticks")

raw_ticks = dg.AssetSpec(
    key=RAW_TICKS_KEY,
    description=(
        "Every valid tick from Kafka `stock-ticks`, exactly once, partitioned by trade_date (UTC "
        "event date), with Kafka lineage columns. Written by spark_jobs/stream_ticks.py; invalid "
        "messages go to the quarantine table with a reason."
    ),
    partitions_def=daily_partitions,
    group_name="ingest",
    kinds={"spark", "delta", "s3"},
    owners=["team:data-platform"],
)
