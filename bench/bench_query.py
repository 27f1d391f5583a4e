"""The small-file penalty: a dashboard query on raw_ticks (micro-batch files) vs compacted_ticks.

    python -m bench.bench_query [--ticks 5000000] [--batches 50] [--repeat 5]
    python -m bench.bench_query --prefix bench/compaction-1a2b3c4d   (reuse bench_compaction's day)

One day is written to raw_ticks as the stream leaves it (bench/batch_data.py) and compacted once
by `spark_jobs/compact_ticks.py` (as bench_compaction runs it; with --prefix an earlier run's day
and compacted table are reused, compacting only if it is missing). Then DuckDB answers the daily
summary every ticker gets on a dashboard (open/high/low/close via arg_min/arg_max on event_time,
volume, VWAP = sum(price * volume) / sum(volume), tick count) with `delta_scan` on each table,
--repeat times, alternating, each on a fresh connection (a dashboard session's first query; no
file blocks cached by an earlier one). Reported: median seconds and raw / compacted.

The same SQL on both tables; on raw_ticks it counts the ~1% replayed ticks twice (volume, VWAP and
count differ a little, open/high/low/close do not). "raw, deduplicated" is what a correct
query on raw_ticks costs: the compaction job's dedupe (first ingested copy per Kafka offset) in SQL.

"raw, live-compacted" is the same day after the stream's live-day compaction
(spark_jobs/stream_ticks.py compact_live_day: Delta OPTIMIZE of the partition, no data change),
what the Live page reads while the day is open; "raw" is then read at the version before it.
Every table is read through DuckDB's `ATTACH ... (TYPE delta, VERSION n)`, so all cases pin a
version the same way.

Then the Live page's own query (read_model/queries.py LIVE_RECENT_SQL: last price per ticker over
the newest LIVE_WINDOW of the day), on raw, live-compacted raw and compacted; the issue's target is
live-compacted < 2x compacted for it too.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from datetime import date, datetime
from typing import Any

from bench.batch_data import DEFAULT_DAY, build_raw_day, mib
from bench.bench_compaction import run_compaction_job
from bench.common import (
    OthersWatch,
    bench_services,
    median,
    print_table,
    run_dir,
    unique,
    wait_for_quiet,
    write_result,
)
from stock_lakehouse.clients import duckdb_conn
from stock_lakehouse.clients.delta_log import DayStats, table_stats
from stock_lakehouse.compaction.plan import OFFSET_KEY
from stock_lakehouse.read_model.queries import LIVE_RECENT_SQL, LIVE_WINDOW, TICK_RATE_WINDOW
from stock_lakehouse.settings import S3Settings
from stock_lakehouse.tables import COMPACTED_TICKS, RAW_TICKS, table_uri

TABLES = {
    "raw": RAW_TICKS,
    "compacted": COMPACTED_TICKS,
    "raw, deduplicated": RAW_TICKS,
    "raw, live-compacted": RAW_TICKS,
}


def summary_sql(table: str, day: date, *, dedupe: bool = False) -> str:
    """Daily OHLCV + VWAP per ticker for `day`, the query behind a dashboard's summary table."""
    ticks = f"SELECT * FROM {table} WHERE trade_date = DATE '{day.isoformat()}'"
    if dedupe:
        ticks += (
            f" QUALIFY row_number() OVER (PARTITION BY {', '.join(OFFSET_KEY)}"
            " ORDER BY ingested_at, tick_id) = 1"
        )
    return f"""
        SELECT ticker,
               arg_min(price, event_time) AS open,
               max(price) AS high,
               min(price) AS low,
               arg_max(price, event_time) AS close,
               sum(volume) AS volume,
               sum(price * volume) / sum(volume) AS vwap,
               count(*) AS ticks
        FROM ({ticks})
        GROUP BY ticker
        ORDER BY ticker
    """


def run_query(
    s3: S3Settings, name: str, day: date, version: int, live_since: datetime | None = None
) -> dict[str, Any]:
    """The daily summary on `name` at `version`; with `live_since`, the Live page's query instead
    (its newest ticks from that event time on)."""
    con = duckdb_conn.connect(s3=s3)
    try:
        uri = table_uri(s3, TABLES[name])
        con.execute(f"ATTACH '{uri}' AS measured (TYPE delta, VERSION {version})")
        if live_since is None:
            sql, params = summary_sql("measured", day, dedupe=name == "raw, deduplicated"), []
        else:
            sql = LIVE_RECENT_SQL.format(raw="measured")
            params = [day, live_since, int(TICK_RATE_WINDOW.total_seconds() * 1e6)]
        watch = OthersWatch()
        started, cpu_started = time.monotonic(), time.process_time()
        rows = con.execute(sql, params).fetchall()
        seconds = time.monotonic() - started
        cpu_s = time.process_time() - cpu_started
        return {"seconds": seconds, "cpu_s": cpu_s, "rows": rows, "others": watch.result()}
    finally:
        con.close()


LIVE_PAGE_CASES = ("raw", "raw, live-compacted", "compacted")


def newest_event(s3: S3Settings, day: date, version: int) -> datetime:
    """The day's newest event time: the Live page reads back LIVE_WINDOW from there."""
    con = duckdb_conn.connect(s3=s3)
    try:
        uri = table_uri(s3, COMPACTED_TICKS)
        con.execute(f"ATTACH '{uri}' AS day_table (TYPE delta, VERSION {version})")
        sql = "SELECT max(event_time) FROM day_table WHERE trade_date = ?"
        return con.execute(sql, [day]).fetchone()[0]
    finally:
        con.close()


def check_live_answers(answers: dict[str, list[tuple]]) -> None:
    """The Live page shows the same last prices and times on every table; live compaction
    changes nothing at all (the tick counts of raw include its replayed copies)."""
    raw, live, compacted = (answers[n] for n in LIVE_PAGE_CASES)
    if live != raw:
        raise RuntimeError("the Live page's answer changed with the live-day compaction")
    if [r[:3] for r in raw] != [r[:3] for r in compacted]:
        raise RuntimeError("the Live page's last prices differ between raw and compacted ticks")


def day_files(s3: S3Settings, table: str, day: date) -> DayStats:
    """Rows, files and bytes of `day` in the table's current version, from its Delta log."""
    stats = table_stats(table_uri(s3, table), s3).days
    return stats.get(day.isoformat(), DayStats(0, 0, 0))


def live_compact(settings, s3: S3Settings, day: date) -> dict[str, Any]:
    """The stream's live-day compaction of `day` in raw_ticks, in a Spark session of this process
    with the stream's settings; returns the raw versions before and after it. A day compacted so
    by an earlier run (--prefix) is measured at the versions around that run's OPTIMIZE."""
    from deltalake import DeltaTable

    from spark_jobs.stream_ticks import STREAM_SPARK_CONF, compact_live_day, stop_jvm
    from stock_lakehouse.clients.s3 import deltalake_storage_options
    from stock_lakehouse.clients.spark_session import get_spark_session

    uri = table_uri(s3, RAW_TICKS)
    history = DeltaTable(uri, storage_options=deltalake_storage_options(s3)).history()
    done_before = [h["version"] for h in history if h.get("operation") == "OPTIMIZE"]
    if done_before:
        after = max(done_before)
        return {"version_before": after - 1, "version_after": after, "reused": True}
    before = table_stats(uri, s3).version
    spark = get_spark_session("bench_query_live_compaction", settings, **STREAM_SPARK_CONF)
    try:
        done = compact_live_day(spark, table_uri(s3, RAW_TICKS, scheme="s3a"), day.isoformat())
    finally:
        stop_jvm(spark)  # its JVM must not sit beside the measurements
    return {
        "version_before": before,
        "version_after": table_stats(uri, s3).version,
        "files_removed": done.files_removed,
        "files_added": done.files_added,
        "seconds": round(done.seconds, 2),
    }


def _day_at(s3: S3Settings, day: date, version: int) -> DayStats:
    stats = table_stats(table_uri(s3, RAW_TICKS), s3, version=version).days
    return stats.get(day.isoformat(), DayStats(0, 0, 0))


def latest_version(s3: S3Settings, table: str) -> int:
    return table_stats(table_uri(s3, table), s3).version


def check_answers(answers: dict[str, list[tuple]]) -> None:
    """Same tickers and OHLC everywhere; once raw is deduplicated, the same volume, count and
    VWAP (to rounding: the sums run in another order); live compaction changes no answer."""
    compacted, raw, deduped = answers["compacted"], answers["raw"], answers["raw, deduplicated"]
    live = answers["raw, live-compacted"]
    same_live = [r[:6] + r[7:] for r in live] == [r[:6] + r[7:] for r in raw] and all(
        math.isclose(a[6], b[6], rel_tol=1e-12) for a, b in zip(live, raw, strict=True)
    )
    if not same_live:  # VWAP to rounding: the files, hence the sums' order, changed
        raise RuntimeError("the daily summary changed with the live-day compaction")
    same_ohlc = [r[:5] for r in raw] == [r[:5] for r in compacted] == [r[:5] for r in deduped]
    same_rest = all(
        d[5] == c[5] and d[7] == c[7] and math.isclose(d[6], c[6], rel_tol=1e-12)
        for d, c in zip(deduped, compacted, strict=True)
    )
    if not (same_ohlc and same_rest and len(raw) == len(compacted)):
        raise RuntimeError("the daily summary differs between raw_ticks and compacted_ticks")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ticks", type=int, default=5_000_000, help="distinct ticks in the day")
    parser.add_argument("--batches", type=int, default=50, help="micro-batch appends to raw_ticks")
    parser.add_argument("--day", type=date.fromisoformat, default=DEFAULT_DAY)
    parser.add_argument("--prefix", help="reuse an earlier run's day (keeps .state/bench)")
    parser.add_argument("--repeat", type=int, default=5, help="queries per table")
    parser.add_argument(
        "--quiet-timeout", type=float, default=600, help="wait this long for others to calm down"
    )
    args = parser.parse_args(argv)

    names = tuple(TABLES)
    measured: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    measured_live: dict[str, list[dict[str, Any]]] = {name: [] for name in LIVE_PAGE_CASES}
    with bench_services(fresh=args.prefix is None) as settings:
        prefix = args.prefix or f"bench/{unique('query')}"
        folder = run_dir(prefix.rsplit("/", 1)[1])
        s3 = settings.s3.model_copy(update={"prefix": prefix})
        if args.prefix is None:
            raw = build_raw_day(
                prefix, folder, day=args.day, ticks=args.ticks, batches=args.batches
            )
            print(f"raw_ticks {raw.day}: {raw.rows:,} rows in {raw.files} files, {mib(raw.bytes)}")
        compaction = None
        if not day_files(s3, COMPACTED_TICKS, args.day).files:
            wait_for_quiet(args.quiet_timeout)  # not the measurement, but its time is reported
            engine = settings.compaction.engine_for(settings.spark.master)
            compaction = run_compaction_job(engine, prefix, args.day, folder)
            print(
                f"compacted {compaction['files_in']} -> {compaction['files_out']} files in "
                f"{compaction['seconds']:.1f} s ({compaction['wall_s']:.1f} s wall)"
            )
        files = {t: day_files(s3, TABLES[t], args.day) for t in ("raw", "compacted")}
        wait_for_quiet(args.quiet_timeout)
        live = live_compact(settings, s3, args.day)
        files["raw, live-compacted"] = day_files(s3, RAW_TICKS, args.day)
        if not live.get("reused"):
            print(
                f"live-day compaction: {live['files_removed']} -> {live['files_added']} files "
                f"in {live['seconds']:.1f} s"
            )
        files["raw"] = _day_at(s3, args.day, live["version_before"])
        versions = {
            "raw": live["version_before"],
            "raw, deduplicated": live["version_before"],
            "raw, live-compacted": live["version_after"],
            "compacted": latest_version(s3, COMPACTED_TICKS),
        }
        answers: dict[str, list[tuple]] = {}
        for n in range(args.repeat):
            order = names if n % 2 == 0 else tuple(reversed(names))
            for name in order:
                wait_for_quiet(args.quiet_timeout)
                result = run_query(s3, name, args.day, versions[name])
                answers[name] = result.pop("rows")
                measured[name].append(result)
        check_answers(answers)
        # The Live page's own query, as it runs late in the day: the newest LIVE_WINDOW of ticks.
        since = newest_event(s3, args.day, versions["compacted"]) - LIVE_WINDOW
        live_answers: dict[str, list[tuple]] = {}
        for n in range(args.repeat):
            order = LIVE_PAGE_CASES if n % 2 == 0 else tuple(reversed(LIVE_PAGE_CASES))
            for name in order:
                wait_for_quiet(args.quiet_timeout)
                result = run_query(s3, name, args.day, versions[name], live_since=since)
                live_answers[name] = result.pop("rows")
                measured_live[name].append(result)
        check_live_answers(live_answers)

    medians = {name: median([m["seconds"] for m in measured[name]]) for name in names}
    ratio = medians["raw"] / medians["compacted"]
    live_ratio = medians["raw, live-compacted"] / medians["compacted"]
    disturbed = {name: sum(m["others"]["disturbed"] for m in measured[name]) for name in names}
    print_table(
        f"daily summary of {len(answers['compacted'])} tickers, DuckDB delta_scan, "
        f"{args.repeat} queries each (fresh connection)",
        ["table", "files", "bytes", "median s", "min-max s", "cores", "disturbed"],
        [
            (
                name,
                files[_files_key(name)].files,
                mib(files[_files_key(name)].bytes),
                f"{medians[name]:.3f}",
                f"{min(m['seconds'] for m in measured[name]):.3f}-"
                f"{max(m['seconds'] for m in measured[name]):.3f}",
                f"{median([m['cpu_s'] / m['seconds'] for m in measured[name]]):.2f}",
                f"{disturbed[name]} of {args.repeat}",
            )
            for name in names
        ],
    )
    print(f"small-file penalty raw / compacted: {ratio:.2f}x")
    print(f"live-compacted raw / compacted: {live_ratio:.2f}x (target < 2)")
    live_medians = {n: median([m["seconds"] for m in measured_live[n]]) for n in LIVE_PAGE_CASES}
    live_page_ratio = live_medians["raw, live-compacted"] / live_medians["compacted"]
    print_table(
        f"the Live page's query (newest {LIVE_WINDOW} of the day), {args.repeat} queries each",
        ["table", "median s", "min-max s", "disturbed"],
        [
            (
                name,
                f"{live_medians[name]:.3f}",
                f"{min(m['seconds'] for m in measured_live[name]):.3f}-"
                f"{max(m['seconds'] for m in measured_live[name]):.3f}",
                f"{sum(m['others']['disturbed'] for m in measured_live[name])} of {args.repeat}",
            )
            for name in LIVE_PAGE_CASES
        ],
    )
    print(f"Live page, live-compacted raw / compacted: {live_page_ratio:.2f}x (target < 2)")
    write_result(
        "query",
        {
            "command": " ".join(["python -m bench.bench_query", *(argv or sys.argv[1:])]),
            "prefix": prefix,
            "day": args.day.isoformat(),
            "files": {t: stats.__dict__ for t, stats in files.items()},
            "compaction": compaction,
            "live_compaction": live,
            "queries": measured,
            "median_s": medians,
            "ratio_raw_over_compacted": ratio,
            "ratio_deduplicated_raw_over_compacted": medians["raw, deduplicated"]
            / medians["compacted"],
            "ratio_live_compacted_raw_over_compacted": live_ratio,
            "live_page_queries": measured_live,
            "live_page_median_s": live_medians,
            "live_page_ratio_live_compacted_over_compacted": live_page_ratio,
        },
    )
    return 0


def _files_key(name: str) -> str:
    return name if name in ("compacted", "raw, live-compacted") else "raw"


if __name__ == "__main__":
    raise SystemExit(main())
