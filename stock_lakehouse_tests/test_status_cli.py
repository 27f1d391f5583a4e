"""`stock-lakehouse status` against the real test services: lag per partition from a checkpoint."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from confluent_kafka import Producer

from stock_lakehouse.services.kafka import LIBRDKAFKA_LOGGER
from stock_lakehouse.settings import Settings
from stock_lakehouse.simulator.producer import ensure_topic
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


@pytest.mark.integration
def test_status_shows_services_lag_per_partition_and_last_batch(
    services: Settings, unique_name, tmp_path
):
    ensure_topic(services, unique_name, partitions=2)
    producer = Producer(
        {"bootstrap.servers": services.kafka.bootstrap_servers, "logger": LIBRDKAFKA_LOGGER}
    )
    for i in range(50):
        producer.produce(unique_name, value=b"{}", partition=i % 2)
    assert producer.flush(30) == 0
    write_batch(tmp_path, 3, unique_name, {0: 10, 1: 25}, done=True)
    env = {
        **os.environ,
        "KAFKA_TICKS_TOPIC": unique_name,
        "STREAM_CHECKPOINT_DIR": str(tmp_path),
        "S3_PREFIX": unique_name,
        "COLUMNS": "200",
    }
    result = subprocess.run(
        [CLI, "status"], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Traceback" not in out + result.stderr
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
