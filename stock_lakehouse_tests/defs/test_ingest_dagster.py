"""The ingest domain in Dagster: partition reports, the stream supervisor, the Pipes-run stream."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import dagster as dg
import pytest

from spark_jobs.stream_ticks import DeltaBatchWriter
from stock_lakehouse.clients.delta_log import DayStats, TableStats
from stock_lakehouse.defs.ingest.jobs import ingest_stream
from stock_lakehouse.defs.ingest.sensors import (
    partition_events,
    raw_ticks_partitions_sensor,
    restart_delay,
    stream_supervisor,
)
from stock_lakehouse.settings import Settings, StreamSettings
from stock_lakehouse.tables import QUARANTINE, RAW_TICKS, table_uri
from stock_lakehouse.ticks import DEFAULT_TICKERS
from stock_lakehouse_tests.support.ticks import kafka_rows, tick

VALID_DAYS = {"2026-03-02", "2026-03-03"}
# The supervisor reads only the back-off: 30 s, doubling up to 10 min.
RESOURCES = {
    "settings": Settings(
        stream=StreamSettings(restart_backoff_seconds=30, restart_backoff_max_seconds=600)
    )
}


def test_partition_events_report_only_days_that_changed():
    raw = TableStats(3, {"2026-03-02": DayStats(10, 2, 500), "2026-03-03": DayStats(5, 1, 90)})
    quarantine = TableStats(1, {"2026-03-03": DayStats(2, 1, 40), "2019-01-01": DayStats(1, 1, 9)})
    events, state = partition_events(raw, quarantine, {"2026-03-02": [10, 0]}, VALID_DAYS)
    assert [e.partition for e in events] == ["2026-03-03"]
    assert events[0].metadata["rows"].value == 5
    assert events[0].metadata["quarantined_rows"].value == 2
    assert state == {"2026-03-02": [10, 0], "2026-03-03": [5, 2]}
    assert partition_events(raw, quarantine, state, VALID_DAYS)[0] == []


def test_restart_delay_doubles_up_to_the_maximum():
    stream = StreamSettings(restart_backoff_seconds=30, restart_backoff_max_seconds=600)
    assert [restart_delay(n, stream) for n in range(7)] == [0, 30, 60, 120, 240, 480, 600]


def test_supervisor_starts_the_stream_when_absent_and_backs_off_after_failures():
    with dg.instance_for_test() as instance:
        context = dg.build_sensor_context(instance=instance, resources=RESOURCES)
        assert isinstance(stream_supervisor(context), dg.RunRequest)

        running = instance.create_run_for_job(ingest_stream, run_config={})
        instance.report_run_failed(running)  # a failure just now: back off, do not restart yet
        result = stream_supervisor(dg.build_sensor_context(instance=instance, resources=RESOURCES))
        assert isinstance(result, dg.SensorResult)
        assert "restarting in" in result.skip_reason.skip_message

        active = instance.create_run_for_job(ingest_stream, run_config={})
        instance.handle_new_event(
            dg.EventLogEntry(
                error_info=None,
                level="debug",
                user_message="",
                run_id=active.run_id,
                timestamp=datetime.now(UTC).timestamp(),
                dagster_event=dg.DagsterEvent(
                    event_type_value=dg.DagsterEventType.RUN_START.value,
                    job_name=ingest_stream.name,
                ),
            )
        )
        result = stream_supervisor(dg.build_sensor_context(instance=instance, resources=RESOURCES))
        assert "is running" in result.skip_reason.skip_message

        instance.report_run_canceled(instance.get_run_by_id(active.run_id))
        result = stream_supervisor(dg.build_sensor_context(instance=instance, resources=RESOURCES))
        assert "terminated by a person" in result.skip_reason.skip_message


@pytest.mark.integration
def test_partitions_sensor_reports_rows_per_day_from_the_delta_log(spark, services, unique_name):
    settings = services.model_copy(
        update={"s3": services.s3.model_copy(update={"prefix": unique_name})}
    )
    writer = DeltaBatchWriter(
        table_uri(settings.s3, RAW_TICKS, scheme="s3a"),
        table_uri(settings.s3, QUARANTINE, scheme="s3a"),
        list(DEFAULT_TICKERS),
        settings.s3,
    )
    writer.set_query_id("test")
    day1 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC).timestamp()
    payloads = [json.dumps(tick(timestamp=day1 + i)).encode() for i in range(30)]
    payloads += [json.dumps(tick(timestamp=day1 + 86_400 + i)).encode() for i in range(12)]
    # Kafka gets each tick a second after its event: an event a day after Kafka's time would be
    # quarantined as implausible_event_time.
    received = [datetime.fromtimestamp(json.loads(p)["timestamp"] + 1, UTC) for p in payloads]
    payloads += [b"not json"] * 3  # filed under the Kafka timestamp's day, 2026-03-02
    received += [datetime(2026, 3, 2, 16, 0, tzinfo=UTC)] * 3
    writer(kafka_rows(spark, payloads, received), 0)

    with dg.instance_for_test() as instance:
        result = raw_ticks_partitions_sensor(
            dg.build_sensor_context(instance=instance, resources={"settings": settings})
        )
        by_day = {e.partition: e.metadata for e in result.asset_events}
        assert {d: (m["rows"].value, m["quarantined_rows"].value) for d, m in by_day.items()} == {
            "2026-03-02": (30, 3),
            "2026-03-03": (12, 0),
        }
        assert by_day["2026-03-03"]["max_event_time"].value == day1 + 86_400 + 11

        again = raw_ticks_partitions_sensor(
            dg.build_sensor_context(
                instance=instance, cursor=result.cursor, resources={"settings": settings}
            )
        )
        assert again.asset_events == []

        more = [json.dumps(tick(timestamp=day1 + 86_400 + 100 + i)).encode() for i in range(5)]
        more_received = [datetime.fromtimestamp(json.loads(p)["timestamp"] + 1, UTC) for p in more]
        writer(kafka_rows(spark, more, more_received), 1)
        third = raw_ticks_partitions_sensor(
            dg.build_sensor_context(
                instance=instance, cursor=result.cursor, resources={"settings": settings}
            )
        )
        assert [(e.partition, e.metadata["rows"].value) for e in third.asset_events] == [
            ("2026-03-03", 17)
        ]


@pytest.mark.integration
def test_ingest_stream_job_runs_the_stream_through_pipes(services, unique_name, test_state_dir):
    from stock_lakehouse_tests.support.kafka_topics import create_topic
    from stock_lakehouse_tests.support.stream_job import TickProducer, read_tables

    create_topic(services.kafka.bootstrap_servers, unique_name, partitions=2)
    producer = TickProducer(services.kafka.bootstrap_servers, unique_name)
    producer.produce(2_000)
    checkpoint = test_state_dir / unique_name / "checkpoint"
    # The op reads the checkpoint's lease from the settings resource; the stream it starts reads
    # the same values from its environment.
    settings = services.model_copy(
        update={
            "s3": services.s3.model_copy(update={"prefix": unique_name}),
            "stream": services.stream.model_copy(update={"checkpoint_dir": checkpoint}),
        }
    )
    pipes = dg.PipesSubprocessClient(
        env={"S3_PREFIX": unique_name, "STREAM_CHECKPOINT_DIR": str(checkpoint)}
    )
    with dg.instance_for_test() as instance:
        result = ingest_stream.execute_in_process(
            run_config={
                "ops": {"run_stream": {"config": {"available_now": True, "topic": unique_name}}}
            },
            resources={"pipes_subprocess_client": pipes, "settings": settings},
            instance=instance,
        )
        assert result.success
        messages = [
            e.message
            for e in instance.all_logs(result.run_id)
            if e.message and "batch 0:" in e.message
        ]
    assert messages, "the stream's per-batch log lines did not reach the Dagster run"
    raw, bad = read_tables(services, unique_name)
    assert len(raw) + len(bad) == 2_000
    assert len(bad) == sum(1 for reason in producer.acked.values() if reason is not None)
