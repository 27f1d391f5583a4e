"""Every Kafka client the project makes (admin, producer, consumer) is built here.

They share one base configuration: the bootstrap servers from the settings and a logger for
librdkafka's own log lines. A probe (a health check, `status`) reports a missing broker itself,
so its clients log nowhere; every other client's warnings go to the rotated kafka-clients.log.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from logging.handlers import RotatingFileHandler
from typing import Any

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from stock_lakehouse.errors import UserFacingError
from stock_lakehouse.log_rotation import LogRotation
from stock_lakehouse.settings import Settings

# librdkafka's own log lines (a refused connection, a broker that went away) are not printed for
# the user - the commands say what is wrong in one line - but the warnings and worse are kept in
# <state dir>/logs/kafka-clients.log (kafka_client_logger), so a broker problem leaves a trace.
LIBRDKAFKA_LOGGER = logging.getLogger("stock_lakehouse.librdkafka")
LIBRDKAFKA_LOGGER.setLevel(logging.WARNING)
LIBRDKAFKA_LOGGER.addHandler(logging.NullHandler())  # never Python's last-resort stderr
LIBRDKAFKA_LOGGER.propagate = False
# Probes whose failure the caller reports itself (health checks every 0.25 s, status).
PROBE_LOGGER = logging.getLogger("stock_lakehouse.librdkafka.probe")
PROBE_LOGGER.addHandler(logging.NullHandler())
PROBE_LOGGER.propagate = False


def kafka_client_logger(settings: Settings) -> logging.Logger:
    """The logger to give a Kafka client: its warnings go to the rotated kafka-clients.log."""
    path = (settings.local.state_dir / "logs" / "kafka-clients.log").absolute()
    if not any(getattr(h, "baseFilename", None) == str(path) for h in LIBRDKAFKA_LOGGER.handlers):
        path.parent.mkdir(parents=True, exist_ok=True)
        rotation = LogRotation.from_settings(settings)
        handler = RotatingFileHandler(
            path, maxBytes=rotation.max_bytes, backupCount=rotation.backups, encoding="utf-8"
        )
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        LIBRDKAFKA_LOGGER.addHandler(handler)
    return LIBRDKAFKA_LOGGER


def client_config(
    settings: Settings, probe: bool = False, overrides: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The configuration every client starts from, with `overrides` on top."""
    logger = PROBE_LOGGER if probe else kafka_client_logger(settings)
    return {
        "bootstrap.servers": settings.kafka.bootstrap_servers,
        "logger": logger,
        **(overrides or {}),
    }


def admin_client(settings: Settings, probe: bool = False) -> AdminClient:
    return AdminClient(client_config(settings, probe))


def producer(settings: Settings, overrides: Mapping[str, Any] | None = None) -> Producer:
    return Producer(client_config(settings, overrides=overrides))


def consumer(
    settings: Settings,
    group_id: str,
    probe: bool = False,
    overrides: Mapping[str, Any] | None = None,
) -> Consumer:
    """A consumer of group `group_id` that commits nothing unless `overrides` say so."""
    config = {"group.id": group_id, "enable.auto.commit": False, **(overrides or {})}
    return Consumer(client_config(settings, probe, config))


def end_offsets(
    settings: Settings, topic: str, timeout: float = 10.0, probe: bool = False
) -> dict[int, int]:
    """Each partition's high watermark (the next offset to be written); {} for a missing topic.

    Raises KafkaException when the broker does not answer within `timeout`.
    """
    client = consumer(settings, f"{topic}-end-offsets", probe, {"log.connection.close": False})
    try:
        metadata = client.list_topics(topic, timeout=timeout).topics.get(topic)
        if metadata is None or metadata.error is not None:
            return {}
        return {
            p: client.get_watermark_offsets(TopicPartition(topic, p), timeout=timeout)[1]
            for p in sorted(metadata.partitions)
        }
    finally:
        client.close()


def unreachable(servers: str) -> UserFacingError:
    """The one line every command prints when no broker answers at KAFKA_BOOTSTRAP_SERVERS."""
    return UserFacingError(
        f"Kafka is not reachable at {servers} - run 'stock-lakehouse services up' "
        "or set KAFKA_BOOTSTRAP_SERVERS"
    )


def broker_answers(bootstrap_servers: str, timeout: float = 1.0) -> bool:
    """True when the broker answers a metadata request."""
    admin = AdminClient({"bootstrap.servers": bootstrap_servers, "logger": PROBE_LOGGER})
    try:
        admin.list_topics(timeout=timeout)
    except Exception:
        return False
    return True
