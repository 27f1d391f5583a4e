"""Topics on the test broker, made with the AdminClient as the project makes them."""

from __future__ import annotations

from confluent_kafka.admin import AdminClient, NewTopic

from stock_lakehouse.clients.kafka import LIBRDKAFKA_LOGGER


def create_topic(servers: str, topic: str, partitions: int) -> None:
    admin = AdminClient({"bootstrap.servers": servers, "logger": LIBRDKAFKA_LOGGER})
    admin.create_topics([NewTopic(topic, partitions, 1)])[topic].result(timeout=30)
