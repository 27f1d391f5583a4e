"""Simulator throughput into Kafka, beside kcat producing the very same messages from a file.

    python -m bench.bench_producer [--ticks 1000000] [--runs 2]

Each producer gets a new 3-partition topic on the same broker and is timed from its start to the
last acknowledgement. The reference, kcat, runs with the simulator's own librdkafka settings
(idempotent, acks=all, lz4, the same batching), so simulator / kcat is what the Python side
(generating, encoding, one produce() call per tick) costs. kcat with librdkafka's default batching
is measured too, to show what those settings are worth.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.common import (
    BENCH_STATE_DIR,
    OthersWatch,
    bench_services,
    history_options,
    median,
    print_table,
    topic_messages,
    unique,
    wait_for_quiet,
    write_result,
)
from stock_lakehouse.settings import Settings
from stock_lakehouse.simulator.model import resolve_universe
from stock_lakehouse.simulator.producer import ensure_topic, producer_config
from stock_lakehouse.simulator.run import SimulationOptions, history_batches, run_simulation

# Keys of producer_config() that are not librdkafka properties kcat can take on its command line.
NOT_FOR_KCAT = {"bootstrap.servers", "logger"}
PRODUCERS = ("simulator", "kcat", "kcat_defaults")


def write_messages(options: SimulationOptions, path: Path) -> float:
    """The run's messages as `key<TAB>value` lines, from the simulator's own blocks and seed.

    Returns the seconds it took: what generating and encoding cost without Kafka.
    """
    assert options.seed is not None  # a random seed would give other ticks than the simulator's
    universe = resolve_universe(options.tickers)
    started = time.monotonic()
    batches = history_batches(options, universe, options.seed, [], on_event=lambda _: None)
    with path.open("wb", buffering=1 << 20) as out:
        for batch in batches:  # JSON ticks hold no tab or newline
            out.writelines(
                k + b"\t" + v + b"\n" for k, v in zip(batch.keys, batch.values, strict=True)
            )
    return time.monotonic() - started


def kcat_command(settings: Settings, topic: str, path: Path, same_config: bool) -> list[str]:
    """kcat as the brief's reference; with `same_config`, plus every producer_config() setting."""
    command = [
        "kcat", "-P", "-q", "-b", settings.kafka.bootstrap_servers, "-t", topic,
        "-K", "\\t", "-z", "lz4", "-X", "enable.idempotence=true", "-X", "acks=all",
    ]  # fmt: skip
    if same_config:
        for key, value in producer_config(settings).items():
            if key not in NOT_FOR_KCAT:
                text = str(value).lower() if isinstance(value, bool) else str(value)
                command += ["-X", f"{key}={text}"]
    return [*command, "-l", str(path)]


def run_kcat(
    settings: Settings, path: Path, ticks: int, same_config: bool, quiet_timeout: float
) -> dict[str, Any]:
    topic = unique("bench-kcat")
    ensure_topic(settings, topic, partitions=3)
    wait_for_quiet(quiet_timeout)
    watch = OthersWatch()
    started = time.monotonic()
    subprocess.run(kcat_command(settings, topic, path, same_config), check=True)
    wall = time.monotonic() - started
    others = watch.result()
    kept = topic_messages(settings, topic)
    if kept != ticks:
        raise RuntimeError(f"kcat: topic {topic} holds {kept:,} messages, expected {ticks:,}")
    return {"topic": topic, "wall_s": wall, "ticks_per_s": ticks / wall, "others": others}


def run_simulator(
    settings: Settings, options: SimulationOptions, ticks: int, quiet_timeout: float
) -> dict[str, Any]:
    ensure_topic(settings, options.topic, partitions=3)  # as for kcat: not part of the timing
    wait_for_quiet(quiet_timeout)
    watch = OthersWatch()
    started = time.monotonic()
    summary = run_simulation(settings, options, interactive=False)
    wall = time.monotonic() - started
    others = watch.result()
    kept = topic_messages(settings, options.topic)
    if summary.acked != ticks or summary.failed or kept != ticks:
        raise RuntimeError(
            f"simulator: acked {summary.acked:,}, failed {summary.failed:,}, topic holds "
            f"{kept:,}, expected {ticks:,} ({summary.first_error})"
        )
    return {
        "topic": options.topic,
        "wall_s": wall,
        "ticks_per_s": ticks / wall,
        "send_s": summary.elapsed_s,  # send_messages' own clock: first produce() to last ack
        "others": others,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # 1M, not 300k: kcat sends 300k in ~0.5 s, too short a run for a steady figure.
    parser.add_argument("--ticks", type=int, default=1_000_000, help="messages per producer run")
    parser.add_argument("--days", type=int, default=5, help="history sessions to spread them over")
    parser.add_argument("--runs", type=int, default=2, help="repetitions (the order rotates)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--quiet-timeout", type=float, default=600, help="wait this long for others to calm down"
    )
    args = parser.parse_args(argv)
    if not shutil.which("kcat"):
        raise SystemExit("error: kcat not found - run 'apt-get install kcat' (or 'make bench')")
    kcat_version = subprocess.run(["kcat", "-V"], capture_output=True, text=True, check=False)

    runs = []
    with bench_services() as settings:
        path = BENCH_STATE_DIR / "producer" / "messages.tsv"
        path.parent.mkdir(parents=True, exist_ok=True)
        base = history_options(settings, "unused", args.ticks, args.days, args.seed)
        generate_s = write_messages(base, path)
        for n in range(args.runs):
            order = PRODUCERS[n % 3 :] + PRODUCERS[: n % 3]  # nobody always goes first
            result: dict[str, Any] = {"run": n + 1, "order": order}
            for name in order:
                if name == "simulator":
                    options = history_options(
                        settings, unique("bench-sim"), args.ticks, args.days, args.seed
                    )
                    measured = run_simulator(settings, options, args.ticks, args.quiet_timeout)
                else:
                    same = name == "kcat"
                    measured = run_kcat(settings, path, args.ticks, same, args.quiet_timeout)
                result[name] = measured
                flag = " (disturbed)" if measured["others"]["disturbed"] else ""
                print(
                    f"run {n + 1} {name}: {measured['ticks_per_s']:,.0f} ticks/s "
                    f"({measured['wall_s']:.2f} s){flag}"
                )
            result["ratio"] = result["simulator"]["ticks_per_s"] / result["kcat"]["ticks_per_s"]
            runs.append(result)

    print_table(
        f"producer: {args.ticks:,} ticks into Kafka, simulator vs kcat (same producer settings)",
        ["run", "simulator/s", "kcat/s", "ratio", "kcat defaults/s", "others' CPU share"],
        [
            (
                r["run"],
                f"{r['simulator']['ticks_per_s']:,.0f}",
                f"{r['kcat']['ticks_per_s']:,.0f}",
                f"{r['ratio']:.3f}",
                f"{r['kcat_defaults']['ticks_per_s']:,.0f}",
                " / ".join(f"{r[p]['others']['others_share']:.0%}" for p in PRODUCERS),
            )
            for r in runs
        ],
    )
    print(f"generating + encoding alone (to a file): {args.ticks / generate_s:,.0f} ticks/s")
    write_result(
        "producer",
        {
            "command": " ".join(["python -m bench.bench_producer", *(argv or sys.argv[1:])]),
            "ticks": args.ticks,
            "days": args.days,
            "seed": args.seed,
            "kcat_version": re.findall(r"^Version .*$", kcat_version.stdout, re.MULTILINE),
            "kcat_command": kcat_command(settings, "<topic>", path, same_config=True),
            "generate_encode_ticks_per_s": args.ticks / generate_s,
            "runs": runs,
            "median_ratio": median([r["ratio"] for r in runs]),
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
