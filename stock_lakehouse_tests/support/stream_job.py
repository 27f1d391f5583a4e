"""The streaming job as its own process: start it, produce to it, kill it, read what it wrote."""

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

from confluent_kafka import Producer

from stock_lakehouse.clients import duckdb_conn
from stock_lakehouse.clients.kafka import LIBRDKAFKA_LOGGER
from stock_lakehouse.settings import PROJECT_ROOT, Settings
from stock_lakehouse.tables import QUARANTINE, RAW_TICKS, table_uri
from stock_lakehouse.ticks import QuarantineReason
from stock_lakehouse_tests.support.ticks import tick

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
