"""The simulator on the real broker: each message arrives once, keyed by ticker, as generated."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections import Counter, defaultdict
from datetime import date
from pathlib import Path

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource

from stock_lakehouse.clients.kafka import LIBRDKAFKA_LOGGER
from stock_lakehouse.settings import Settings
from stock_lakehouse.simulator import (
    SimulationOptions,
    generate_history,
    mix_bad_messages,
    read_labels,
    resolve_universe,
    run_simulation,
)
from stock_lakehouse.ticks import DEFAULT_TICKERS

CLI = str(Path(sys.executable).parent / "stock-lakehouse")
END = date(2026, 3, 7)
SUMMARY = re.compile(
    r"sent (?P<sent>[\d,]+) to '(?P<topic>[^']+)' "
    r"\((?P<ticks>[\d,]+) ticks \+ (?P<bad>[\d,]+) bad\), "
    r"acked (?P<acked>[\d,]+), failed (?P<failed>[\d,]+); (?P<events>[\d,]+) events injected"
)


def consumer_for(servers: str, topic: str) -> Consumer:
    return Consumer(
        {
            "bootstrap.servers": servers,
            "group.id": topic,
            "enable.auto.commit": False,
            "logger": LIBRDKAFKA_LOGGER,
        }
    )


def high_watermarks(consumer: Consumer, topic: str) -> dict[int, int]:
    partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    return {
        p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
        for p in partitions
    }


def messages_on(servers: str, topic: str) -> int:
    """Messages in `topic` by its partitions' high watermarks (a fresh topic starts at 0)."""
    consumer = consumer_for(servers, topic)
    try:
        return sum(high_watermarks(consumer, topic).values())
    finally:
        consumer.close()


def consume(servers: str, topic: str) -> list[tuple[int, str, bytes]]:
    """(partition, key, value) of every message in `topic`, up to each partition's end.

    Reading exactly to the high watermarks needs no waiting for stragglers: a duplicate would be
    in the log already, below the watermark.
    """
    consumer = consumer_for(servers, topic)
    received: list[tuple[int, str, bytes]] = []
    try:
        ends = high_watermarks(consumer, topic)
        total = sum(ends.values())
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in ends])
        deadline = time.monotonic() + 60
        while len(received) < total and time.monotonic() < deadline:
            for msg in consumer.consume(num_messages=10_000, timeout=1.0):
                assert msg.error() is None, msg.error()
                received.append((msg.partition(), msg.key().decode(), msg.value()))
    finally:
        consumer.close()
    assert len(received) == total
    return received


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [CLI, *args],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def summary_of(stdout: str) -> dict[str, int | str]:
    match = SUMMARY.search(" ".join(stdout.split()))
    assert match, stdout
    return {k: v if k == "topic" else int(v.replace(",", "")) for k, v in match.groupdict().items()}


@pytest.mark.integration
def test_history_run_arrives_complete_and_keyed_by_ticker(
    services: Settings, unique_name, tmp_path
):
    labels_path = tmp_path / "labels.jsonl"
    options = SimulationOptions(
        mode="history",
        topic=unique_name,
        tickers=DEFAULT_TICKERS,
        seed=17,
        days=2,
        ticks_per_day=10_000,
        end_date=END,
        bad_ratio=0.05,
        event_rate=4.0,
        labels_path=labels_path,
        partitions=3,
        retention_hours=24,
    )
    summary = run_simulation(services, options, interactive=False)
    assert (summary.ticks, summary.failed) == (20_000, 0)
    assert summary.acked == summary.sent == summary.ticks + summary.bad
    assert 0.03 < summary.bad / summary.sent < 0.07

    servers = services.kafka.bootstrap_servers
    received = consume(servers, unique_name)
    assert len(received) == summary.acked  # nothing lost, nothing duplicated

    # Exactly the messages the pure generator makes with the same seed, each keyed by its ticker.
    ticks = generate_history(resolve_universe(DEFAULT_TICKERS), 2, 10_000, 17, END, 4.0)
    expected = list(mix_bad_messages(ticks, 0.05, 17, services.market.ticker_list))
    assert Counter((key, value) for _, key, value in received) == Counter(
        (m.key, m.value) for m in expected
    )
    good = {m.value for m in expected if m.bad is None}
    partitions: dict[str, set[int]] = defaultdict(set)
    last_seq: dict[str, int] = {}
    for partition, key, value in received:
        partitions[key].add(partition)
        if value in good:
            tick = json.loads(value)
            assert tick["ticker"] == key
            assert tick["seq"] == last_seq.get(key, -1) + 1  # in order, per ticker, no gaps
            last_seq[key] = tick["seq"]
    assert all(len(p) == 1 for p in partitions.values()), "a ticker was split over partitions"
    assert sum(last_seq.values()) + len(last_seq) == 20_000

    labels = read_labels(labels_path)
    assert len(labels) == summary.events > 10
    ids = {json.loads(v)["tick_id"] for v in good}
    assert all(label["tick_id"] in ids and label["topic"] == unique_name for label in labels)

    admin = AdminClient({"bootstrap.servers": servers, "logger": LIBRDKAFKA_LOGGER})
    assert len(admin.list_topics(unique_name, timeout=10).topics[unique_name].partitions) == 3
    resource = ConfigResource(ConfigResource.Type.TOPIC, unique_name)
    config = admin.describe_configs([resource])[resource].result(timeout=10)
    assert config["retention.ms"].value == str(24 * 3600 * 1000)


@pytest.mark.integration
def test_live_run_holds_the_rate_and_stamps_ticks_now(services: Settings, unique_name, tmp_path):
    options = SimulationOptions(
        mode="live",
        topic=unique_name,
        tickers=("AAPL", "MSFT", "ZQXW"),  # ZQXW gets a generated profile
        seed=3,
        rate=1000,
        count=1000,
        labels_path=tmp_path / "labels.jsonl",
    )
    started = time.time()
    summary = run_simulation(services, options, interactive=False)
    finished = time.time()
    assert (summary.ticks, summary.bad, summary.acked, summary.failed) == (1000, 0, 1000, 0)
    assert 0.9 < summary.elapsed_s < 5  # 1,000 ticks at 1,000/s
    received = consume(services.kafka.bootstrap_servers, unique_name)
    ticks = [json.loads(value) for _, _, value in received]
    assert len(ticks) == 1000
    assert {t["ticker"] for t in ticks} == {"AAPL", "MSFT", "ZQXW"}
    assert all(started <= t["timestamp"] <= finished for t in ticks)


@pytest.mark.integration
def test_cli_history_exits_0_with_a_summary(services: Settings, unique_name, tmp_path):
    result = run_cli(
        "simulate",
        "--history", "1",
        "--ticks-per-day", "3000",
        "--end-date", "2026-03-07",
        "--seed", "5",
        "--bad-ratio", "0.02",
        "--topic", unique_name,
        "--labels", str(tmp_path / "labels.jsonl"),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    summary = summary_of(result.stdout)
    assert summary["topic"] == unique_name
    assert summary["ticks"] == 3000 and summary["failed"] == 0
    assert summary["acked"] == summary["sent"] == 3000 + summary["bad"]
    assert messages_on(services.kafka.bootstrap_servers, unique_name) == summary["acked"]
    assert len(read_labels(tmp_path / "labels.jsonl")) == summary["events"]
    assert "Traceback" not in result.stderr


@pytest.mark.integration
def test_cli_live_stops_cleanly_on_sigterm(services: Settings, unique_name, tmp_path):
    servers = services.kafka.bootstrap_servers
    labels = str(tmp_path / "labels.jsonl")
    args = ["simulate", "--live", "--rate", "500", "--topic", unique_name, "--labels", labels]
    process = subprocess.Popen(
        [CLI, *args], env=os.environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and messages_on_or_zero(servers, unique_name) < 200:
            time.sleep(0.2)
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, stderr
    summary = summary_of(stdout)
    assert summary["acked"] >= 200 and summary["failed"] == 0
    assert messages_on(servers, unique_name) == summary["acked"]


def messages_on_or_zero(servers: str, topic: str) -> int:
    try:
        return messages_on(servers, topic)
    except Exception:
        return 0  # the topic does not exist yet


def test_unreachable_kafka_gives_a_one_line_error():
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = run_cli(
        "simulate", "--history", "1", "--ticks-per-day", "10",
        env={"KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{port}"},
    )  # fmt: skip
    assert result.returncode == 1
    assert " ".join(result.stderr.split()) == (
        f"error: Kafka is not reachable at 127.0.0.1:{port} - run 'stock-lakehouse services up' "
        "or set KAFKA_BOOTSTRAP_SERVERS"
    )
    assert "Traceback" not in result.stderr + result.stdout
    assert result.stdout == ""
