"""Outages of the real services while the simulator and the stream run, and hostile messages.

Each outage stops the session's own Kafka broker or S3 store for 30 s (and starts it again, also
when the test fails), with the live simulator producing and the stream job running. A stream that
fails during the outage is started again on its checkpoint, which is what the stream_supervisor
sensor does in a deployment. Afterwards every offset Kafka holds must be in raw_ticks or
quarantine exactly once. docs/failure-and-recovery.md lists these scenarios.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from confluent_kafka import KafkaException, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from stock_lakehouse.clients.kafka import LIBRDKAFKA_LOGGER, end_offsets
from stock_lakehouse.services.manager import LocalServices
from stock_lakehouse.settings import Settings
from stock_lakehouse.simulator.producer import ensure_topic
from stock_lakehouse.ticks import QuarantineReason
from stock_lakehouse_tests.support.lake import assert_every_reader_reads_every_column
from stock_lakehouse_tests.support.stream_job import (
    batch_files,
    job_env,
    kill_group,
    read_tables,
    start_job,
)
from stock_lakehouse_tests.support.ticks import EVENT, tick
from stock_lakehouse_tests.support.waiting import wait_for

pytestmark = pytest.mark.integration

CLI = Path(sys.executable).parent / "stock-lakehouse"
OUTAGE_SECONDS = 30
R = QuarantineReason


def served_end_offsets(services: Settings, topic: str, partitions: int) -> dict[int, int]:
    """End offsets of every partition, once a restarted broker serves them all again.

    Right after a restart the topic's metadata can carry an error while leaders are elected;
    end_offsets then answers {} (as for a missing topic), which would expect no rows at all.
    """
    seen: list[dict[int, int]] = [{}]

    def every_partition() -> dict[int, int]:
        seen[0] = {}  # what a KafkaException leaves, as before the shared wait
        seen[0] = end_offsets(services, topic, timeout=30)
        return seen[0] if len(seen[0]) == partitions else {}

    return wait_for(
        every_partition,
        f"{topic}'s {partitions} partitions to be served",
        120,
        describe=lambda: f"last answer: {seen[0]}",
        interval=1,
        ignoring=(KafkaException,),
    )


def run_through_outage(services: Settings, topic: str, state: Path, stopped: str) -> int:
    """Simulator + stream, `stopped` ("kafka" or "s3") down for 30 s; returns stream restarts."""
    ensure_topic(services, topic, partitions=3)
    state.mkdir(parents=True)
    log = state / "stream.log"
    checkpoint = state / "checkpoint"
    env = job_env(services, topic, checkpoint)
    simulator = subprocess.Popen(
        [
            str(CLI),
            *("simulate", "--live", "--rate", "100", "--duration", str(OUTAGE_SECONDS + 45)),
            *("--topic", topic, "--seed", "3", "--bad-ratio", "0.02"),
            *("--labels", str(state / "labels.jsonl")),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    service = getattr(LocalServices(services), stopped)
    job = start_job(env, topic, log=log)
    restarts = 0
    try:
        wait_for(
            lambda: len(batch_files(checkpoint, "commits")) >= 2, "two batches", 180, interval=1
        )
        service.stop()
        time.sleep(OUTAGE_SECONDS)
        service.start()
        output, _ = simulator.communicate(timeout=300)
        assert simulator.returncode == 0, output
        assert re.search(r"failed 0\b", output), output  # the producer lost nothing

        ends = served_end_offsets(services, topic, partitions=3)
        expected = sum(ends.values())

        def caught_up() -> bool:
            nonlocal job, restarts
            if job.poll() is not None:  # failed during the outage: the supervisor restarts it
                restarts += 1
                job = start_job(env, topic, log=log)
            raw, bad = read_tables(services, topic)
            return len(raw) + len(bad) >= expected

        wait_for(caught_up, f"the stream to catch up with {expected} offsets", 300, interval=1)
        os.kill(job.pid, signal.SIGTERM)  # graceful: the batch in flight commits
        job.wait(timeout=180)
    finally:
        if simulator.poll() is None:
            simulator.kill()
            simulator.wait(timeout=30)
        kill_group(job, signal.SIGKILL)
        service.start()  # idempotent: the rest of the session needs it

    raw, bad = read_tables(services, topic)
    seen = [(p, o) for p, o in raw] + [(p, o) for p, o, _ in bad]
    assert len(seen) == len(set(seen)), "an offset was written twice"
    assert set(seen) == {(p, o) for p, end in ends.items() for o in range(end)}
    assert bad, "the simulator's bad messages should be quarantined"
    return restarts


def test_kafka_down_for_30s_loses_and_duplicates_nothing(services, unique_name, test_state_dir):
    run_through_outage(services, unique_name, test_state_dir / unique_name, "kafka")


def test_s3_store_down_for_30s_loses_and_duplicates_nothing(services, unique_name, test_state_dir):
    run_through_outage(services, unique_name, test_state_dir / unique_name, "s3")


# Hostile messages: what arrives from the outside, each with where it must land.
MIB = 1024 * 1024
HOSTILE: list[tuple[str, bytes | None, bytes | None, str | None]] = [
    # (name, key, value, quarantine reason; None = a valid tick for raw_ticks)
    (
        "binary garbage",
        b"AAPL",
        bytes(random.Random(1).randrange(256) for _ in range(512)),
        R.MALFORMED_JSON,
    ),
    ("1 MiB of text", b"AAPL", b"x" * MIB, R.MALFORMED_JSON),
    ("1 MiB in a field", b"AAPL", json.dumps(tick(price="x" * MIB)).encode(), R.WRONG_TYPE),
    ("wrong types", b"AAPL", json.dumps(tick(volume=[1, 2], seq={"a": 1})).encode(), R.WRONG_TYPE),
    (
        "unicode ticker",
        b"AAPL",
        json.dumps(tick(ticker="ÄÄPL🚀")).encode(),
        R.UNKNOWN_TICKER,
    ),
    ("unicode exchange", b"MSFT", json.dumps(tick(ticker="MSFT", exchange="東京")).encode(), None),
    ("null key", None, json.dumps(tick(ticker="NVDA", tick_id="b" * 32)).encode(), None),
    ("null value", b"AAPL", None, R.MALFORMED_JSON),
    ("empty value", b"AAPL", b"", R.MALFORMED_JSON),
    ("JSON array", b"AAPL", b"[1, 2, 3]", R.MALFORMED_JSON),
    ("NUL bytes", b"AAPL", b'{"ticker": "AA\x00PL"}', R.MALFORMED_JSON),
    # The strict contract (exactly one JSON object, UTF-8, each field of its JSON type).
    ("trailing garbage", b"AAPL", json.dumps(tick()).encode() + b" xyz", R.MALFORMED_JSON),
    ("two objects", b"AAPL", json.dumps(tick()).encode() * 2, R.MALFORMED_JSON),
    ("single quotes", b"AAPL", json.dumps(tick()).replace('"', "'").encode(), R.MALFORMED_JSON),
    ("trailing NUL", b"AAPL", json.dumps(tick()).encode() + b"\x00", R.MALFORMED_JSON),
    ("object exchange", b"AAPL", json.dumps(tick(exchange={"a": 1})).encode(), R.WRONG_TYPE),
    ("array exchange", b"AAPL", json.dumps(tick(exchange=[1])).encode(), R.WRONG_TYPE),
    ("object tick_id", b"AAPL", json.dumps(tick(tick_id={"x": 1})).encode(), R.WRONG_TYPE),
    ("object ticker", b"AAPL", json.dumps(tick(ticker={"a": 1})).encode(), R.WRONG_TYPE),
    ("array ticker", b"AAPL", json.dumps(tick(ticker=["AAPL"])).encode(), R.WRONG_TYPE),
    (
        "invalid UTF-8 exchange",
        b"AAPL",
        json.dumps(tick(exchange="XX")).encode().replace(b"XX", b"\xff\xfe"),
        R.MALFORMED_JSON,
    ),
    (
        "overlong UTF-8 exchange",
        b"AAPL",
        json.dumps(tick(exchange="XX")).encode().replace(b"XX", b"\xc0\xaf"),
        R.MALFORMED_JSON,
    ),
    (
        "invalid UTF-8 ticker",
        b"\xff",
        json.dumps(tick(ticker="XX")).encode().replace(b"XX", b"\xff"),
        R.MALFORMED_JSON,
    ),
    # A long non-ASCII string: Delta's 32-character stats prefix must not break a reader.
    (
        "long unicode exchange",
        b"AAPL",
        json.dumps(tick(exchange="x" * 31 + "🚀" * 3)).encode(),
        None,
    ),
    # Every timestamp edge: none may become a partition value a reader cannot parse.
    *[
        (
            f"timestamp {ts!r}",
            b"AAPL",
            json.dumps(tick(timestamp=ts)).encode(),
            R.IMPLAUSIBLE_EVENT_TIME,
        )
        for ts in (0, -1, 1e20, -1e20, EVENT * 1e3, EVENT * 1e6, 4_102_444_800.0, 2.0**63)
    ],
]


def test_hostile_messages_are_quarantined_with_reasons_and_the_stream_goes_on(
    services, unique_name, test_state_dir
):
    admin = AdminClient(
        {"bootstrap.servers": services.kafka.bootstrap_servers, "logger": LIBRDKAFKA_LOGGER}
    )
    # One partition keeps offsets in the order below; 2 MiB messages are allowed on this topic.
    topic = NewTopic(unique_name, 1, 1, config={"max.message.bytes": str(2 * MIB)})
    admin.create_topics([topic])[unique_name].result(timeout=30)
    producer = Producer(
        {
            "bootstrap.servers": services.kafka.bootstrap_servers,
            "message.max.bytes": 2 * MIB + 1024,
            "enable.idempotence": True,
            "logger": LIBRDKAFKA_LOGGER,
        }
    )
    expected: dict[int, str | None] = {}
    offsets = iter(range(10_000))
    for round_ in range(2):  # twice, with good ticks in between: the stream must go on
        for _name, key, value, reason in HOSTILE:
            producer.produce(unique_name, key=key, value=value)
            expected[next(offsets)] = None if reason is None else str(reason)
        for i in range(20):
            good = tick(ticker="JPM", seq=i, tick_id=f"{round_}{i:031d}")
            producer.produce(unique_name, key=b"JPM", value=json.dumps(good).encode())
            expected[next(offsets)] = None
    assert producer.flush(60) == 0

    state = test_state_dir / unique_name
    log = state / "stream.log"
    state.mkdir(parents=True)
    job = start_job(
        job_env(services, unique_name, state / "checkpoint"),
        unique_name,
        "--available-now",
        log=log,
    )
    try:
        assert job.wait(timeout=600) == 0, log.read_text()[-3000:]
    finally:
        kill_group(job, signal.SIGKILL)
    raw, bad = read_tables(services, unique_name)
    landed = {o: None for _, o in raw} | {o: r for _, o, r in bad}
    assert len(raw) + len(bad) == len(landed) == len(expected)
    names = [name for name, *_ in HOSTILE] + ["good"] * 20
    assert {o: (names[o % len(names)], r) for o, r in landed.items()} == {
        o: (names[o % len(names)], r) for o, r in expected.items()
    }
    assert_every_reader_reads_every_column(services, unique_name, len(raw), len(bad))


def test_dbt_failure_on_one_day_leaves_the_published_marts_and_a_rerun_repairs_it(
    services, test_state_dir, unique_name, monkeypatch
):
    """daily_marts (the real asset) for one day fails its tests: nothing is published, the other
    days are untouched even in the build database, and a rerun after the data is fixed repairs it.
    """
    import dagster as dg
    import duckdb

    from stock_lakehouse.defs.marts.assets import daily_marts
    from stock_lakehouse.defs.resources import build_resources
    from stock_lakehouse.marts.publish import publish
    from stock_lakehouse.settings import get_settings
    from stock_lakehouse_tests.support.marts_seed import DAYS, make_ticks, new_lakehouse

    lakehouse = new_lakehouse(services, test_state_dir, unique_name)
    ticks = make_ticks(seed=21)
    lakehouse.write_ticks(ticks)
    lakehouse.dbt("build")
    published = lakehouse.state_dir / "published.duckdb"
    publish(lakehouse.database, published)
    for name, value in {
        "S3_PREFIX": unique_name,
        "MARTS_BUILD_DB": str(lakehouse.database),
        "MARTS_PUBLISHED_DB": str(published),
    }.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()

    def marts(path: Path) -> dict[str, list]:
        with duckdb.connect(str(path), read_only=True) as con:
            return {
                day.isoformat(): con.execute(
                    "SELECT * FROM fct_bars_1m WHERE trade_date = ? ORDER BY ticker, bar_start",
                    [day],
                ).fetchall()
                for day in DAYS
            }

    def run_day(day) -> dg.ExecuteInProcessResult:
        return dg.materialize(
            [daily_marts],
            partition_key=day.isoformat(),
            resources=build_resources(get_settings()),
            raise_on_error=False,
        )

    try:
        before = marts(published)
        day2 = DAYS[1]
        # compacted_ticks breaks its promise for day 2: one tick twice (stg_ticks' unique test)
        twice = ticks[ticks.trade_date == day2].head(1)
        lakehouse.write_ticks(twice)
        assert not run_day(day2).success
        assert marts(published) == before  # nothing was published
        build = marts(lakehouse.database)
        assert build[DAYS[0].isoformat()] == before[DAYS[0].isoformat()]
        assert build[DAYS[2].isoformat()] == before[DAYS[2].isoformat()]

        lakehouse.write_ticks(ticks[ticks.trade_date == day2], predicate=f"trade_date = '{day2}'")
        rerun = run_day(day2)
        assert rerun.success
        assert marts(published) == before  # the day is rebuilt to what it was
        # each model's materialization carries its row count and column schema for the UI
        materialized = {
            m.asset_key.path[-1]: m.metadata
            for m in rerun.asset_materializations_for_node("daily_marts")
        }
        bars = materialized["fct_bars_1m"]
        with duckdb.connect(str(published), read_only=True) as con:
            rows = con.execute("SELECT count(*) FROM fct_bars_1m").fetchone()[0]
        assert bars["dagster/row_count"].value == rows
        columns = [c.name for c in bars["dagster/column_schema"].value.columns]
        assert columns == [
            "ticker",
            "trade_date",
            "bar_start",
            "open",
            "high",
            "low",
            "close",
            "volume",
            "vwap",
            "trade_count",
        ]
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
