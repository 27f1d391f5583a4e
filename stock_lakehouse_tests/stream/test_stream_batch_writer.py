"""The stream's batch writer: one pass when nothing is bad, each batch once (real S3 store)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from spark_jobs.stream_ticks import (
    BatchResult,
    DeltaBatchWriter,
    LiveDayCompactor,
    create_tables,
    parse_ticks,
    valid_ticks,
)
from stock_lakehouse.clients.delta_log import table_stats
from stock_lakehouse.tables import QUARANTINE, RAW_TICKS, table_uri
from stock_lakehouse.ticks import DEFAULT_TICKERS
from stock_lakehouse_tests.support.ticks import kafka_rows, tick

pytestmark = pytest.mark.integration  # real S3 store and Spark


def versions(spark, *uris: str) -> list[int]:
    return [spark.sql(f"DESCRIBE HISTORY delta.`{u}` LIMIT 1").first()["version"] for u in uris]


def test_batches_without_bad_rows_commit_raw_only_and_a_replayed_batch_writes_nothing(
    services, spark, unique_name
):
    s3 = services.s3.model_copy(update={"prefix": unique_name})
    raw_uri, bad_uri = (table_uri(s3, t, scheme="s3a") for t in (RAW_TICKS, QUARANTINE))
    writer = DeltaBatchWriter(raw_uri, bad_uri, list(DEFAULT_TICKERS), s3)
    writer.set_query_id("test-query")
    results: list[BatchResult] = []
    writer.on_batch = results.append

    create_tables(spark, writer)  # both exist before any batch: quarantine readers need it
    assert versions(spark, raw_uri, bad_uri) == [0, 0]
    good = [json.dumps(tick(seq=i, tick_id=f"{i:032d}")).encode() for i in range(5)]

    writer(kafka_rows(spark, good), 0)
    assert versions(spark, raw_uri, bad_uri) == [1, 0]  # no empty quarantine commit
    writer(kafka_rows(spark, [*good, b"not json", b"{}"]), 1)
    assert versions(spark, raw_uri, bad_uri) == [2, 1]
    writer(kafka_rows(spark, [*good, b"not json", b"{}"]), 1)  # replayed after a crash
    assert versions(spark, raw_uri, bad_uri) == [2, 1]

    assert [(r.batch_id, r.raw_rows, r.quarantined_rows, r.replayed) for r in results] == [
        (0, 5, 0, False),
        (1, 5, 2, False),
        (1, 0, 0, True),
    ]
    raw = spark.read.format("delta").load(raw_uri).count()
    bad = spark.read.format("delta").load(bad_uri).count()
    assert (raw, bad) == (10, 2)


def partition_files(s3) -> dict[str, int]:
    """Live files per trade_date of raw_ticks, from its Delta log (delta-rs)."""
    return {
        day: stats.files for day, stats in table_stats(table_uri(s3, RAW_TICKS), s3).days.items()
    }


def test_the_live_day_is_compacted_between_batches_without_touching_rows_or_other_days(
    services, spark, unique_name
):
    from delta.tables import DeltaTable

    s3 = services.s3.model_copy(update={"prefix": unique_name})
    raw_uri, bad_uri = (table_uri(s3, t, scheme="s3a") for t in (RAW_TICKS, QUARANTINE))
    writer = DeltaBatchWriter(raw_uri, bad_uri, list(DEFAULT_TICKERS), s3)
    writer.set_query_id("test-live-query")
    clock = [0.0]
    today = datetime.now(UTC).date().isoformat()
    writer.live_compactor = LiveDayCompactor(
        raw_uri, 60, clock=lambda: clock[0], today=lambda: today
    )
    create_tables(spark, writer)

    now = datetime.now(UTC)
    old_event = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
    history = [json.dumps(tick(seq=i, timestamp=old_event.timestamp())).encode() for i in range(6)]
    writer(kafka_rows(spark, history, [old_event] * 6).repartition(3), 0)
    for batch in range(1, 6):  # five live batches of 3 files each, 45 s apart on the clock
        live = [
            json.dumps(tick(seq=10 * batch + i, timestamp=now.timestamp())).encode()
            for i in range(6)
        ]
        writer(kafka_rows(spark, live, [now] * 6).repartition(3), batch)
        if batch == 2:
            before = partition_files(s3)
            assert before[today] == 6 and before["2026-03-02"] == 3  # nothing compacted yet
        clock[0] += 45  # a pass is due every 60 s: it runs after batch 3 and after batch 5

    table = spark.read.format("delta").load(raw_uri)
    assert table.where(f"trade_date = '{today}'").count() == 30
    assert table.where("trade_date = '2026-03-02'").count() == 6
    files = partition_files(s3)
    # The second pass merged the first one's file with the 6 files of batches 4 and 5.
    assert files[today] == 1 and files["2026-03-02"] == 3
    history_ops = DeltaTable.forPath(spark, raw_uri).history().collect()
    optimizes = [h for h in history_ops if h["operation"] == "OPTIMIZE"]
    assert len(optimizes) == 2
    assert all(today in h["operationParameters"]["predicate"] for h in optimizes)

    # A batch replayed after the passes, by a restarted writer, is still skipped: the log is
    # read past the OPTIMIZE commits to the last append of the query.
    restarted = DeltaBatchWriter(raw_uri, bad_uri, list(DEFAULT_TICKERS), s3)
    restarted.set_query_id("test-live-query")
    restarted(kafka_rows(spark, live, [now] * 6), 5)
    assert spark.read.format("delta").load(raw_uri).count() == 36


def test_a_restarted_writer_skips_exactly_the_appends_that_had_committed_before_the_crash(
    services, spark, unique_name
):
    """A crash between the raw and the quarantine append; a crash after both; an append of
    the former kind (Delta txnAppId); a new query whose batch ids restart at 0."""
    s3 = services.s3.model_copy(update={"prefix": unique_name})
    raw_uri, bad_uri = (table_uri(s3, t, scheme="s3a") for t in (RAW_TICKS, QUARANTINE))
    planned = datetime.now(UTC).timestamp()  # every batch "planned" now: the bound and clock

    def started(query: str) -> tuple[DeltaBatchWriter, list[BatchResult]]:
        writer = DeltaBatchWriter(
            raw_uri, bad_uri, list(DEFAULT_TICKERS), s3, batch_planned_at=lambda batch_id: planned
        )
        writer.set_query_id(query)
        results: list[BatchResult] = []
        writer.on_batch = results.append
        return writer, results

    def counts() -> tuple[int, int]:
        return tuple(spark.read.format("delta").load(u).count() for u in (raw_uri, bad_uri))

    first, _ = started("q1")
    create_tables(spark, first)
    good = [json.dumps(tick(seq=i, tick_id=f"{i:032d}")).encode() for i in range(5)]
    mixed = [*good, b"not json", b"{}"]
    first(kafka_rows(spark, good), 0)

    # Batch 1: the raw append commits, then the process dies before the quarantine append.
    real_append = first._append

    def dies_before_quarantine(frame, uri, batch_id):
        if uri == bad_uri:
            raise RuntimeError("killed")
        real_append(frame, uri, batch_id)

    first._append = dies_before_quarantine
    with pytest.raises(RuntimeError, match="killed"):
        first(kafka_rows(spark, mixed), 1)
    assert counts() == (10, 0)

    second, results = started("q1")
    second(kafka_rows(spark, mixed), 1)  # the replay: raw skipped, quarantine written
    second(kafka_rows(spark, mixed), 2)
    assert counts() == (15, 4)
    assert [(r.batch_id, r.raw_rows, r.quarantined_rows, r.replayed) for r in results] == [
        (1, 0, 0, True),
        (2, 5, 2, False),
    ]

    # Batch 2 again after a crash that followed both of its appends: nothing written.
    third, results = started("q1")
    third(kafka_rows(spark, mixed), 2)
    assert counts() == (15, 4)
    assert [(r.batch_id, r.replayed) for r in results] == [(2, True)]

    # An append the former way (Delta's txnAppId/txnVersion) counts as committed too.
    rows = valid_ticks(parse_ticks(kafka_rows(spark, good), list(DEFAULT_TICKERS)))
    rows.write.format("delta").mode("append").option("txnAppId", "stream_ticks-q1").option(
        "txnVersion", 3
    ).save(raw_uri)
    fourth, results = started("q1")
    fourth(kafka_rows(spark, good), 3)
    assert counts() == (20, 4)
    assert [(r.batch_id, r.replayed) for r in results] == [(3, True)]

    # A new checkpoint, a new query: its batch 0 is new, whatever q1's batch 0 was.
    other, results = started("q2")
    other(kafka_rows(spark, mixed), 0)
    assert counts() == (25, 6)
    assert [(r.batch_id, r.raw_rows, r.quarantined_rows) for r in results] == [(0, 5, 2)]

    # Every row the writers wrote was judged and stamped by its batch's planning time, replays
    # included; only the 5 rows appended above by hand carry their own query's time.
    stamps = [
        r["ingested_at"].replace(tzinfo=UTC).timestamp()
        for u in (raw_uri, bad_uri)
        for r in spark.read.format("delta").load(u).select("ingested_at").collect()
    ]
    assert len(stamps) == 31
    assert sum(abs(stamp - planned) < 0.001 for stamp in stamps) == 26


def test_the_lookup_refuses_to_guess_when_the_log_no_longer_reaches_back(
    services, spark, unique_name
):
    """Log retention removed the commits from before the batch was planned: it cannot prove the
    batch did not commit, so it raises instead of answering 'not committed'."""
    from stock_lakehouse.clients.delta_log import BatchLookupError, stream_batch_committed
    from stock_lakehouse.clients.s3 import s3_client

    s3 = services.s3.model_copy(update={"prefix": unique_name})
    raw_uri, bad_uri = (table_uri(s3, t, scheme="s3a") for t in (RAW_TICKS, QUARANTINE))
    writer = DeltaBatchWriter(raw_uri, bad_uri, list(DEFAULT_TICKERS), s3)
    writer.set_query_id("old-query")
    create_tables(spark, writer)
    good = [json.dumps(tick(seq=i, tick_id=f"{i:032d}")).encode() for i in range(3)]
    for batch in range(12):  # Delta writes a checkpoint at version 10
        writer(kafka_rows(spark, good), batch)

    assert stream_batch_committed(raw_uri, s3, "stream_ticks-old-query", 11)
    assert not stream_batch_committed(raw_uri, s3, "stream_ticks-old-query", 12)
    assert not stream_batch_committed(raw_uri, s3, "stream_ticks-new-query", 0)

    client = s3_client(s3)
    log_prefix = s3.key(RAW_TICKS, "_delta_log") + "/"
    listed = client.list_objects_v2(Bucket=s3.bucket, Prefix=log_prefix)["Contents"]
    for key in (o["Key"] for o in listed):
        name = key.rsplit("/", 1)[1]
        if name.endswith(".json") and int(name.split(".")[0]) < 10:
            client.delete_object(Bucket=s3.bucket, Key=key)  # as log cleanup leaves it
    # Still provable: the newest mark, and its batch id, are in the kept commits.
    assert stream_batch_committed(raw_uri, s3, "stream_ticks-old-query", 11)
    assert not stream_batch_committed(raw_uri, s3, "stream_ticks-old-query", 12)
    # Not provable: no mark of this query in what is left, nor a commit before its planning.
    with pytest.raises(BatchLookupError, match="no longer holds the commits"):
        stream_batch_committed(raw_uri, s3, "stream_ticks-new-query", 0)
    # Planned after the kept commits: they cannot be its own, so it answers.
    assert not stream_batch_committed(
        raw_uri, s3, "stream_ticks-new-query", 0, planned_at=datetime.now(UTC).timestamp() + 120
    )
