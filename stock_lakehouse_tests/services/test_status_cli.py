"""`stock-lakehouse status` against the real test services: lag per partition from a checkpoint."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from confluent_kafka import Producer

from stock_lakehouse.clients.kafka import LIBRDKAFKA_LOGGER
from stock_lakehouse.settings import Settings
from stock_lakehouse.simulator.producer import ensure_topic
from stock_lakehouse.stream_lease import StreamLease
from stock_lakehouse.stream_progress import committed_offsets

CLI = Path(sys.executable).parent / "stock-lakehouse"
OFFSET_LOG_HEADER = 'v1\n{"batchWatermarkMs":0,"batchTimestampMs":1795659871399,"conf":{}}\n'


def write_batch(checkpoint: Path, batch: int, topic: str, ends: dict[int, int], done: bool):
    """One micro-batch in Spark's checkpoint layout: offsets/<n>, and commits/<n> once done."""
    (checkpoint / "offsets").mkdir(parents=True, exist_ok=True)
    (checkpoint / "commits").mkdir(parents=True, exist_ok=True)
    line = "{" + f'"{topic}":' + "{" + ",".join(f'"{p}":{o}' for p, o in ends.items()) + "}}"
    (checkpoint / "offsets" / str(batch)).write_text(OFFSET_LOG_HEADER + line)
    if done:
        (checkpoint / "commits" / str(batch)).write_text('v1\n{"nextBatchWatermarkMs":0}')


def test_committed_offsets_ignore_a_batch_that_has_not_committed(tmp_path):
    write_batch(tmp_path, 9, "ticks", {0: 10, 1: 20}, done=True)
    write_batch(tmp_path, 10, "ticks", {0: 15, 1: 25}, done=True)
    write_batch(tmp_path, 11, "ticks", {0: 99, 1: 99}, done=False)  # planned, still running
    batch, at, offsets = committed_offsets(tmp_path, "ticks")
    assert (batch, offsets) == (10, {0: 15, 1: 25}) and at is not None
    assert committed_offsets(tmp_path / "none", "ticks") == (None, None, {})


def topic_and_checkpoint(
    services: Settings, topic: str, checkpoint: Path, messages: int, batch: int, read: dict
) -> dict[str, str]:
    """A 2-partition topic of `messages` (round robin), a checkpoint whose committed `batch` has
    read `read` offsets per partition, and the environment that points status at both."""
    ensure_topic(services, topic, partitions=2)
    producer = Producer(
        {"bootstrap.servers": services.kafka.bootstrap_servers, "logger": LIBRDKAFKA_LOGGER}
    )
    for i in range(messages):
        producer.produce(topic, value=b"{}", partition=i % 2)
    assert producer.flush(30) == 0
    write_batch(checkpoint, batch, topic, read, done=True)
    return {
        **os.environ,
        "KAFKA_TICKS_TOPIC": topic,
        "STREAM_CHECKPOINT_DIR": str(checkpoint),
        "S3_PREFIX": topic,
    }


@pytest.mark.integration
def test_status_shows_services_lag_per_partition_and_last_batch(
    services: Settings, unique_name, tmp_path
):
    env = topic_and_checkpoint(services, unique_name, tmp_path, 50, 3, {0: 10, 1: 25})
    env["COLUMNS"] = "200"
    result = subprocess.run(
        [CLI, "status"], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    # Kafka and the S3 store run, but no stream holds this checkpoint: that alone is a problem.
    assert result.returncode == 1, result.stderr
    out = result.stdout
    assert "Traceback" not in out + result.stderr
    problems = [line for line in out.splitlines() if line.startswith("problem:")]
    assert len(problems) == 1 and "no stream is running" in problems[0], problems
    rows = {
        cells[0]: cells[1:]
        for line in out.splitlines()
        if (cells := [c.strip() for c in line.strip("│ ").split("│")]) and len(cells) == 4
    }
    # 25 messages per partition; the checkpoint has read 10 and 25 of them
    assert rows["0"] == ["25", "10", "15"] and rows["1"] == ["25", "25", "0"]
    assert "last micro-batch: #3 committed" in out
    assert "kafka" in out and "healthy" in out
    assert "raw_ticks holds no day yet" in out  # a fresh prefix: nothing streamed there


@pytest.mark.integration
def test_status_json_is_ok_while_a_stream_holds_the_checkpoint(
    services: Settings, unique_name, tmp_path
):
    env = topic_and_checkpoint(services, unique_name, tmp_path, 30, 7, {0: 15, 1: 5})
    command = [CLI, "status", "--json"]
    # The lease is what a running stream holds (stream_ticks.py takes it before Spark starts);
    # here this test process holds it, a live process as far as status can tell.
    lease = StreamLease(tmp_path)
    lease.acquire(run_id="test-run")
    try:
        held = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    finally:
        lease.release()
    released = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)

    assert held.returncode == 0, held.stdout + held.stderr
    report = json.loads(held.stdout)  # one JSON object, nothing else on stdout
    assert report["ok"] is True and report["problems"] == []
    assert {s["name"]: s["state"] for s in report["services"]} == {
        "kafka": "healthy",
        "s3": "healthy",
    }
    stream = report["stream"]
    assert stream["running"] is True and f"PID {os.getpid()}" in stream["holder"]
    assert stream["last_batch"] == 7 and stream["lag"] == 10
    assert [(p["partition"], p["end_offset"], p["lag"]) for p in stream["partitions"]] == [
        (0, 15, 0),
        (1, 15, 10),
    ]
    assert report["days"] == []

    assert released.returncode == 1
    after = json.loads(released.stdout)
    assert after["ok"] is False and after["stream"]["running"] is False
    assert any("no stream is running" in p for p in after["problems"])


def test_a_bad_setting_is_one_line_naming_the_variable(tmp_path):
    env = {**os.environ, "COMPACTION_ENGINE": "postgres", "SPARK_SHUFFLE_PARTITIONS": "two"}
    result = subprocess.run(
        [CLI, "status"], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 1
    assert result.stdout == "" and "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    named = ("SPARK_SHUFFLE_PARTITIONS='two'", "COMPACTION_ENGINE='postgres'")
    assert any(variable in lines[0] for variable in named), lines[0]
    assert ".env.example" in lines[0]
