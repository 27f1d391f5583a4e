"""The streaming job end to end on the real broker, S3 store and Spark, across crashes.

The job runs as its own process (`python spark_jobs/stream_ticks.py`), exactly as an operator or
Dagster starts it, and is killed with SIGKILL (process group: Python driver and JVM) mid-stream.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from confluent_kafka import Producer

from stock_lakehouse import duckdb_conn
from stock_lakehouse.services.kafka import LIBRDKAFKA_LOGGER
from stock_lakehouse.settings import PROJECT_ROOT, Settings
from stock_lakehouse.tables import QUARANTINE, RAW_TICKS, table_uri
from stock_lakehouse.ticks import QuarantineReason
from stock_lakehouse_tests.test_kafka_broker import create_topic
from stock_lakehouse_tests.test_stream_validation import tick

pytestmark = pytest.mark.integration

JOB = PROJECT_ROOT / "spark_jobs" / "stream_ticks.py"
BAD = [
    (b'{"ticker": "AAPL", "pri', QuarantineReason.MALFORMED_JSON),
    (json.dumps(tick(ticker="NOPE")).encode(), QuarantineReason.UNKNOWN_TICKER),
    (json.dumps(tick(price=-1.0)).encode(), QuarantineReason.NON_POSITIVE_PRICE),
    (json.dumps(tick(volume="many")).encode(), QuarantineReason.WRONG_TYPE),
]


class TickProducer:
    """Produces good ticks (and every 50th a bad one) and remembers every acknowledged offset."""

    def __init__(self, servers: str, topic: str) -> None:
        self.topic = topic
        self.producer = Producer(
            {
                "bootstrap.servers": servers,
                "enable.idempotence": True,
                "acks": "all",
                "linger.ms": 5,
                "logger": LIBRDKAFKA_LOGGER,
            }
        )
        self.acked: dict[tuple[int, int], str | None] = {}
        self.failed: list[str] = []
        self.rng = random.Random(11)
        self.sent = 0

    def _ack(self, expected_reason: str | None):
        def on_delivery(err, msg):
            if err is not None:
                self.failed.append(str(err))
            else:
                self.acked[(msg.partition(), msg.offset())] = expected_reason

        return on_delivery

    def produce(self, count: int) -> None:
        for _ in range(count):
            self.sent += 1
            if self.sent % 50 == 0:
                payload, reason = BAD[(self.sent // 50) % len(BAD)]
                self.producer.produce(
                    self.topic, key=b"AAPL", value=payload, on_delivery=self._ack(str(reason))
                )
            else:
                symbol = self.rng.choice(["AAPL", "MSFT", "NVDA", "JPM"])
                value = json.dumps(tick(ticker=symbol, seq=self.sent, tick_id=f"{self.sent:032x}"))
                self.producer.produce(
                    self.topic, key=symbol, value=value, on_delivery=self._ack(None)
                )
            self.producer.poll(0)
        assert self.producer.flush(60) == 0

    def produce_while(self, stop: threading.Event, rate: int, limit: int) -> None:
        """About `rate` messages/s until `stop` is set or `limit` were sent."""
        while not stop.is_set() and self.sent < limit:
            self.produce(rate // 10)
            time.sleep(0.1)


def job_env(settings: Settings, prefix: str, checkpoint: Path) -> dict[str, str]:
    return {
        **os.environ,
        "S3_PREFIX": prefix,
        "STREAM_CHECKPOINT_DIR": str(checkpoint),
        "STREAM_TRIGGER_SECONDS": "1",
        "STREAM_MAX_OFFSETS_PER_TRIGGER": "3000",
    }


def start_job(env: dict[str, str], topic: str, *args: str, log: Path) -> subprocess.Popen:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, str(JOB), "--topic", topic, *args],
            env=env,
            cwd=PROJECT_ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the driver and its JVM
        )


def kill_group(proc: subprocess.Popen, sig: int) -> None:
    """Signal the job's whole process group by its PID and wait until every member is gone."""
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        return
    proc.wait(timeout=180)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGKILL)


def batch_files(checkpoint: Path, kind: str) -> set[int]:
    folder = checkpoint / kind
    if not folder.exists():
        return set()
    return {int(p.name) for p in folder.iterdir() if p.name.isdigit()}


def wait_mid_batch(checkpoint: Path, after_commits: int, timeout: float = 120) -> None:
    """Return once `after_commits` batches committed and a later batch is planned, not committed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        commits = batch_files(checkpoint, "commits")
        planned = batch_files(checkpoint, "offsets")
        if len(commits) >= after_commits and planned - commits:
            return
        time.sleep(0.02)
    raise AssertionError(f"no batch in flight after {after_commits} commits within {timeout}s")


def read_tables(settings: Settings, prefix: str):
    s3 = settings.s3.model_copy(update={"prefix": prefix})
    con = duckdb_conn.connect(s3=s3)
    raw = con.execute(
        f"SELECT kafka_partition, kafka_offset FROM delta_scan('{table_uri(s3, RAW_TICKS)}')"
    ).fetchall()
    bad = con.execute(
        f"SELECT kafka_partition, kafka_offset, reason "
        f"FROM delta_scan('{table_uri(s3, QUARANTINE)}')"
    ).fetchall()
    return raw, bad


def assert_exactly_once(producer: TickProducer, raw, bad) -> None:
    assert producer.failed == []
    seen = [(p, o) for p, o in raw] + [(p, o) for p, o, _ in bad]
    duplicates = len(seen) - len(set(seen))
    missing = set(producer.acked) - set(seen)
    unexpected = set(seen) - set(producer.acked)
    assert (duplicates, len(missing), len(unexpected)) == (0, 0, 0)
    assert {(p, o): r for p, o, r in bad} == {
        key: reason for key, reason in producer.acked.items() if reason is not None
    }


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
