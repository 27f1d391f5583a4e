"""The real KRaft broker: keyed messages from an idempotent producer arrive once, in order."""

from __future__ import annotations

import json
import time
from collections import defaultdict

import pytest
from confluent_kafka import Consumer, Producer

from stock_lakehouse.clients.kafka import LIBRDKAFKA_LOGGER
from stock_lakehouse_tests.support.kafka_topics import create_topic

pytestmark = pytest.mark.integration

MESSAGES = 10_000
KEYS = [f"SYM{i}" for i in range(12)]


def test_keyed_messages_arrive_once_and_in_order_per_partition(services, unique_name):
    servers = services.kafka.bootstrap_servers
    create_topic(servers, unique_name, partitions=3)
    producer = Producer(
        {
            "bootstrap.servers": servers,
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 5,
            "logger": LIBRDKAFKA_LOGGER,
        }
    )
    delivered: dict[int, list[tuple[int, str]]] = defaultdict(list)
    failures: list[str] = []

    def on_delivery(err, msg):
        if err is not None:
            failures.append(str(err))
        else:
            delivered[msg.partition()].append((msg.offset(), msg.value().decode()))

    per_key_seq = dict.fromkeys(KEYS, 0)
    for i in range(MESSAGES):
        key = KEYS[i % len(KEYS)]
        value = json.dumps({"key": key, "seq": per_key_seq[key], "i": i})
        per_key_seq[key] += 1
        producer.produce(unique_name, key=key, value=value, on_delivery=on_delivery)
        producer.poll(0)
    assert producer.flush(60) == 0
    assert failures == []

    consumer = Consumer(
        {
            "bootstrap.servers": servers,
            "group.id": unique_name,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "logger": LIBRDKAFKA_LOGGER,
        }
    )
    consumer.subscribe([unique_name])
    received: list[tuple[int, int, str, dict]] = []
    deadline = time.monotonic() + 60
    while len(received) < MESSAGES and time.monotonic() < deadline:
        for msg in consumer.consume(num_messages=1000, timeout=1.0):
            assert msg.error() is None, msg.error()
            received.append(
                (msg.partition(), msg.offset(), msg.key().decode(), json.loads(msg.value()))
            )
    # Nothing beyond the expected count shows up either (a duplicate would arrive late).
    extra = consumer.consume(num_messages=10, timeout=2.0)
    consumer.close()

    assert extra == []
    assert len(received) == MESSAGES
    assert sorted(r[3]["i"] for r in received) == list(range(MESSAGES))

    partitions_of_key: dict[str, set[int]] = defaultdict(set)
    last_seq: dict[str, int] = {}
    last_offset: dict[int, int] = {}
    for partition, offset, key, payload in received:
        partitions_of_key[key].add(partition)
        assert payload["key"] == key
        # per partition: offsets strictly increasing; per key: sequence without gaps
        assert offset > last_offset.get(partition, -1)
        last_offset[partition] = offset
        assert payload["seq"] == last_seq.get(key, -1) + 1
        last_seq[key] = payload["seq"]
    assert all(len(p) == 1 for p in partitions_of_key.values()), "a key was split over partitions"
    assert sum(len(v) for v in delivered.values()) == MESSAGES
