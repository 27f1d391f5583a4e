"""End-to-end freshness: from a live tick's produce time to its first visibility in raw_ticks.

    python -m bench.bench_freshness [--triggers 2 5] [--rate 500] [--warmup 30] [--duration 75]

The real stream job runs continuously (processingTime trigger) on a new topic; the simulator
produces live ticks at a fixed rate, each stamped with its produce time (`timestamp`, live mode);
DuckDB polls the raw_ticks Delta table every --poll seconds. A tick's latency is the start of the
first poll that returned it minus its `timestamp`; so the figures include up to one poll interval
of sampling delay (half of it on average) and are reported with it stated.

A stream that runs for days pays its start once, so it is left out: 50 ticks first prime the stream
until its table exists (JVM start, table creation), then live ticks flow for --warmup + --duration
seconds and the figures cover those produced after the first --warmup seconds (the JIT is still
warming up: batches of a few thousand rows took 10-16 s at first, 5-7 s after a minute).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from datetime import UTC, datetime
from itertools import pairwise
from typing import Any

import duckdb

from bench.common import (
    BENCH_STATE_DIR,
    GroupCpu,
    OthersWatch,
    bench_services,
    print_table,
    run_dir,
    unique,
    wait_for_quiet,
    write_result,
)
from bench.long_history import build_long_history
from bench.stream_job import read_job_log, start_stream_job, stop_job, wait_started
from stock_lakehouse.clients import duckdb_conn
from stock_lakehouse.settings import Settings
from stock_lakehouse.simulator.producer import ensure_topic
from stock_lakehouse.simulator.run import RunSummary, SimulationOptions, run_simulation
from stock_lakehouse.tables import RAW_TICKS, table_uri

# After the last tick is produced, wait at most this long (plus a trigger) for it to show up.
DRAIN_TIMEOUT_S = 120


class LiveProducer(threading.Thread):
    """The simulator in live mode on a thread: `timestamp` of each tick is its produce time."""

    def __init__(self, settings: Settings, options: SimulationOptions) -> None:
        super().__init__(name="live-producer", daemon=True)
        self.settings = settings
        self.options = options
        self.summary: RunSummary | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.summary = run_simulation(self.settings, self.options, interactive=False)
        except BaseException as exc:
            self.error = exc


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank style quantile (statistics' 'inclusive' method), q in (0, 1)."""
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[round(q * 100) - 1]


class Poller:
    """Polls raw_ticks with DuckDB; remembers when each tick_id was first seen.

    Each poll asks only for batches newer than the newest one seen (ingested_at is one value per
    micro-batch), so Delta's file statistics keep a poll to the new files however big the table.
    """

    def __init__(
        self, con: duckdb.DuckDBPyConnection, uri: str, interval: float, after: Any = None
    ) -> None:
        self.con = con
        self.uri = uri
        self.interval = interval
        self.seen: dict[str, tuple[float, float]] = {}  # tick_id -> (produced, first seen)
        self.durations: list[float] = []
        self._newest = after  # rows ingested up to this time were there before (long history)

    def poll(self) -> None:
        begun = time.time()
        where = f"WHERE ingested_at > '{self._newest.isoformat()}'" if self._newest else ""
        try:
            rows = self.con.execute(
                f"SELECT tick_id, \"timestamp\", ingested_at FROM delta_scan('{self.uri}') {where}"
            ).fetchall()
        except duckdb.Error:
            rows = []  # the first micro-batch has not created the table yet
        self.durations.append(time.time() - begun)
        for tick_id, produced, ingested in rows:
            self.seen.setdefault(tick_id, (produced, begun))
            self._newest = ingested if self._newest is None else max(self._newest, ingested)
        time.sleep(max(0.0, self.interval - (time.time() - begun)))

    def until_all_seen(self, producer: LiveProducer, already: int, timeout: float) -> None:
        """Poll while `producer` runs, then until all it produced is seen or `timeout` s pass."""
        while producer.is_alive():
            self.poll()
        if producer.error is not None or producer.summary is None:
            raise RuntimeError(f"live producer failed: {producer.error}")
        deadline = time.monotonic() + timeout
        while len(self.seen) < already + producer.summary.ticks and time.monotonic() < deadline:
            self.poll()


def live_options(settings: Settings, topic: str, seed: int, rate: float, **bounds: Any):
    return SimulationOptions(
        mode="live",
        topic=topic,
        tickers=tuple(settings.market.ticker_list),
        seed=seed,
        rate=rate,
        labels_path=BENCH_STATE_DIR / "simulator" / f"{topic}.jsonl",
        **bounds,
    )


def run_once(
    settings: Settings, trigger: float, args: argparse.Namespace, seed: int
) -> dict[str, Any]:
    """One stream, primed until its table exists, then measured over live ticks."""
    name = unique(f"fresh-{trigger:g}s")
    folder = run_dir(name)
    prefix, log = f"bench/{name}", folder / "stream_ticks.log"
    ensure_topic(settings, name, partitions=3)
    s3 = settings.s3.model_copy(update={"prefix": prefix})
    uri = table_uri(s3, RAW_TICKS)
    con = duckdb_conn.connect(s3=s3)
    history: dict[str, Any] = {"commits": 0, "rows": 0}
    after = None
    if args.history_commits:
        # A stream that has run for days: its table already holds thousands of commits.
        history = build_long_history(s3, folder, args.history_commits, datetime.now(UTC).date())
        history["rows"], after = con.execute(
            f"SELECT count(*), max(ingested_at) FROM delta_scan('{uri}')"
        ).fetchone()
    poller = Poller(con, uri, args.poll, after)
    wait_for_quiet(args.quiet_timeout)
    proc = start_stream_job(name, prefix, folder / "checkpoint", log, trigger_seconds=trigger)
    try:
        wait_started(proc, log)
        # Priming: the first batch creates both tables and warms the JVM (10-15 s here); a
        # stream that runs for days pays that once, so it is not part of the figures.
        primer = LiveProducer(settings, live_options(settings, name, seed + 1000, 50, count=50))
        primer.start()
        poller.until_all_seen(primer, 0, timeout=300)
        primed = set(poller.seen)
        watch = OthersWatch()
        # The stream's own cost while it keeps up: its driver and JVM, over the live window.
        stream_cpu = GroupCpu(proc.pid)
        cpu_from, cpu_since = stream_cpu.now(), time.monotonic()
        producer = LiveProducer(
            settings,
            live_options(settings, name, seed, args.rate, duration=args.warmup + args.duration),
        )
        producer.start()
        poller.until_all_seen(producer, len(primed), timeout=trigger + DRAIN_TIMEOUT_S)
        stream_cores = (stream_cpu.now() - cpu_from) / (time.monotonic() - cpu_since)
        stream_cpu.result()
        others = watch.result()
    finally:
        stop_job(proc)
    assert producer.summary is not None
    produced = producer.summary.ticks
    total = con.execute(f"SELECT count(*) FROM delta_scan('{uri}')").fetchone()
    con.close()
    seen = {k: v for k, v in poller.seen.items() if k not in primed}
    if (
        len(seen) != produced
        or total is None
        or total[0] != produced + len(primed) + history["rows"]
    ):
        raise RuntimeError(f"saw {len(seen):,} of {produced:,} ticks (table holds {total}) - {log}")
    first = min(p for p, _ in seen.values())
    everything = [v - p for p, v in seen.values()]
    latencies = [v - p for p, v in seen.values() if p >= first + args.warmup]
    # The job's own batch lines over the measured window: how long a batch took, how often.
    _, lines = read_job_log(log)
    batches = [b for b in lines if b.logged_at >= first + args.warmup]
    ends = [b.logged_at for b in batches]
    return {
        "trigger_s": trigger,
        "history_commits": history["commits"],
        "history_seconds": history.get("seconds"),
        "topic": name,
        "log": str(log),
        "ticks": produced,
        "rate": producer.summary.ticks_per_s,
        "p50_s": percentile(latencies, 0.50),
        "p95_s": percentile(latencies, 0.95),
        "max_s": max(latencies),
        "measured_ticks": len(latencies),
        "with_warmup_p50_s": percentile(everything, 0.50),
        "with_warmup_p95_s": percentile(everything, 0.95),
        "primed_ticks": len(primed),
        "batches": len(batches),
        "batch_median_s": statistics.median(b.seconds for b in batches) if batches else None,
        "batch_max_s": max((b.seconds for b in batches), default=None),
        "batch_every_median_s": (
            statistics.median(b - a for a, b in pairwise(ends)) if len(ends) > 1 else None
        ),
        "stream_cores": stream_cores,
        "poll_median_s": statistics.median(poller.durations),
        "poll_p95_s": percentile(poller.durations, 0.95),
        "polls": len(poller.durations),
        "others": others,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--triggers", type=float, nargs="+", default=[2.0, 5.0], help="seconds")
    parser.add_argument("--rate", type=float, default=500, help="live ticks per second")
    parser.add_argument("--duration", type=float, default=75, help="measured seconds of ticks")
    parser.add_argument("--poll", type=float, default=0.5, help="DuckDB poll interval, seconds")
    parser.add_argument(
        "--warmup", type=float, default=30, help="live seconds before the measured ones"
    )
    parser.add_argument("--runs", type=int, default=2, help="repetitions per trigger")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument(
        "--history-commits",
        type=int,
        default=0,
        help="start each stream on a raw_ticks table with this many commits (long-run case)",
    )
    parser.add_argument(
        "--quiet-timeout", type=float, default=600, help="wait this long for others to calm down"
    )
    args = parser.parse_args(argv)

    runs = []
    with bench_services() as settings:
        for n in range(args.runs):
            triggers = args.triggers if n % 2 == 0 else list(reversed(args.triggers))
            for trigger in triggers:
                result = {"run": n + 1, **run_once(settings, trigger, args, args.seed + n)}
                runs.append(result)
                flag = " (disturbed)" if result["others"]["disturbed"] else ""
                print(
                    f"run {n + 1} trigger {trigger:g} s: p50 {result['p50_s']:.2f} s, "
                    f"p95 {result['p95_s']:.2f} s over {result['measured_ticks']:,} ticks{flag}"
                )

    print_table(
        f"freshness: live ticks at {args.rate:g}/s, {args.duration:g} s measured after "
        f"{args.warmup:g} s warm-up, produce -> visible "
        f"in raw_ticks (DuckDB poll every {args.poll:g} s)",
        [
            "trigger",
            "run",
            "p50 s",
            "p95 s",
            "max s",
            "incl. warm-up",
            "batch s / every",
            "stream cores",
            "others",
        ],
        [
            (
                f"{r['trigger_s']:g} s",
                r["run"],
                f"{r['p50_s']:.2f}",
                f"{r['p95_s']:.2f}",
                f"{r['max_s']:.2f}",
                f"{r['with_warmup_p50_s']:.2f} / {r['with_warmup_p95_s']:.2f}",
                f"{r['batch_median_s'] or 0:.1f} / {r['batch_every_median_s'] or 0:.1f}",
                f"{r['stream_cores']:.2f}",
                f"{r['others']['others_share']:.0%}",
            )
            for r in sorted(runs, key=lambda r: (r["trigger_s"], r["run"]))
        ],
    )
    write_result(
        "freshness-long" if args.history_commits else "freshness",
        {
            "command": " ".join(["python -m bench.bench_freshness", *(argv or sys.argv[1:])]),
            "rate": args.rate,
            "history_commits": args.history_commits,
            "duration_s": args.duration,
            "poll_interval_s": args.poll,
            "warmup_s": args.warmup,
            "max_offsets_per_trigger": settings.stream.max_offsets_per_trigger,
            # The quiet stream's wait (STREAM_MIN_BATCH_TICKS=0 in the environment turns it off).
            "min_batch_ticks": settings.stream.min_batch_ticks,
            "max_batch_delay_s": settings.stream.max_batch_delay_seconds,
            "runs": runs,
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
