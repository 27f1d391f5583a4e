"""raw_ticks -> compacted_ticks: day planning, check and reporting shared by both engines.

Two engines do the same work (`COMPACTION_ENGINE`): DuckDB + delta-rs on one machine
(`duckdb_engine.py`), Spark for a `spark://` cluster (`spark_jobs/compact_ticks.py`). Both read one
pinned version of raw_ticks, keep one row per Kafka offset, sort by ticker and time, replace the
day in one Delta commit, and report the same `DayResult`.
"""
