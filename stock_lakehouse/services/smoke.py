"""A quick end-to-end probe of the running services: proof for `make demo` that each one works."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

from confluent_kafka import KafkaException
from confluent_kafka.admin import NewTopic

from stock_lakehouse.clients import kafka
from stock_lakehouse.clients.kafka import unreachable
from stock_lakehouse.clients.s3 import s3_answers, s3_client, store_unreachable
from stock_lakehouse.errors import UserFacingError
from stock_lakehouse.settings import Settings

SMOKE_TOPIC = "stock-lakehouse-smoke"


@dataclass(frozen=True)
class SmokeResult:
    check: str
    detail: str
    seconds: float


def kafka_round_trip(settings: Settings, messages: int = 1000) -> SmokeResult:
    """Produce `messages` keyed messages idempotently and read every one of them back."""
    started = time.monotonic()
    servers = settings.kafka.bootstrap_servers
    # librdkafka's warnings go to kafka-clients.log, not to the user (the smoke test says it).
    admin = kafka.admin_client(settings)
    try:  # a missing broker: one line after 5 s, not librdkafka's timeout a minute later
        admin.list_topics(timeout=5)
    except KafkaException as exc:
        raise unreachable(servers) from exc
    for future in admin.create_topics([NewTopic(SMOKE_TOPIC, 1, 1)]).values():
        try:
            future.result()
        except KafkaException as exc:
            if "TOPIC_ALREADY_EXISTS" not in str(exc):
                raise
    run_id = uuid.uuid4().hex
    producer = kafka.producer(settings, {"enable.idempotence": True, "acks": "all"})
    for i in range(messages):
        producer.produce(SMOKE_TOPIC, key=f"{run_id}-{i % 10}", value=f"{run_id}:{i}")
    if producer.flush(30) != 0:
        raise UserFacingError(f"Kafka at {servers} did not acknowledge the smoke messages")
    consumer = kafka.consumer(settings, run_id, overrides={"auto.offset.reset": "earliest"})
    consumer.subscribe([SMOKE_TOPIC])
    seen: set[str] = set()
    deadline = time.monotonic() + 30
    try:
        while len(seen) < messages and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None or message.error():
                continue
            value = message.value().decode()
            if value.startswith(run_id):
                seen.add(value)
    finally:
        consumer.close()
    if len(seen) != messages:
        raise UserFacingError(f"Kafka smoke test read {len(seen)} of {messages} messages back")
    return SmokeResult("kafka", f"{messages} messages produced and consumed", _since(started))


def s3_round_trip(settings: Settings) -> SmokeResult:
    started = time.monotonic()
    client = s3_client(settings.s3)
    key = f"_smoke/{uuid.uuid4().hex}.txt"
    body = b"stock-lakehouse smoke test"
    if not s3_answers(settings.s3):
        raise store_unreachable(settings.s3)
    client.put_object(Bucket=settings.s3.bucket, Key=key, Body=body)
    read = client.get_object(Bucket=settings.s3.bucket, Key=key)["Body"].read()
    client.delete_object(Bucket=settings.s3.bucket, Key=key)
    if read != body:
        raise UserFacingError("S3 smoke test read back different bytes than it wrote")
    return SmokeResult("s3", f"put/get/delete in {settings.s3.uri()}", _since(started))


def _since(started: float) -> float:
    return round(time.monotonic() - started, 2)
