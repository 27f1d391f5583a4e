"""The Kafka side of the simulator: producer settings, the topic, and sending with progress."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Producer
from confluent_kafka.admin import NewTopic
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from stock_lakehouse.clients import kafka
from stock_lakehouse.clients.kafka import unreachable
from stock_lakehouse.errors import UserFacingError
from stock_lakehouse.settings import Settings
from stock_lakehouse.simulator.bad_messages import Message, MessageBatch

# Live mode serves progress and delivery reports every this many messages: often enough for a
# smooth bar, rarely enough to cost nothing at thousands of messages/s.
SERVE_EVERY = 2048
# How long Kafka may take to acknowledge what was produced before it counts as failed.
DELIVERY_TIMEOUT_S = 120


def producer_config(settings: Settings, overrides: Mapping[str, Any] | None = None) -> dict:
    """Idempotent producer settings tuned for throughput; `overrides` win over every default."""
    tuned = {
        # acks=all with idempotence: a retried batch is written once and in order, so each
        # ticker's seq arrives without duplicates or gaps.
        "enable.idempotence": True,
        "acks": "all",
        # A tick is ~200 bytes of JSON. Batches close after 10 ms or 1 MB (the broker's default
        # max.message.bytes), not after librdkafka's default 10,000 messages; lz4 shrinks them
        # ~3x for little CPU. kcat with librdkafka's default batching is no faster on 1M ticks
        # (docs/benchmarks.md), so these settings cost nothing.
        "linger.ms": 10,
        "batch.size": 1_000_000,
        "batch.num.messages": 100_000,
        "compression.type": "lz4",
        # 200k queued ticks (~40 MB) let produce() run seconds ahead of the acks before it waits.
        "queue.buffering.max.messages": 200_000,
        "message.timeout.ms": DELIVERY_TIMEOUT_S * 1000,
    }
    # librdkafka's warnings ("Connection refused" while retrying) go to kafka-clients.log.
    return kafka.client_config(settings, overrides={**tuned, **(overrides or {})})


def ensure_topic(
    settings: Settings, topic: str, partitions: int = 3, retention_hours: float = 168.0
) -> bool:
    """Create `topic` unless it exists (True if created); a missing broker is a one-line error.

    An existing topic is left as it is: its partitions and retention are the operator's.
    """
    servers = settings.kafka.bootstrap_servers
    try:
        admin = kafka.admin_client(settings)
        existing = admin.list_topics(timeout=5).topics
    except KafkaException as exc:
        raise unreachable(servers) from exc
    if topic in existing:
        return False
    retention_ms = str(int(retention_hours * 3600 * 1000))
    # replication_factor -1: the broker's default.replication.factor (1 locally, 3 on clusters).
    new = NewTopic(topic, partitions, -1, config={"retention.ms": retention_ms})
    try:
        admin.create_topics([new])[topic].result(timeout=30)
    except KafkaException as exc:
        error = exc.args[0] if exc.args else None
        if isinstance(error, KafkaError) and error.code() == KafkaError.TOPIC_ALREADY_EXISTS:
            return False  # another producer created it meanwhile
        raise UserFacingError(
            f"could not create Kafka topic '{topic}' at {servers}: {exc}"
        ) from exc
    return True


class DeliveryCounter:
    """The delivery callback, called for failed messages only: what is acknowledged is what was
    produced less these and less what is still queued, so no success costs a Python call."""

    def __init__(self) -> None:
        self.failed = 0
        self.first_error: str | None = None

    def __call__(self, err: KafkaError | None, _msg: object) -> None:
        if err is not None:
            self.failed += 1
            self.first_error = self.first_error or err.str()


def make_producer(
    settings: Settings, counter: DeliveryCounter, overrides: Mapping[str, Any] | None = None
) -> Producer:
    """A producer with producer_config() whose delivery reports reach `counter` for failures."""
    config = producer_config(settings, overrides)
    return kafka.producer(
        settings, {**config, "delivery.report.only.error": True, "on_delivery": counter}
    )


@dataclass(frozen=True)
class Pace:
    """Live mode's bounds: `rate` good ticks/s, stopping after `count` ticks or `duration` s."""

    rate: float
    count: int | None = None
    duration: float | None = None


@dataclass(frozen=True)
class SendResult:
    good: int
    bad: int
    acked: int
    failed: int
    elapsed_s: float
    first_error: str | None

    @property
    def sent(self) -> int:
        return self.good + self.bad


def progress_bar(total: int | None, interactive: bool | None = None) -> Progress:
    """A rate-showing progress bar on stderr, shown only when stderr is a terminal."""
    console = Console(stderr=True)
    shown = console.is_terminal if interactive is None else interactive
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]:>8,.0f} ticks/s  acked {task.fields[acked]:,}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=not shown,
    )


def send_batches(
    producer: Producer,
    topic: str,
    batches: Iterable[MessageBatch],
    counter: DeliveryCounter,
    stop: threading.Event,
    progress: Progress,
    total: int | None = None,
) -> SendResult:
    """Produce every batch's records keyed by ticker, as fast as the broker takes them.

    produce() waits while the local queue is full. `stop` (set by SIGINT/SIGTERM) is checked
    between batches, so a batch, and every label its generator wrote, is sent whole.
    """
    tracker = _Tracker(producer, counter, progress, total)
    produce = producer.produce
    for batch in batches:
        for key, value in zip(batch.keys, batch.values, strict=True):
            try:
                produce(topic, value, key)
            except BufferError:
                _produce_when_room(producer, topic, value, key)
        tracker.add(batch.good, batch.bad)
        if stop.is_set():
            break
    return tracker.finish()


def send_messages(
    producer: Producer,
    topic: str,
    messages: Iterable[Message],
    counter: DeliveryCounter,
    stop: threading.Event,
    progress: Progress,
    pace: Pace,
    total: int | None = None,
) -> SendResult:
    """Produce messages one by one keyed by ticker, holding live mode's rate and bounds."""
    tracker = _Tracker(producer, counter, progress, total)
    good = bad = 0
    for n, (key, value, kind) in enumerate(messages, 1):
        try:
            producer.produce(topic, value, key)
        except BufferError:
            _produce_when_room(producer, topic, value, key)
        if kind is None:
            good += 1
        else:
            bad += 1
        if n % SERVE_EVERY == 0:
            tracker.add(good, bad)
            good = bad = 0
        if stop.is_set():
            break
        if kind is None and not _keep_pace(
            pace, tracker.good + good, tracker.started, stop, producer.poll
        ):
            break
    tracker.add(good, bad)
    return tracker.finish()


def _produce_when_room(producer: Producer, topic: str, value: bytes, key: bytes | str) -> None:
    """produce() once the local queue has room: the broker is behind, so let it catch up."""
    while True:
        producer.poll(0.05)
        try:
            producer.produce(topic, value, key)
            return
        except BufferError:
            continue


class _Tracker:
    """Counts what was produced, serves delivery reports and the progress bar, and flushes."""

    def __init__(
        self, producer: Producer, counter: DeliveryCounter, progress: Progress, total: int | None
    ) -> None:
        self.producer, self.counter, self.progress = producer, counter, progress
        self.task = progress.add_task("producing", total=total, rate=0.0, acked=0)
        self.good = self.bad = 0
        self.started = time.monotonic()

    def add(self, good: int, bad: int) -> None:
        self.good += good
        self.bad += bad
        self.producer.poll(0)
        self.refresh()

    def acked(self) -> int:
        return self.good + self.bad - self.counter.failed - len(self.producer)

    def refresh(self) -> None:
        rate = self.good / max(time.monotonic() - self.started, 1e-9)
        self.progress.update(self.task, completed=self.good, rate=rate, acked=self.acked())

    def finish(self) -> SendResult:
        """Flush what was produced (at most the delivery timeout) and count the outcome."""
        deadline = time.monotonic() + DELIVERY_TIMEOUT_S + 10
        while len(self.producer) and time.monotonic() < deadline:
            self.producer.flush(0.5)
            self.refresh()
        self.refresh()
        return SendResult(
            good=self.good,
            bad=self.bad,
            acked=self.acked(),
            # Whatever is still queued after the deadline was never acknowledged.
            failed=self.counter.failed + len(self.producer),
            elapsed_s=time.monotonic() - self.started,
            first_error=self.counter.first_error,
        )


def _keep_pace(
    pace: Pace, good: int, started: float, stop: threading.Event, poll: Callable[[float], int]
) -> bool:
    """Wait until tick `good` + 1 is due; False once the run's bounds are reached."""
    if pace.count is not None and good >= pace.count:
        return False
    due = started + good / pace.rate
    if pace.duration is not None and max(due, time.monotonic()) - started >= pace.duration:
        return False
    # Waiting in poll() serves delivery reports meanwhile. A tick due within 2 ms goes out at
    # once: the average rate holds without a sleep per tick at thousands of ticks/s.
    while (left := due - time.monotonic()) > 0.002 and not stop.is_set():
        poll(min(left, 0.1))
    return not stop.is_set()
