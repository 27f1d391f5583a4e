"""What every benchmark shares: private services, Kafka counts, machine facts, results, tables.

The services run on ports and a state folder of their own (.state/bench), the way the test
fixtures do it, so a benchmark never disturbs a demo on the default ports or a test session on
12xxx, and vice versa. Every port, SeaweedFS's gRPC ports (+10000) included, is below 32768.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from stock_lakehouse.settings import PROJECT_ROOT, Settings, get_settings

BENCH_STATE_DIR = PROJECT_ROOT / ".state" / "bench"
RESULTS_DIR = PROJECT_ROOT / "bench" / "results"
BENCH_ENV = {
    "STOCK_LAKEHOUSE_STATE_DIR": str(BENCH_STATE_DIR),
    "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:17092",
    "STOCK_LAKEHOUSE_KAFKA_CONTROLLER_PORT": "17093",
    "STOCK_LAKEHOUSE_SEAWEED_MASTER_PORT": "17333",
    "STOCK_LAKEHOUSE_SEAWEED_VOLUME_PORT": "17334",
    "STOCK_LAKEHOUSE_SEAWEED_FILER_PORT": "17335",
    "S3_ENDPOINT_URL": "http://127.0.0.1:16333",
    "S3_BUCKET": "lakehouse-bench",
}
# Every process group a benchmark started (its own included): anything else busy is "foreign".
OWN_GROUPS: set[int] = {os.getpgrp()}
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# Others using more than this share of all cores during a measurement flag it as disturbed.
DISTURBED_SHARE = 0.10
console = Console(width=110)  # wide enough for the tables when piped to a file


def bench_settings() -> Settings:
    """Settings for the bench services; the environment is set first so subprocesses see it too."""
    os.environ.update(BENCH_ENV)
    get_settings.cache_clear()
    return get_settings()


@contextmanager
def bench_services(fresh: bool = True) -> Iterator[Settings]:
    """Kafka and the S3 store on the bench ports, stopped by PID afterwards.

    `fresh` wipes the services' data first (a 1M-tick topic is ~200 MB, and old topics and tables
    are not needed); .state/bench/runs keeps each run's job log and checkpoint for a look later.
    """
    from stock_lakehouse.services.manager import LocalServices

    settings = bench_settings()
    local = LocalServices(settings)
    local.down()  # a benchmark killed mid-way may have left its servers running
    if fresh and BENCH_STATE_DIR.exists():
        for child in BENCH_STATE_DIR.iterdir():
            if child.name != "runs":
                shutil.rmtree(child, ignore_errors=True)
    try:
        started = time.monotonic()
        local.up()
        warm_up_broker(settings)
        console.print(f"bench services up in {time.monotonic() - started:.1f} s", highlight=False)
        yield settings
    finally:
        console.print("stopping bench services", highlight=False)
        local.down()


def warm_up_broker(settings: Settings) -> None:
    """One idempotent produce before any measurement: on a new broker the first one waits ~2 s
    for the transaction coordinator to load (GETPID "Coordinator load in progress")."""
    from stock_lakehouse.clients import kafka
    from stock_lakehouse.simulator.producer import ensure_topic, producer_config

    ensure_topic(settings, "bench-warm-up", partitions=1)
    producer = kafka.producer(settings, producer_config(settings))
    producer.produce("bench-warm-up", b"warm-up")
    if producer.flush(60):
        raise RuntimeError("the bench broker did not acknowledge a warm-up message within 60 s")


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def run_dir(name: str) -> Path:
    folder = BENCH_STATE_DIR / "runs" / name
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def history_options(settings: Settings, topic: str, ticks: int, days: int, seed: int):
    """A history run of exactly `ticks` good ticks, no bad ones, over `days` sessions."""
    from stock_lakehouse.simulator.run import SimulationOptions

    if ticks % days:
        raise SystemExit(f"error: --ticks {ticks} must be a multiple of --days {days}")
    return SimulationOptions(
        mode="history",
        topic=topic,
        tickers=tuple(settings.market.ticker_list),
        seed=seed,
        days=days,
        ticks_per_day=ticks // days,
        # Fixed, so two runs of one benchmark (and the kcat file) see the very same ticks.
        end_date=date.today(),
        labels_path=BENCH_STATE_DIR / "simulator" / f"{topic}.jsonl",
        partitions=3,
    )


def partition_ends(settings: Settings, topic: str) -> list[int]:
    """High watermark of each partition of `topic`, in partition order."""
    from stock_lakehouse.clients.kafka import end_offsets

    ends = end_offsets(settings, topic)
    if not ends:
        raise RuntimeError(f"topic {topic} has no partitions on the bench broker")
    return [ends[p] for p in sorted(ends)]


def topic_messages(settings: Settings, topic: str) -> int:
    """Messages in `topic` (sum of high watermarks): what the broker acknowledged and kept."""
    return sum(partition_ends(settings, topic))


def _cpu_seconds(proc: Path) -> float:
    fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


def others_cpu() -> dict[int, tuple[str, float]]:
    """CPU seconds so far of every process this benchmark did not start (tests, a demo, ...)."""
    found = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            pgrp = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[2])
            cpu = _cpu_seconds(proc)
        except (OSError, ValueError, IndexError):
            continue
        if pgrp in OWN_GROUPS or str(BENCH_STATE_DIR) in cmdline or not cmdline:
            continue
        found[int(proc.name)] = (cmdline[:100].strip(), cpu)
    return found


class OthersWatch:
    """How much CPU other processes took while a measurement ran: the disturbance, in numbers.

    On 2 cores a test session's Spark job alone can take 1.7 cores; a measurement during which
    others took more than ~10% of the machine is flagged as disturbed. Sampled every second, not
    just at both ends: a test JVM that exits mid-measurement takes its CPU time with it (a first
    version saw 3% where batches ran twice as slow).
    """

    def __init__(self, every: float = 1.0) -> None:
        self.started = time.monotonic()
        self.loadavg_1m = round(os.getloadavg()[0], 2)
        self._last = others_cpu()
        self._used: dict[int, float] = {}
        self._names: dict[int, str] = {pid: name for pid, (name, _) in self._last.items()}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(every,), daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        now = others_cpu()
        for pid, (name, cpu) in now.items():
            # A process first seen now started since the last sample: all its CPU is new.
            self._used[pid] = self._used.get(pid, 0.0) + cpu - self._last.get(pid, ("", 0.0))[1]
            self._names[pid] = name
        self._last = now

    def _run(self, every: float) -> None:
        while not self._stop.wait(every):
            self._sample()

    def result(self) -> dict[str, Any]:
        self._stop.set()
        self._thread.join()
        self._sample()
        wall = max(time.monotonic() - self.started, 1e-9)
        used = self._used
        busiest = [p for p in sorted(used, key=used.__getitem__, reverse=True)[:3] if used[p] > 0.5]
        share = sum(used.values()) / (wall * (os.cpu_count() or 1))
        return {
            "loadavg_1m_before": self.loadavg_1m,
            "others_cpu_s": round(sum(used.values()), 2),
            "others_share": round(share, 3),
            "disturbed": share > DISTURBED_SHARE,
            "busiest_others": [f"{used[p]:.1f}s {self._names[p][:80]}" for p in busiest],
        }


class GroupCpu:
    """CPU seconds used by one process group (a job's Python driver and its JVM), sampled every
    second so a process that exits early still counts."""

    def __init__(self, pgid: int, every: float = 1.0) -> None:
        self.pgid = pgid
        self._seen: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(every,), daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                if int((proc / "stat").read_text().rsplit(")", 1)[1].split()[2]) == self.pgid:
                    self._seen[int(proc.name)] = _cpu_seconds(proc)
            except (OSError, ValueError, IndexError):
                continue

    def _run(self, every: float) -> None:
        while not self._stop.wait(every):
            self._sample()

    def result(self) -> float:
        self._stop.set()
        self._thread.join()
        return round(sum(self._seen.values()), 2)

    def now(self) -> float:
        """CPU seconds of the group so far (a fresh sample), for the share over a window."""
        self._sample()
        return sum(self._seen.values())


def wait_for_quiet(timeout: float, window: float = 5.0) -> bool:
    """Wait until others use under 10% of the machine over `window` s (at most `timeout` s)."""
    deadline = time.monotonic() + timeout
    announced = False
    while True:
        watch = OthersWatch()
        time.sleep(window)
        state = watch.result()
        if not state["disturbed"]:
            return True
        if time.monotonic() >= deadline:
            console.print("machine still busy: measuring anyway (flagged)", highlight=False)
            return False
        if not announced:
            console.print(
                f"waiting for a quiet machine (others use {state['others_share']:.0%}: "
                f"{'; '.join(state['busiest_others'])[:160]})",
                highlight=False,
            )
            announced = True


def machine() -> dict[str, Any]:
    """The facts docs/benchmarks.md reports for each figure."""
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.MULTILINE)
    meminfo = Path("/proc/meminfo").read_text()
    mem_kib = int(re.search(r"^MemTotal:\s+(\d+)", meminfo, re.MULTILINE).group(1))  # type: ignore[union-attr]
    java = subprocess.run(["java", "-version"], capture_output=True, text=True, check=False)
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model.group(1) if model else platform.processor(),
        "mem_gib": round(mem_kib / 2**20, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "java": (java.stderr or java.stdout).splitlines()[0] if java.returncode == 0 else None,
    }


def code_version() -> dict[str, Any]:
    """The commit measured, and whether the measured code differed from it (read-only git)."""

    def git(*args: str) -> str:
        result = subprocess.run(
            ["git", *args], cwd=PROJECT_ROOT, capture_output=True, text=True, check=False
        )
        return result.stdout.strip()

    changed = git("diff", "--name-only", "HEAD", "--", "stock_lakehouse", "spark_jobs")
    return {"commit": git("rev-parse", "HEAD"), "uncommitted_changes": changed.splitlines()}


def write_result(name: str, payload: dict[str, Any]) -> Path:
    """bench/results/<name>-<UTC time>.json (git-ignored): one file per invocation."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS_DIR / f"{name}-{stamp}.json"
    document = {
        "benchmark": name,
        "finished_at": stamp,
        "machine": machine(),
        "code": code_version(),
        **payload,
    }
    path.write_text(json.dumps(document, indent=2, default=str) + "\n")
    console.print(f"result written to {path.relative_to(PROJECT_ROOT)}", highlight=False)
    return path


def print_table(title: str, headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    table = Table(title=title, title_justify="left")
    for index, header in enumerate(headers):
        table.add_column(header, justify="left" if index == 0 else "right")
    for row in rows:
        table.add_row(*(str(cell) for cell in row))
    console.print(table)


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")
