"""The Spark jobs, unchanged, on a Spark standalone cluster (master + worker on 127.0.0.1): the
stream drains a topic into raw_ticks, and compaction compacts a day."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from confluent_kafka import Producer

from stock_lakehouse.clients.kafka import LIBRDKAFKA_LOGGER
from stock_lakehouse.clients.spark_session import spark_submit_command
from stock_lakehouse.settings import PROJECT_ROOT, Settings
from stock_lakehouse.simulator.producer import ensure_topic
from stock_lakehouse.tables import COMPACTED_TICKS, QUARANTINE, RAW_TICKS
from stock_lakehouse_tests.support.environment import PORT_OFFSET
from stock_lakehouse_tests.support.lake import day_rows, delta
from stock_lakehouse_tests.support.raw_seed import RawSeeder, tick_payloads
from stock_lakehouse_tests.support.waiting import wait_for

pytestmark = pytest.mark.integration

DAY = date(2026, 3, 9)
STREAM_DAY = date(2026, 3, 10)
# Explicit ports below 32768 (the master's defaults, 8080 web UI and 6066 REST, clash easily).
MASTER_PORT, MASTER_UI, WORKER_PORT, WORKER_UI = (
    p + PORT_OFFSET for p in (12077, 12080, 12078, 12081)
)


def master_state() -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{MASTER_UI}/json/", timeout=5) as response:
        return json.load(response)


def port_open(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="module")
def standalone_master(test_state_dir: Path) -> Iterator[str]:
    """A master and a one-core worker from the pyspark wheel, stopped by PID afterwards."""
    from pyspark.find_spark_home import _find_spark_home

    spark_home = Path(_find_spark_home())
    folder = test_state_dir / "standalone"
    (folder / "work").mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "SPARK_HOME": str(spark_home),
        "SPARK_LOCAL_IP": "127.0.0.1",
        "SPARK_MASTER_OPTS": "-Dspark.master.rest.enabled=false",
    }
    spark_class = str(spark_home / "bin" / "spark-class")
    processes: list[subprocess.Popen] = []
    try:
        for name, args in (
            (
                "master",
                [
                    "org.apache.spark.deploy.master.Master",
                    *("--host", "127.0.0.1", "--port", str(MASTER_PORT)),
                    *("--webui-port", str(MASTER_UI)),
                ],
            ),
            (
                "worker",
                [
                    "org.apache.spark.deploy.worker.Worker",
                    f"spark://127.0.0.1:{MASTER_PORT}",
                    *("--host", "127.0.0.1", "--port", str(WORKER_PORT)),
                    *("--webui-port", str(WORKER_UI), "--cores", "1", "--memory", "1536m"),
                    *("--work-dir", str(folder / "work")),
                ],
            ),
        ):
            log = (folder / f"{name}.log").open("w")
            # spark-class execs java: the PID is the JVM's.
            processes.append(
                subprocess.Popen([spark_class, *args], env=env, stdout=log, stderr=log)
            )
            if name == "master":
                wait_for(lambda: port_open(MASTER_UI), "the master's web UI", ignoring=(OSError,))
        wait_for(
            lambda: master_state()["aliveworkers"] == 1,
            "the worker to register",
            ignoring=(OSError,),
        )
        yield f"spark://127.0.0.1:{MASTER_PORT}"
    finally:
        for process in reversed(processes):
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def test_compaction_runs_unchanged_on_a_standalone_cluster(
    spark, services: Settings, unique_name, standalone_master, test_state_dir
):
    s3 = services.s3.model_copy(update={"prefix": unique_name})
    seeder = RawSeeder(spark, s3)
    ticks = tick_payloads(DAY, 1200, seed=9)
    for batch in range(4):
        seeder.write(ticks[batch * 300 : (batch + 1) * 300])
    seeder.write(ticks[:300], app="replay", offsets=list(range(300)))  # duplicates to drop

    settings = services.model_copy(
        update={"spark": services.spark.model_copy(update={"master": standalone_master}), "s3": s3}
    )
    command = spark_submit_command(
        PROJECT_ROOT / "spark_jobs" / "compact_ticks.py", settings, ["--start", DAY.isoformat()]
    )
    env = {**os.environ, "S3_PREFIX": unique_name, "SPARK_MASTER": standalone_master}
    result = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    (test_state_dir / "standalone" / "compact_ticks.log").write_text(result.stdout + result.stderr)
    assert result.returncode == 0, result.stderr[-3000:]

    apps = master_state()["completedapps"]
    assert "compact_ticks" in [app["name"] for app in apps], "the job did not run on the cluster"
    compacted = day_rows(settings, COMPACTED_TICKS, DAY)
    offsets = compacted["kafka_offset"].to_pylist()
    assert sorted(offsets) == list(range(1200))  # every offset once, duplicates dropped
    assert set(compacted["tick_id"].to_pylist()) == {t["tick_id"] for t in ticks}


def test_stream_drains_a_topic_into_raw_ticks_on_a_standalone_cluster(
    services: Settings, unique_name, standalone_master, test_state_dir
):
    ensure_topic(services, unique_name, partitions=2)
    ticks = tick_payloads(STREAM_DAY, 500, seed=4)
    producer = Producer(
        {
            "bootstrap.servers": services.kafka.bootstrap_servers,
            "enable.idempotence": True,
            "logger": LIBRDKAFKA_LOGGER,
        }
    )
    for tick in ticks:
        producer.produce(unique_name, key=tick["ticker"], value=json.dumps(tick))
    producer.produce(unique_name, key=b"AAPL", value=b"\xff not json")  # one for quarantine
    assert producer.flush(30) == 0

    env = {**os.environ, "S3_PREFIX": unique_name, "SPARK_MASTER": standalone_master}
    command = [
        sys.executable,
        str(PROJECT_ROOT / "spark_jobs" / "stream_ticks.py"),
        *("--topic", unique_name, "--available-now"),
        *("--checkpoint", str(test_state_dir / "standalone" / unique_name)),
    ]
    result = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    (test_state_dir / "standalone" / "stream_ticks.log").write_text(result.stdout + result.stderr)
    assert result.returncode == 0, result.stderr[-3000:]

    assert "stream_ticks" in [app["name"] for app in master_state()["completedapps"]]
    settings = services.model_copy(
        update={"s3": services.s3.model_copy(update={"prefix": unique_name})}
    )
    raw = day_rows(settings, RAW_TICKS, STREAM_DAY, columns=["tick_id", "kafka_offset"])
    assert sorted(raw["tick_id"].to_pylist()) == sorted(t["tick_id"] for t in ticks)
    quarantined = delta(settings, QUARANTINE).to_pyarrow_table(columns=["reason"])
    assert quarantined["reason"].to_pylist() == ["malformed_json"]
