"""Every client of a system outside this process is built here, from the one settings object.

s3 (boto3, pyarrow, delta-rs options), duckdb_conn (DuckDB with the offline extensions and the S3
secret), spark_session (Spark with the Maven-managed jars), kafka (admin, producer, consumer),
delta_log (a Delta table's per-day figures from its log), dagster_instance (the platform's
instance). Nothing here imports the layers above: services, defs, dashboard, cli.
"""
