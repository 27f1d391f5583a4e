"""The stream's batch writer: one pass when nothing is bad, each batch once (real S3 store)."""

from __future__ import annotations

import json

from spark_jobs.stream_ticks import BatchResult, DeltaBatchWriter, create_tables
from stock_lakehouse.tables import QUARANTINE, RAW_TICKS, table_uri
from stock_lakehouse.ticks import DEFAULT_TICKERS
from stock_lakehouse_tests.test_stream_validation import kafka_rows, tick


def versions(spark, *uris: str) -> list[int]:
    return [spark.sql(f"DESCRIBE HISTORY delta.`{u}` LIMIT 1").first()["version"] for u in uris]


def test_batches_without_bad_rows_commit_raw_only_and_a_replayed_batch_writes_nothing(
    services, spark, unique_name
):
    s3 = services.s3.model_copy(update={"prefix": unique_name})
    raw_uri, bad_uri = (table_uri(s3, t, scheme="s3a") for t in (RAW_TICKS, QUARANTINE))
    writer = DeltaBatchWriter(raw_uri, bad_uri, list(DEFAULT_TICKERS))
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
