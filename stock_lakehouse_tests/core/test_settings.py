"""Pure configuration functions: one settings object drives Kafka, S3, Spark and DuckDB alike."""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr

from stock_lakehouse.clients.duckdb_conn import s3_secret_sql
from stock_lakehouse.clients.spark_session import spark_conf, spark_submit_command
from stock_lakehouse.services.kafka import new_cluster_id, server_properties
from stock_lakehouse.services.seaweedfs import s3_identities
from stock_lakehouse.settings import KafkaSettings, S3Settings, Settings


def minio_settings() -> Settings:
    return Settings(
        s3=S3Settings(
            endpoint_url="https://minio.internal:9000",
            access_key_id="AKIAEXAMPLE",
            secret_access_key=SecretStr("s3cr3t'quote"),
            region="eu-west-1",
            bucket="ticks",
        ),
        kafka=KafkaSettings(bootstrap_servers="kafka-1:9092,kafka-2:9092"),
    )


def test_endpoints_give_host_port_and_scheme():
    s3 = minio_settings().s3
    assert (s3.host, s3.port, s3.host_port, s3.use_ssl) == (
        "minio.internal",
        9000,
        "minio.internal:9000",
        True,
    )
    assert s3.uri("raw", "ticks/", scheme="s3a") == "s3a://ticks/raw/ticks"
    kafka = minio_settings().kafka
    assert (kafka.host, kafka.port) == ("kafka-1", 9092)


def test_spark_conf_points_s3a_at_the_configured_store():
    conf = spark_conf(minio_settings())
    assert conf["spark.hadoop.fs.s3a.endpoint"] == "https://minio.internal:9000"
    assert conf["spark.hadoop.fs.s3a.endpoint.region"] == "eu-west-1"
    assert conf["spark.hadoop.fs.s3a.connection.ssl.enabled"] == "true"
    assert conf["spark.hadoop.fs.s3a.secret.key"] == "s3cr3t'quote"
    assert conf["spark.sql.session.timeZone"] == "UTC"


def test_spark_submit_command_never_carries_the_secret():
    settings = minio_settings()
    command = spark_submit_command(Path("spark_jobs/job.py"), settings, ["--day", "2026-03-02"])
    joined = " ".join(command)
    assert "s3cr3t" not in joined
    assert "AKIAEXAMPLE" not in joined
    assert command[-3:] == ["spark_jobs/job.py", "--day", "2026-03-02"]
    jars = command[command.index("--jars") + 1].split(",")
    assert any("delta-spark" in jar for jar in jars)


def test_duckdb_secret_escapes_quotes_and_uses_host_port():
    sql = s3_secret_sql(minio_settings().s3)
    assert "SECRET 's3cr3t''quote'" in sql
    assert "ENDPOINT 'minio.internal:9000'" in sql
    assert "USE_SSL true" in sql
    assert "URL_STYLE 'path'" in sql


def test_kafka_server_properties_bind_loopback_and_single_replica(tmp_path):
    props = dict(
        line.split("=", 1) for line in server_properties(9092, 9093, tmp_path).splitlines()
    )
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093"
    assert props["controller.quorum.bootstrap.servers"] == "127.0.0.1:9093"
    assert "controller.quorum.voters" not in props
    assert props["log.dirs"] == str(tmp_path)
    for key in (
        "offsets.topic.replication.factor",
        "transaction.state.log.replication.factor",
        "transaction.state.log.min.isr",
        "share.coordinator.state.topic.replication.factor",
        "share.coordinator.state.topic.min.isr",
    ):
        assert props[key] == "1", key


def test_cluster_ids_are_kafka_shaped_and_unique():
    ids = {new_cluster_id() for _ in range(200)}
    assert len(ids) == 200
    assert all(len(i) == 22 and not i.startswith("-") for i in ids)


def test_s3_identity_document_holds_the_configured_keys():
    doc = s3_identities("key", "secret")
    (identity,) = doc["identities"]
    assert identity["credentials"] == [{"accessKey": "key", "secretKey": "secret"}]
    assert {"Read", "Write", "List"} <= set(identity["actions"])
