"""Dagster resources shared by every domain: the S3 store, Kafka and the Spark job launcher.

Endpoints come from the same environment variables as `stock_lakehouse.settings`; secrets are
`dg.EnvVar`s so the Dagster UI shows their names, never their values.
"""

from __future__ import annotations

import sys
from pathlib import Path

import dagster as dg
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient
from dagster_aws.s3 import S3Resource
from dagster_dbt import DbtCliResource

from stock_lakehouse.defs.marts.project import DBT_PROJECT_DIR
from stock_lakehouse.settings import Settings


class KafkaResource(dg.ConfigurableResource):
    """Where the ticks flow: bootstrap servers and topic, plus the clients built from them."""

    bootstrap_servers: str
    ticks_topic: str

    def admin_client(self) -> AdminClient:
        return AdminClient({"bootstrap.servers": self.bootstrap_servers})

    def producer(self, **overrides: str | int | bool) -> Producer:
        """An idempotent producer (acks=all): a retried send never duplicates a tick."""
        config = {
            "bootstrap.servers": self.bootstrap_servers,
            "enable.idempotence": True,
            "acks": "all",
            **overrides,
        }
        return Producer(config)


def build_resources(settings: Settings) -> dict[str, object]:
    """Resource instances keyed as assets request them."""
    s3 = settings.s3
    return {
        "s3": S3Resource(
            endpoint_url=s3.endpoint_url,
            region_name=s3.region,
            use_ssl=s3.use_ssl,
            aws_access_key_id=dg.EnvVar("S3_ACCESS_KEY_ID"),
            aws_secret_access_key=dg.EnvVar("S3_SECRET_ACCESS_KEY"),
        ),
        "kafka": KafkaResource(
            bootstrap_servers=settings.kafka.bootstrap_servers,
            ticks_topic=settings.kafka.ticks_topic,
        ),
        # Spark jobs are spark-submit-able scripts; Dagster Pipes runs them and streams their
        # logs and metadata back into the run (see stock_lakehouse.spark_session).
        # The stream needs up to a micro-batch to stop after SIGINT (200k rows: ~10 s).
        "pipes_subprocess_client": dg.PipesSubprocessClient(termination_timeout_seconds=120),
        # dbt on DuckDB (dbt_project/); the lakehouse plugin reads the S3 settings itself.
        # dbt from this interpreter's environment, whether or not its bin/ is on PATH.
        "dbt": DbtCliResource(
            project_dir=str(DBT_PROJECT_DIR),
            profiles_dir=str(DBT_PROJECT_DIR),
            dbt_executable=str(Path(sys.executable).parent / "dbt"),
        ),
    }
