"""THE daily partitioning of the platform: raw, compacted and mart assets all import this one."""

import dagster as dg

# Days are UTC calendar days: the stream writes `trade_date` as the UTC event date, and a fixed
# start keeps partition keys stable across deployments. end_offset=1 includes today, which the
# live stream is filling.
PARTITIONS_START_DATE = "2026-01-01"

daily_partitions = dg.DailyPartitionsDefinition(
    start_date=PARTITIONS_START_DATE, timezone="UTC", end_offset=1
)
