"""The streaming job end to end on the real broker, S3 store and Spark, across crashes.

The job runs as its own process (`python spark_jobs/stream_ticks.py`), exactly as an operator or
Dagster starts it, and is killed with SIGKILL (process group: Python driver and JVM) mid-stream.
"""

from __future__ import annotations

import json
import os
import signal
import threading

import pytest

from stock_lakehouse_tests.support.kafka_topics import create_topic
from stock_lakehouse_tests.support.stream_job import (
    TickProducer,
    assert_exactly_once,
    batch_files,
    job_env,
    kill_group,
    read_tables,
    start_job,
    wait_mid_batch,
)

pytestmark = pytest.mark.integration


def test_stream_writes_every_offset_once_and_quarantines_bad_ticks(
    services, unique_name, test_state_dir
):
    create_topic(services.kafka.bootstrap_servers, unique_name, partitions=3)
    producer = TickProducer(services.kafka.bootstrap_servers, unique_name)
    producer.produce(5_000)
    checkpoint = test_state_dir / unique_name / "checkpoint"
    env = job_env(services, unique_name, checkpoint)
    results = test_state_dir / f"{unique_name}.results.jsonl"
    job = start_job(
        env,
        unique_name,
        "--available-now",
        "--result-json",
        str(results),
        log=test_state_dir / f"{unique_name}.log",
    )
    try:
        assert job.wait(timeout=600) == 0, (test_state_dir / f"{unique_name}.log").read_text()
    finally:
        kill_group(job, signal.SIGKILL)
    raw, bad = read_tables(services, unique_name)
    assert len(raw) + len(bad) == 5_000
    assert len(bad) == 100
    assert_exactly_once(producer, raw, bad)
    # --result-json: the start, then each batch's counts, as scripts and benchmarks read them.
    events = [json.loads(line) for line in results.read_text().splitlines()]
    assert events[0]["event"] == "started" and events[0]["query_id"]
    batches = events[1:]
    assert {e["event"] for e in batches} == {"batch"}
    assert [e["batch_id"] for e in batches] == list(range(len(batches)))
    assert sum(e["raw_rows"] for e in batches) == len(raw)
    assert sum(e["quarantined_rows"] for e in batches) == len(bad)
    assert [e["at"] for e in events] == sorted(e["at"] for e in events)
    # Each batch's time split in two (the breakdown bench reads them): the parts make the whole.
    for e in batches:
        assert e["raw_append_seconds"] > 0 and e["after_raw_seconds"] >= 0
        assert abs(e["raw_append_seconds"] + e["after_raw_seconds"] - e["seconds"]) < 0.01


def test_stream_killed_twice_mid_batch_then_stopped_loses_and_duplicates_nothing(
    services, unique_name, test_state_dir
):
    create_topic(services.kafka.bootstrap_servers, unique_name, partitions=3)
    producer = TickProducer(services.kafka.bootstrap_servers, unique_name)
    stop = threading.Event()
    feeder = threading.Thread(target=producer.produce_while, args=(stop, 1_000, 40_000))
    feeder.start()
    checkpoint = test_state_dir / unique_name / "checkpoint"
    env = job_env(services, unique_name, checkpoint)
    log = test_state_dir / f"{unique_name}.log"
    try:
        for crash in (1, 2):
            job = start_job(env, unique_name, log=log)
            try:
                wait_mid_batch(
                    checkpoint, after_commits=len(batch_files(checkpoint, "commits")) + 1
                )
            finally:
                kill_group(job, signal.SIGKILL)
            assert job.returncode == -signal.SIGKILL, f"crash {crash}: the job was already gone"

        job = start_job(env, unique_name, log=log)
        try:
            wait_mid_batch(checkpoint, after_commits=len(batch_files(checkpoint, "commits")) + 1)
            # graceful: to the driver only (a JVM that gets SIGTERM itself ends at once)
            os.kill(job.pid, signal.SIGTERM)
            assert job.wait(timeout=180) == 0, log.read_text()[-3000:]
        finally:
            kill_group(job, signal.SIGKILL)
    finally:
        stop.set()
        feeder.join(timeout=60)

    drain_env = {**env, "STREAM_MAX_OFFSETS_PER_TRIGGER": "100000"}
    drain = start_job(drain_env, unique_name, "--available-now", log=log)
    try:
        assert drain.wait(timeout=600) == 0, log.read_text()[-3000:]
    finally:
        kill_group(drain, signal.SIGKILL)
    raw, bad = read_tables(services, unique_name)
    assert len(producer.acked) > 5_000, "the feeder produced too little to test anything"
    assert_exactly_once(producer, raw, bad)
