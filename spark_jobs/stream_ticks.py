"""Kafka `stock-ticks` -> raw_ticks and quarantine Delta tables on S3, exactly once.

    spark-submit spark_jobs/stream_ticks.py [--available-now] [--trigger-seconds 5]
    python spark_jobs/stream_ticks.py ...        (same thing, Spark from the pyspark wheel)

Exactly once, for every reader of either table: the Kafka offsets of each micro-batch are logged in
the checkpoint before the batch runs, so a restarted query replays the very same offsets; each batch
is appended to both tables as Delta commits marked (query id, batch id), and the first batch after
a start, the only one that can be a replay, skips whichever of its two appends the tables' logs
show committed before a crash. The query id lives in the checkpoint: a new checkpoint gets a new
id, so its batch ids never collide with those of an old one.

One stream per checkpoint: before Spark starts, the job takes the checkpoint's lease
(stock_lakehouse.stream_lease); a second job on the same checkpoint exits at once, naming the
holder. The job never outlives its supervisor: it runs in a process group of its own (with its
JVM), and when its parent process dies (a killed Dagster run worker, a closed terminal) it stops
as on SIGTERM.

SIGTERM or Ctrl-C to this Python process stops the query after the current micro-batch; if that
takes longer than the trigger interval plus a few seconds (a batch stuck on an unreachable store,
say), the job kills its process group, JVM included: the unfinished batch is redone, from the same
offsets, by the next start. (Signal the driver, not its process group: the JVM ends at once on
SIGTERM.)
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from dagster_pipes import PipesEnvVarParamsLoader, open_dagster_pipes
from pyspark.errors import StreamingQueryException
from pyspark.sql import DataFrame, Observation, SparkSession
from pyspark.sql import functions as F

from stock_lakehouse.clients.delta_log import batch_marker, stream_batch_committed
from stock_lakehouse.clients.spark_session import get_spark_session
from stock_lakehouse.parent_watch import on_parent_exit
from stock_lakehouse.process_identity import group_members
from stock_lakehouse.settings import S3Settings, Settings, get_settings
from stock_lakehouse.stream_lease import RUN_ID_ENV, CheckpointHeld, StreamLease
from stock_lakehouse.tables import QUARANTINE, RAW_TICKS, table_uri
from stock_lakehouse.tick_parsing import (
    QUARANTINE_COLUMNS,
    RAW_COLUMNS,
    TickParser,
    parse_ticks,
    quarantined,
    valid_ticks,
    with_batch_clock,
)
from stock_lakehouse.ticks import EventTimeBounds

__all__ = ["QUARANTINE_COLUMNS", "RAW_COLUMNS", "parse_ticks", "quarantined", "run", "valid_ticks"]

log = logging.getLogger("stream_ticks")

STREAM_SPARK_CONF = {
    # Live-day compaction (OPTIMIZE of today's raw_ticks partition): files at least minFileSize
    # are left alone, so each pass merges what arrived since the last one (and the one file still
    # growing), not the whole day again; merged files stop at maxFileSize.
    "spark.databricks.delta.optimize.minFileSize": str(32 * 2**20),
    "spark.databricks.delta.optimize.maxFileSize": str(128 * 2**20),
    # Rows of a task go to one open writer per trade_date instead of being sorted by trade_date
    # first (what Delta's writer does for a partitioned table when this is 0); past 4 dates in
    # one task it falls back to sorting. A batch of live ticks holds one or two dates.
    "spark.sql.maxConcurrentOutputFileWriters": "4",
    # parse_ticks fuses into one generated method too big for the JVM's JIT (over 8,000 bytes
    # of bytecode, so it stayed interpreted); at this limit Spark splits it into methods the JIT
    # compiles: a 200k-row parse went from ~2.0 s to ~1.4 s (python -m bench.bench_parse).
    "spark.sql.codegen.hugeMethodLimit": "8000",
}

# How long a requested stop may take beyond the trigger interval before the job kills itself.
STOP_GRACE_SECONDS = 7.0


class StopRequested(Exception):
    """Raised inside a micro-batch that was about to start after a stop was requested."""


@dataclass(frozen=True)
class BatchResult:
    batch_id: int
    raw_rows: int
    quarantined_rows: int
    seconds: float
    replayed: bool = False  # its raw append had committed before a restart: counts unknown (0)
    # Where `seconds` went: the raw append (Kafka read, parse and validation ride on it), then
    # the rest (its row counts and, for a batch with bad rows, the quarantine append).
    raw_append_seconds: float = 0.0
    after_raw_seconds: float = 0.0


@dataclass(frozen=True)
class LiveCompaction:
    trade_date: str
    files_removed: int
    files_added: int
    seconds: float


def compact_live_day(spark: SparkSession, raw_uri: str, day: str) -> LiveCompaction:
    """Merge the small files of raw_ticks' `day` partition: Delta's OPTIMIZE, one commit.

    OPTIMIZE changes no data (its commit is `dataChange=false`), so every reader sees the same rows
    before and after, and it cannot conflict with the stream's appends to the same partition. The
    file sizes it aims at are the session's (STREAM_SPARK_CONF).
    """
    from delta.tables import DeltaTable

    started = time.monotonic()
    optimized = DeltaTable.forPath(spark, raw_uri).optimize().where(f"trade_date = '{day}'")
    metrics = optimized.executeCompaction().first()["metrics"]
    return LiveCompaction(
        day,
        int(metrics["numFilesRemoved"]),
        int(metrics["numFilesAdded"]),
        time.monotonic() - started,
    )


class LiveDayCompactor:
    """Keeps today's raw_ticks partition to a bounded number of files while the day is open.

    Run by the stream's own driver between micro-batches, every `every_seconds` (0: never): the
    stream is the writer of the open day, so its passes never race its own appends, and a
    `spark://` cluster runs them like any batch. Without it, a day at a 5-s trigger leaves ~50,000
    files for the Live page to open; with it, the files of the last period plus a few large ones.
    The first pass after midnight also merges the previous day's last files. A failed pass (a
    conflict with the repair job's delete, say) is logged and tried again next period: it never
    stops the stream.
    """

    def __init__(
        self,
        raw_uri: str,
        every_seconds: float,
        clock=time.monotonic,
        today=lambda: datetime.now(UTC).date().isoformat(),
    ) -> None:
        self.raw_uri = raw_uri
        self.every_seconds = every_seconds
        self.clock = clock
        self.today = today
        self.next_at = clock() + every_seconds
        self.last_day: str | None = None

    def maybe_run(self, spark: SparkSession) -> list[LiveCompaction]:
        if self.every_seconds <= 0 or self.clock() < self.next_at:
            return []
        self.next_at = self.clock() + self.every_seconds
        today = self.today()
        days = [self.last_day, today] if self.last_day not in (None, today) else [today]
        self.last_day = today
        return [done for day in days if (done := self._compact(spark, day)) is not None]

    def _compact(self, spark: SparkSession, day: str) -> LiveCompaction | None:
        try:
            done = compact_live_day(spark, self.raw_uri, day)
        except Exception as exc:  # py4j and Spark errors alike: the stream goes on
            log.warning("live compaction of trade_date=%s failed: %s", day, _first_line(exc))
            return None
        if done.files_removed:
            log.info(
                "live compaction of trade_date=%s: %d files -> %d in %.1fs",
                day,
                done.files_removed,
                done.files_added,
                done.seconds,
            )
        return done


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]


class DeltaBatchWriter:
    """foreachBatch sink: appends one micro-batch to both tables idempotently.

    Each append is marked in its commit's userMetadata with (query id, batch id). Only the first
    batch a writer runs can be a replay (Spark replans nothing it has committed), so that batch
    alone is looked up in each table's log (delta_log.stream_batch_committed, a commit or two);
    the later ones are new by construction. Not Delta's txnAppId: with it, every append rebuilt
    the table's whole state to find the last transaction version, ~1 s per append and growing
    with the table's history.
    """

    def __init__(
        self,
        raw_uri: str,
        quarantine_uri: str,
        known_tickers: list[str],
        s3: S3Settings,
        bounds: EventTimeBounds | None = None,
        batch_planned_at: Callable[[int], float | None] = lambda batch_id: None,
    ) -> None:
        self.raw_uri = raw_uri
        self.quarantine_uri = quarantine_uri
        self.known_tickers = known_tickers
        self.s3 = s3
        self.bounds = bounds or EventTimeBounds()
        # When Spark planned a batch (its offset log's batchTimestampMs): the batch's clock, the
        # same on a replay, and the time before which none of its commits can be.
        self.batch_planned_at = batch_planned_at
        self._query_id = threading.Event()
        self.app_id = ""
        self.on_batch = lambda result: None
        self.stop_requested = threading.Event()
        self.live_compactor: LiveDayCompactor | None = None
        self._looked_up: set[str] = set()  # tables whose log this writer has read
        self._last_written: dict[str, int] = {}

    @functools.cached_property
    def _parser(self) -> TickParser:
        """Built at the first batch (a Column needs a running JVM), then reused by every batch."""
        return TickParser(self.known_tickers, self.bounds, now=F.col("_clock"))

    def _committed(self, uri: str, batch_id: int, planned_at: float | None) -> bool:
        """Had this batch committed to this table (before a restart, or just now)?"""
        if uri in self._looked_up and batch_id > self._last_written.get(uri, -1):
            return False  # after the first batch, every batch is new
        committed = stream_batch_committed(uri, self.s3, self.app_id, batch_id, planned_at)
        self._looked_up.add(uri)
        return committed

    def _append(self, frame: DataFrame, uri: str, batch_id: int) -> None:
        (
            frame.write.format("delta")
            .mode("append")
            .partitionBy("trade_date")
            .option("userMetadata", batch_marker(self.app_id, batch_id))
            .save(uri)
        )
        self._last_written[uri] = batch_id

    @staticmethod
    def _observed(counts: Observation, timeout: float = 30) -> tuple[int, int] | None:
        """The counts the raw append observed; None if they never arrive (then: write both)."""
        result: list[dict] = []
        waiter = threading.Thread(target=lambda: result.append(counts.get), daemon=True)
        waiter.start()
        waiter.join(timeout)
        if not result:
            log.warning("no row counts from the raw append within %.0fs", timeout)
            return None
        return int(result[0]["raw"]), int(result[0]["bad"])

    def set_query_id(self, query_id: str) -> None:
        self.app_id = f"stream_ticks-{query_id}"
        self._query_id.set()

    def __call__(self, batch: DataFrame, batch_id: int) -> None:
        self._query_id.wait()  # the first batch can start before start() has returned
        if self.stop_requested.is_set():
            # A batch that starts after SIGTERM writes nothing: it fails here, before any write,
            # and runs again after a restart, from the offsets the checkpoint logged for it.
            raise StopRequested(f"batch {batch_id} not started: stop requested")
        started = time.monotonic()
        # The batch's clock: when Spark planned it, so a replay judges every row as the first
        # run did; as a column, so every batch runs the same generated code (parse_ticks).
        planned_at = self.batch_planned_at(batch_id)
        clock = datetime.fromtimestamp(planned_at, UTC) if planned_at else datetime.now(UTC)
        clocked = with_batch_clock(batch, clock)
        parsed = self._parser(clocked)
        # One pass over the batch in the common case: the raw append counts both kinds of rows as
        # it runs (no cache, no count job), and quarantine is written only when there are bad
        # rows, in a second pass over those offsets. Each pass filters behind an `observe`: that
        # node keeps Spark from pushing the filter into parse_ticks' projections, which made it
        # judge every row twice (a 200k-row quarantine pass took 6.8 s instead of 2.2 s).
        counts = Observation(f"stream_ticks-{batch_id}")
        observed = parsed.observe(
            counts,
            F.count_if(F.col("reason").isNull()).alias("raw"),
            F.count_if(F.col("reason").isNotNull()).alias("bad"),
        )
        spark = batch.sparkSession
        measured = None  # stays None for a replayed batch whose raw append had committed
        if not self._committed(self.raw_uri, batch_id, planned_at):
            self._append(valid_ticks(observed), self.raw_uri, batch_id)
            measured = self._observed(counts)
        raw_appended = time.monotonic()
        if (measured is None or measured[1] > 0) and not self._committed(
            self.quarantine_uri, batch_id, planned_at
        ):
            # Unknown counts write quarantine too, unless it had committed.
            seen = Observation(f"stream_ticks-{batch_id}-quarantine")
            judged = parsed.observe(seen, F.count(F.lit(1)).alias("rows"))
            self._append(quarantined(judged), self.quarantine_uri, batch_id)
        raw_rows, bad_rows = measured or (0, 0)
        ended = time.monotonic()
        self.on_batch(
            BatchResult(
                batch_id,
                raw_rows,
                bad_rows,
                ended - started,
                replayed=measured is None,
                raw_append_seconds=raw_appended - started,
                after_raw_seconds=ended - raw_appended,
            )
        )
        if self.live_compactor is not None and not self.stop_requested.is_set():
            # Not while stopping: a pass could outlast the stop's deadline.
            self.live_compactor.maybe_run(spark)


def kafka_source_options(settings: Settings, topic: str, available_now: bool) -> dict[str, str]:
    """The Kafka source's options: where to start, how much one batch takes, when it may wait.

    A live stream's batch waits for `min_batch_ticks` new ticks, at most
    `max_batch_delay_seconds`, so a quiet stream pays Spark's fixed cost per batch less often.
    Not for availableNow: its last batch is small by nature and must not wait.
    """
    stream = settings.stream
    options = {
        "kafka.bootstrap.servers": settings.kafka.bootstrap_servers,
        "subscribe": topic,
        "startingOffsets": stream.starting_offsets,
        "maxOffsetsPerTrigger": str(stream.max_offsets_per_trigger),
        "failOnDataLoss": str(stream.fail_on_data_loss).lower(),
    }
    if stream.min_batch_ticks > 0 and not available_now:
        options["minOffsetsPerTrigger"] = str(stream.min_batch_ticks)
        options["maxTriggerDelay"] = f"{round(stream.max_batch_delay_seconds * 1000)}ms"
    return options


def kafka_stream(
    spark: SparkSession, settings: Settings, topic: str, available_now: bool = False
) -> DataFrame:
    return (
        spark.readStream.format("kafka")
        .options(**kafka_source_options(settings, topic, available_now))
        .load()
    )


def run(settings: Settings, topic: str, available_now: bool, on_batch=None, on_start=None) -> None:
    """Start the query; return when it ends (availableNow) or after SIGTERM/Ctrl-C.

    `on_batch(BatchResult)` follows every committed batch, `on_start(query_id)` the start."""
    writer = DeltaBatchWriter(
        table_uri(settings.s3, RAW_TICKS, scheme="s3a"),
        table_uri(settings.s3, QUARANTINE, scheme="s3a"),
        settings.market.ticker_list,
        settings.s3,
        settings.market.event_time_bounds,
        batch_planned_at=lambda batch_id: planned_at_in_checkpoint(
            settings.stream.checkpoint_dir, batch_id
        ),
    )
    writer.on_batch = on_batch or _log_batch
    writer.live_compactor = LiveDayCompactor(
        writer.raw_uri, settings.stream.live_compaction_minutes * 60
    )
    trigger = (
        {"availableNow": True}
        if available_now
        else {"processingTime": f"{settings.stream.trigger_seconds} seconds"}
    )
    # Before the JVM starts: a stop during its start (10-20 s) must not leave it behind.
    stopper = Stopper(writer.stop_requested, settings.stream.trigger_seconds + STOP_GRACE_SECONDS)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda signum, _: stopper.request(signal.Signals(signum).name))
    watch_parent(stopper)
    spark = get_spark_session("stream_ticks", settings, **STREAM_SPARK_CONF)
    if writer.stop_requested.is_set():
        stop_jvm(spark)
        return

    settings.stream.checkpoint_dir.mkdir(parents=True, exist_ok=True)
    create_tables(spark, writer)
    query = (
        kafka_stream(spark, settings, topic, available_now)
        .writeStream.queryName("stream_ticks")
        .foreachBatch(writer)
        .option("checkpointLocation", str(settings.stream.checkpoint_dir))
        .trigger(**trigger)
        .start()
    )
    writer.set_query_id(str(query.id))
    log.info("stream_ticks started: query %s, topic %s", query.id, topic)
    if on_start is not None:
        on_start(str(query.id))
    while query.isActive and not writer.stop_requested.is_set():
        try:
            query.awaitTermination(1)
        except StreamingQueryException:
            break  # reported below, unless it is the StopRequested of a stop we asked for
    try:
        if writer.stop_requested.is_set():
            _stop_after_current_batch(query, timeout=stopper.deadline_seconds)
        elif query.exception() is not None:
            raise RuntimeError(f"stream_ticks failed: {query.exception()}")
    finally:
        stop_jvm(spark)


def planned_at_in_checkpoint(checkpoint: Path, batch_id: int) -> float | None:
    """When Spark planned `batch_id` (epoch seconds): its offset log entry's batchTimestampMs.

    Written once, before the batch runs, and read back unchanged when the batch is replayed.
    """
    try:
        lines = (checkpoint / "offsets" / str(batch_id)).read_text().splitlines()
        return json.loads(lines[1])["batchTimestampMs"] / 1000
    except (OSError, IndexError, ValueError, KeyError, TypeError):
        return None


def stop_jvm(spark: SparkSession, timeout: float = 15) -> None:
    """Stop Spark and wait for its JVM: left alone, the JVM can outlive this driver (seen: an
    orphan JVM at 0.1 core after a graceful stop under Dagster)."""
    from pyspark import SparkContext

    gateway = SparkContext._gateway
    jvm = getattr(gateway, "proc", None)
    try:
        spark.stop()
    except Exception as exc:
        log.warning("stopping Spark: %s", str(exc).splitlines()[0][:200])
    if gateway is not None:
        gateway.shutdown()
    if jvm is not None and jvm.poll() is None:
        jvm.terminate()
        try:
            jvm.wait(timeout)
        except subprocess.TimeoutExpired:
            jvm.kill()
            jvm.wait(timeout)


class Stopper:
    """A requested stop: graceful first, and a kill of the process group when it takes too long."""

    def __init__(self, requested: threading.Event, deadline_seconds: float) -> None:
        self.requested = requested
        self.deadline_seconds = deadline_seconds

    def request(self, why: str) -> None:
        if self.requested.is_set():
            return
        log.info("%s: stopping after the current micro-batch", why)
        self.requested.set()
        timer = threading.Timer(self.deadline_seconds, self._kill, args=(why,))
        timer.daemon = True
        timer.start()

    def _kill(self, why: str) -> None:
        log.warning(
            "%s: not stopped within %.0fs, killing the stream and its JVM; the unfinished batch "
            "is redone from the same offsets at the next start",
            why,
            self.deadline_seconds,
        )
        logging.shutdown()
        if os.getpgrp() == os.getpid():
            os.killpg(os.getpid(), signal.SIGKILL)
        os._exit(1)


def watch_parent(stopper: Stopper, interval: float = 1.0) -> None:
    """Stop (after the current batch) when the parent process dies: no orphan streams."""
    on_parent_exit(stopper.request, until=stopper.requested, interval=interval)


def _stop_after_current_batch(query, timeout: float = 120) -> None:
    """Let a running batch commit, then stop; a batch that starts meanwhile refuses to run."""
    log.info("stop requested: finishing the current micro-batch")
    deadline = time.monotonic() + timeout
    while query.isActive and query.status.get("isTriggerActive") and time.monotonic() < deadline:
        time.sleep(0.1)
    query.stop()
    if query.exception() is not None:  # expected: StopRequested from a batch that did not start
        log.info("stream_ticks stopped (%s)", str(query.exception()).splitlines()[0][:200])
    else:
        log.info("stream_ticks stopped")


def _log_batch(result: BatchResult) -> None:
    log.info(
        "batch %d: %d raw, %d quarantined in %.1fs%s",
        result.batch_id,
        result.raw_rows,
        result.quarantined_rows,
        result.seconds,
        " (replayed: committed before the restart)" if result.replayed else "",
    )


class ResultLines:
    """`--result-json PATH`: one JSON object per line as the job runs, for scripts and benchmarks
    (which then read no log wording): {"event": "started", "query_id", "at"} once the query has
    started, and {"event": "batch", <BatchResult fields>, "at"} after each committed batch; `at`
    is epoch seconds. Lines, not one document: a stream has no end to write it at."""

    def __init__(self, path: Path) -> None:
        """Raises OSError at once when `path` cannot be written, not after the JVM started."""
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.open("a").close()

    def _append(self, event: dict) -> None:
        with self.path.open("a") as out:
            out.write(json.dumps({**event, "at": time.time()}) + "\n")

    def started(self, query_id: str) -> None:
        self._append({"event": "started", "query_id": query_id})

    def batch(self, result: BatchResult) -> None:
        self._append({"event": "batch", **asdict(result)})


def create_tables(spark: SparkSession, writer: DeltaBatchWriter) -> None:
    """Both tables exist, empty, before the first batch: readers of quarantine need the table
    though batches without bad rows write nothing to it. Same schema as the batches write."""
    from delta.tables import DeltaTable

    kafka_schema = (
        "key binary, value binary, topic string, partition int, offset long, "
        "timestamp timestamp, timestampType int"
    )
    parsed = parse_ticks(spark.createDataFrame([], kafka_schema), writer.known_tickers)
    for frame, uri in (
        (valid_ticks(parsed), writer.raw_uri),
        (quarantined(parsed), writer.quarantine_uri),
    ):
        if not DeltaTable.isDeltaTable(spark, uri):
            frame.write.format("delta").mode("append").partitionBy("trade_date").save(uri)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--available-now", action="store_true", help="drain Kafka, then exit")
    parser.add_argument("--topic", help="Kafka topic (default KAFKA_TICKS_TOPIC)")
    parser.add_argument("--trigger-seconds", type=float, help="micro-batch interval")
    parser.add_argument("--checkpoint", help="checkpoint folder (default STREAM_CHECKPOINT_DIR)")
    parser.add_argument(
        "--result-json", type=Path, help="append the start and each batch here, as JSON lines"
    )
    args = parser.parse_args(argv)
    try:
        lines = ResultLines(args.result_json) if args.result_json is not None else None
    except OSError as exc:
        parser.error(f"--result-json {args.result_json} cannot be written: {exc.strerror}")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("py4j").setLevel(logging.WARNING)  # one INFO line per py4j connection
    settings = get_settings()
    stream_overrides = {}
    if args.trigger_seconds is not None:
        stream_overrides["trigger_seconds"] = args.trigger_seconds
    if args.checkpoint:
        stream_overrides["checkpoint_dir"] = Path(args.checkpoint)
    if stream_overrides:
        settings = settings.model_copy(
            update={"stream": settings.stream.model_copy(update=stream_overrides)}
        )
    topic = args.topic or settings.kafka.ticks_topic
    if os.getpgrp() != os.getpid():
        # A group of its own, which its JVM joins: stopping the group stops both, and nothing
        # else. (Run by hand from a shell, the job is already its job's group leader.)
        os.setpgrp()
    lease = StreamLease(settings.stream.checkpoint_dir)
    pipes_process = PipesEnvVarParamsLoader().is_dagster_pipes_process()
    try:
        lease.acquire(run_id=os.environ.get(RUN_ID_ENV))
    except CheckpointHeld as exc:
        print(f"stream_ticks: {exc}", file=sys.stderr)
        if pipes_process:
            with open_dagster_pipes() as pipes:
                pipes.log.error(str(exc))
        return 3
    try:
        if not pipes_process:
            if lines is None:
                run(settings, topic, args.available_now)
                return 0

            def log_and_write(result: BatchResult) -> None:
                _log_batch(result)
                lines.batch(result)

            run(settings, topic, args.available_now, log_and_write, lines.started)
            return 0
        return _run_in_dagster(settings, topic, args.available_now)
    finally:
        lease.release()
        _end_own_group()


def _end_own_group() -> None:
    """Last resort on the way out: no process of this job's group (a JVM) outlives its driver."""
    if os.getpgrp() != os.getpid():
        return
    for pid in group_members(os.getpid()):
        if pid != os.getpid():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def _run_in_dagster(settings: Settings, topic: str, available_now: bool) -> int:
    with open_dagster_pipes() as pipes:  # launched by Dagster: batches show up in the run

        def report(result: BatchResult) -> None:
            _log_batch(result)
            pipes.log.info(
                f"batch {result.batch_id}: {result.raw_rows} raw, "
                f"{result.quarantined_rows} quarantined in {result.seconds:.1f}s"
            )
            pipes.report_custom_message(asdict(result))

        run(settings, topic, available_now, on_batch=report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
