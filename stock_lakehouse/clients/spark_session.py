"""Spark sessions with exactly the project's connector jars and the S3 store's settings.

The jars come from jars/lib/spark (fetched by Maven), passed through `spark.jars` so a `spark://`
standalone cluster's executors fetch them from the driver: no Ivy or `--packages` at run time.
Secrets are set on the session by the factory, never put on a command line.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from stock_lakehouse.prerequisites import require_jars, require_java
from stock_lakehouse.settings import Settings, get_settings


def spark_jars(settings: Settings) -> list[Path]:
    folder = require_jars(settings.spark.jars_dir, "delta-spark_*.jar", "Spark connector")
    return sorted(folder.glob("*.jar"))


def spark_conf(settings: Settings, *, include_secrets: bool = True) -> dict[str, str]:
    """Every Spark setting the project's jobs rely on, as plain strings."""
    s3 = settings.s3
    conf = {
        "spark.master": settings.spark.master,
        "spark.driver.memory": settings.spark.driver_memory,
        "spark.sql.session.timeZone": "UTC",  # trade_date is the UTC event date
        "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
        "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
        "spark.sql.shuffle.partitions": str(settings.spark.shuffle_partitions),
        # One Delta log replay task per core, not 50: small batches went from 5-8 s to 1-1.6 s.
        "spark.databricks.delta.snapshotPartitions": str(settings.spark.shuffle_partitions),
        # VACUUM listed files in a 10,000-task stage (35 s); 8 tasks took 6 s.
        "spark.sql.sources.parallelPartitionDiscovery.parallelism": "8",
        "spark.ui.showConsoleProgress": "false",
        # INT64 microseconds marked UTC, not Spark's legacy INT96: DuckDB reads INT96 as a naive
        # TIMESTAMP and the delta extension then casts every value to the table's TIMESTAMPTZ
        # through ICU, which tripled the CPU of a dashboard query on a Spark-written day.
        "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
        "spark.hadoop.fs.s3a.endpoint": s3.endpoint_url,
        "spark.hadoop.fs.s3a.endpoint.region": s3.region,
        "spark.hadoop.fs.s3a.path.style.access": str(s3.path_style).lower(),
        "spark.hadoop.fs.s3a.connection.ssl.enabled": str(s3.use_ssl).lower(),
        "spark.hadoop.fs.s3a.aws.credentials.provider": (
            "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider"
        ),
    }
    if include_secrets:
        conf["spark.hadoop.fs.s3a.access.key"] = s3.access_key_id
        conf["spark.hadoop.fs.s3a.secret.key"] = s3.secret_access_key.get_secret_value()
    return conf


def get_spark_session(app_name: str, settings: Settings | None = None, **extra_conf: str):
    """A SparkSession for `app_name` (reused if one is active in this process)."""
    from pyspark.sql import SparkSession  # importing pyspark costs ~1 s: only when needed

    settings = settings or get_settings()
    require_java()
    # Bind the driver to loopback unless the operator chose an address (needed on real clusters).
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    # Python workers run this interpreter, not whatever `python3` is first on PATH (another minor
    # version fails, and outside the venv pyspark's dependencies are missing). PySpark reads the
    # variable, not `spark.pyspark.python` (only spark-submit maps that); on a cluster whose
    # machines keep Python elsewhere, set PYSPARK_PYTHON to that path.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.appName(app_name)
    conf = {
        **spark_conf(settings),
        "spark.jars": ",".join(str(jar) for jar in spark_jars(settings)),
        **extra_conf,
    }
    for key, value in conf.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("WARN")
    return session


def spark_submit_command(
    script: Path, settings: Settings, args: list[str] | None = None
) -> list[str]:
    """`spark-submit` for a script in spark_jobs/: jars and settings, never secrets, as arguments.

    The job's own `get_spark_session` adds the S3 credentials from the environment.
    """
    from pyspark.find_spark_home import _find_spark_home

    submit = Path(_find_spark_home()) / "bin" / "spark-submit"
    command = [str(submit), "--jars", ",".join(str(j) for j in spark_jars(settings))]
    conf = {
        **spark_conf(settings, include_secrets=False),
        # The driver script imports this package: run it with this environment's interpreter,
        # not whatever `python3` is first on PATH. (Executors run no Python in these jobs.)
        "spark.pyspark.driver.python": sys.executable,
    }
    for key, value in conf.items():
        command += ["--conf", f"{key}={value}"]
    return [*command, str(script), *(args or [])]
