"""A quiet stream waits for a minimum batch (Kafka's minOffsetsPerTrigger), a backlog never does."""

from __future__ import annotations

import time

import pytest

from spark_jobs.stream_ticks import kafka_source_options, kafka_stream
from stock_lakehouse.settings import Settings
from stock_lakehouse_tests.support.kafka_topics import create_topic
from stock_lakehouse_tests.support.stream_job import TickProducer
from stock_lakehouse_tests.support.waiting import wait_for


def with_stream(settings: Settings, **changes) -> Settings:
    return settings.model_copy(update={"stream": settings.stream.model_copy(update=changes)})


def test_a_live_stream_waits_for_its_minimum_batch_at_most_the_delay(settings: Settings):
    live = kafka_source_options(
        with_stream(settings, min_batch_ticks=500, max_batch_delay_seconds=15), "ticks", False
    )
    assert live["minOffsetsPerTrigger"] == "500"
    assert live["maxTriggerDelay"] == "15000ms"
    assert live["maxOffsetsPerTrigger"] == str(settings.stream.max_offsets_per_trigger)
    assert live["subscribe"] == "ticks"


def test_availablenow_and_a_zero_minimum_never_wait(settings: Settings):
    waiting = with_stream(settings, min_batch_ticks=500)
    drain = kafka_source_options(waiting, "ticks", True)
    every_trigger = kafka_source_options(with_stream(settings, min_batch_ticks=0), "ticks", False)
    for options in (drain, every_trigger):
        assert "minOffsetsPerTrigger" not in options
        assert "maxTriggerDelay" not in options
    assert drain["maxOffsetsPerTrigger"] == str(settings.stream.max_offsets_per_trigger)


@pytest.mark.integration
def test_ticks_below_the_minimum_wait_for_the_next_ones_in_one_batch(
    spark, services: Settings, unique_name: str, tmp_path
):
    """20 ticks after the first batch make no batch of their own: they wait (ten triggers, here)
    until 15 more bring the total over the minimum of 30, and the next batch carries all 35."""
    servers = services.kafka.bootstrap_servers
    create_topic(servers, unique_name, 2)
    producer = TickProducer(servers, unique_name)
    producer.produce(20)
    quiet = with_stream(services, min_batch_ticks=30, max_batch_delay_seconds=600)
    sizes: list[int] = []
    query = (
        kafka_stream(spark, quiet, unique_name)
        .writeStream.foreachBatch(lambda batch, _: sizes.append(batch.count()))
        .option("checkpointLocation", str(tmp_path / "checkpoint"))
        .trigger(processingTime="0.5 seconds")
        .start()
    )
    try:
        # The first batch never waits (none ran before it): it takes what is there.
        wait_for(lambda: sizes == [20], "the first batch of 20 ticks", 120, interval=0.2)
        producer.produce(20)
        time.sleep(5)  # ten triggers that find 20 new ticks, fewer than 30
        assert sizes == [20], f"a batch ran below the minimum: {sizes}"
        producer.produce(15)
        wait_for(lambda: len(sizes) == 2, "the batch over the minimum", 120, interval=0.2)
        assert sizes == [20, 35]
    finally:
        query.stop()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("STREAM_MIN_BATCH_TICKS", "-1"),
        ("STREAM_MIN_BATCH_TICKS", "many"),
        ("STREAM_MAX_BATCH_DELAY_SECONDS", "0"),
        ("STREAM_MAX_BATCH_DELAY_SECONDS", "-5"),
    ],
)
def test_a_negative_minimum_or_a_delay_that_is_not_positive_is_refused_in_one_line(
    refused_settings, name: str, value: str
):
    assert f"{name}='{value}'" in refused_settings(**{name: value})
