"""`stock-lakehouse services ...` as a user runs it: idempotent, data-preserving, clear errors.

These tests run a second, private set of servers (14xxx ports) through the CLI in a subprocess, so
they never disturb the session services other tests use.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from stock_lakehouse.clients.kafka import LIBRDKAFKA_LOGGER
from stock_lakehouse.clients.s3 import s3_client
from stock_lakehouse.errors import UserFacingError
from stock_lakehouse.services.manager import LocalServices
from stock_lakehouse.services.smoke import s3_round_trip
from stock_lakehouse.settings import (
    KafkaSettings,
    LocalServicesSettings,
    S3Settings,
    Settings,
)
from stock_lakehouse_tests.support.environment import PORT_OFFSET, TEST_STATE_DIR, service_ports_env

CLI = str(Path(sys.executable).parent / "stock-lakehouse")


def private_env(state_dir: Path, kafka: int = 14092) -> dict[str, str]:
    """A second set of servers, clear of the session's (12xxx) and the defaults (8xxx-19xxx)."""
    kafka += PORT_OFFSET
    env = service_ports_env(state_dir, kafka=kafka, seaweed=kafka + 241, s3=kafka - 759)
    return {**env, "S3_BUCKET": "lifecycle"}


def settings_for(env: dict[str, str]) -> Settings:
    return Settings(
        s3=S3Settings(
            endpoint_url=env["S3_ENDPOINT_URL"],
            bucket=env["S3_BUCKET"],
            access_key_id=os.environ["S3_ACCESS_KEY_ID"],
            secret_access_key=os.environ["S3_SECRET_ACCESS_KEY"],
        ),
        kafka=KafkaSettings(bootstrap_servers=env["KAFKA_BOOTSTRAP_SERVERS"]),
        local=LocalServicesSettings(
            state_dir=Path(env["STOCK_LAKEHOUSE_STATE_DIR"]),
            kafka_controller_port=int(env["STOCK_LAKEHOUSE_KAFKA_CONTROLLER_PORT"]),
            seaweed_master_port=int(env["STOCK_LAKEHOUSE_SEAWEED_MASTER_PORT"]),
            seaweed_volume_port=int(env["STOCK_LAKEHOUSE_SEAWEED_VOLUME_PORT"]),
            seaweed_filer_port=int(env["STOCK_LAKEHOUSE_SEAWEED_FILER_PORT"]),
        ),
    )


def run_cli(env: dict[str, str], *args: str, path: str | None = None):
    full_env = {**os.environ, **env}
    if path is not None:
        full_env["PATH"] = path
    return subprocess.run(
        [CLI, *args], env=full_env, capture_output=True, text=True, timeout=300, check=False
    )


def all_pids(local: LocalServices) -> dict[str, int | None]:
    return {p.name: p.pid() for s in (local.kafka, local.s3) for p in s.processes}


@pytest.fixture
def private_services() -> Iterator[tuple[dict[str, str], LocalServices]]:
    state = TEST_STATE_DIR / "lifecycle"
    env = private_env(state)
    local = LocalServices(settings_for(env))
    local.down()
    shutil.rmtree(state, ignore_errors=True)
    try:
        yield env, local
    finally:
        local.down()  # by PID file, whatever the test left running


@pytest.mark.integration
def test_up_twice_is_harmless_and_down_then_up_keeps_data(private_services, unique_name):
    env, local = private_services
    first = run_cli(env, "services", "up")
    assert first.returncode == 0, first.stderr
    pids = all_pids(local)
    assert all(pids.values()), pids

    second = run_cli(env, "services", "up")
    assert second.returncode == 0, second.stderr
    assert all_pids(local) == pids, "a second 'up' must not restart anything"
    status = run_cli(env, "services", "status")
    assert status.returncode == 0
    assert status.stdout.count("healthy") == 2

    settings = local.settings
    servers = settings.kafka.bootstrap_servers
    admin = AdminClient({"bootstrap.servers": servers, "logger": LIBRDKAFKA_LOGGER})
    admin.create_topics([NewTopic(unique_name, 1, 1)])[unique_name].result(timeout=30)
    producer = Producer(
        {"bootstrap.servers": servers, "enable.idempotence": True, "logger": LIBRDKAFKA_LOGGER}
    )
    for i in range(100):
        producer.produce(unique_name, value=str(i))
    assert producer.flush(30) == 0
    s3_client(settings.s3).put_object(Bucket=settings.s3.bucket, Key="kept.txt", Body=b"kept")

    down = run_cli(env, "services", "down")
    assert down.returncode == 0, down.stderr
    assert not any(all_pids(local).values())
    assert run_cli(env, "services", "status").returncode == 1
    # Both really stopped: `status --json` says which, where, and what starts them.
    stopped = run_cli(env, "status", "--json")
    assert stopped.returncode == 1, stopped.stderr
    report = json.loads(stopped.stdout)
    assert {s["name"]: s["state"] for s in report["services"]} == {
        "kafka": "stopped",
        "s3": "stopped",
    }
    servers_down = [p for p in report["problems"] if "'make services-up' starts it" in p]
    assert len(servers_down) == 2 and report["days"] is None
    assert servers in servers_down[0] and settings.s3.endpoint_url in servers_down[1]
    smoke = run_cli(env, "smoke")  # a broker that is not there: one line, not a traceback
    assert smoke.returncode == 1 and "Traceback" not in smoke.stderr
    assert smoke.stderr.strip().splitlines() == [
        f"error: Kafka is not reachable at {servers} - run 'stock-lakehouse services up' "
        "or set KAFKA_BOOTSTRAP_SERVERS"
    ]
    with pytest.raises(
        UserFacingError, match=f"S3 store is not reachable at {settings.s3.endpoint_url}"
    ):
        s3_round_trip(settings)

    again = run_cli(env, "services", "up")
    assert again.returncode == 0, again.stderr
    body = s3_client(settings.s3).get_object(Bucket=settings.s3.bucket, Key="kept.txt")["Body"]
    assert body.read() == b"kept"
    consumer = Consumer(
        {
            "bootstrap.servers": servers,
            "group.id": unique_name,
            "auto.offset.reset": "earliest",
            "logger": LIBRDKAFKA_LOGGER,
        }
    )
    consumer.subscribe([unique_name])
    values: list[str] = []
    for _ in range(30):
        values += [m.value().decode() for m in consumer.consume(200, timeout=1) if not m.error()]
        if len(values) >= 100:
            break
    consumer.close()
    assert sorted(values, key=int) == [str(i) for i in range(100)]


def test_port_held_by_another_program_gives_one_line_error():
    state = TEST_STATE_DIR / "busy-port"
    shutil.rmtree(state, ignore_errors=True)
    env = private_env(state, kafka=16092)
    kafka_port = int(env["KAFKA_BOOTSTRAP_SERVERS"].rsplit(":", 1)[1])
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", kafka_port))
        squatter.listen()
        result = run_cli(env, "services", "up")
    assert result.returncode == 1
    assert f"port {kafka_port} on 127.0.0.1 is already in use" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert not any(all_pids(LocalServices(settings_for(env))).values())


def test_missing_java_gives_one_line_error():
    state = TEST_STATE_DIR / "no-java"
    shutil.rmtree(state, ignore_errors=True)
    env = private_env(state, kafka=16192)
    result = run_cli(env, "services", "up", path="/nonexistent")
    assert result.returncode == 1
    assert "java not found on PATH" in result.stderr
    assert "Traceback" not in result.stderr


def test_unfetched_jars_give_one_line_error(tmp_path):
    state = TEST_STATE_DIR / "no-jars"
    shutil.rmtree(state, ignore_errors=True)
    env = {**private_env(state, kafka=16292), "STOCK_LAKEHOUSE_KAFKA_JARS_DIR": str(tmp_path)}
    result = run_cli(env, "services", "up")
    assert result.returncode == 1
    assert "Kafka jars not found" in result.stderr
    assert "make jars" in result.stderr
    assert "Traceback" not in result.stderr
