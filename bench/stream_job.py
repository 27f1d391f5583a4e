"""The real stream job (spark_jobs/stream_ticks.py) as a benchmark runs it: its own process.

Started exactly as an operator or Dagster starts it, in a process group of its own, with a fresh
S3 prefix and checkpoint so runs never share a table. Stopped by its PID: SIGTERM to the Python
driver (it finishes the current batch), and SIGKILL to its group only if it does not exit.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from bench.common import OWN_GROUPS
from stock_lakehouse.settings import PROJECT_ROOT

STREAM_JOB = PROJECT_ROOT / "spark_jobs" / "stream_ticks.py"


@dataclass(frozen=True)
class BatchLine:
    batch_id: int
    raw_rows: int
    quarantined_rows: int
    seconds: float  # the foreachBatch call: parse, count, two Delta appends
    logged_at: float  # epoch seconds, when the batch had committed both tables


def results_path(log: Path) -> Path:
    """Where a job started with `log` writes its `--result-json` lines."""
    return log.with_suffix(".results.jsonl")


def start_python(args: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """`python <args>` from the project root, in a new process group (driver + its JVM)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, *args],
            env={**os.environ, **env},
            cwd=PROJECT_ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    OWN_GROUPS.add(proc.pid)
    return proc


def start_stream_job(
    topic: str,
    prefix: str,
    checkpoint: Path,
    log: Path,
    *,
    available_now: bool = False,
    trigger_seconds: float | None = None,
    max_offsets_per_trigger: int = 200_000,
) -> subprocess.Popen[bytes]:
    env = {
        "S3_PREFIX": prefix,
        "STREAM_CHECKPOINT_DIR": str(checkpoint),
        "STREAM_MAX_OFFSETS_PER_TRIGGER": str(max_offsets_per_trigger),
        "STREAM_STARTING_OFFSETS": "earliest",
    }
    if trigger_seconds is not None:
        env["STREAM_TRIGGER_SECONDS"] = str(trigger_seconds)
    args = [str(STREAM_JOB), "--topic", topic, "--result-json", str(results_path(log))]
    if available_now:
        args.append("--available-now")
    return start_python(args, log, env)


def read_job_log(log: Path) -> tuple[float | None, list[BatchLine]]:
    """(when the query had started, every batch) from the job's `--result-json` lines."""
    started: float | None = None
    batches = []
    path = results_path(log)
    lines = path.read_text().splitlines() if path.exists() else []
    for line in lines:
        if not line.endswith("}"):
            continue  # a line the job is still writing
        event = json.loads(line)
        if event["event"] == "started":
            started = event["at"]
        elif event["event"] == "batch":
            batches.append(
                BatchLine(
                    event["batch_id"],
                    event["raw_rows"],
                    event["quarantined_rows"],
                    event["seconds"],
                    event["at"],
                )
            )
    return started, batches


def wait_started(proc: subprocess.Popen[bytes], log: Path, timeout: float = 240) -> float:
    """Block until the job logs that its query started; its time, epoch seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"stream job exited with {proc.returncode} - see {log}")
        started, _ = read_job_log(log)
        if started is not None:
            return started
        time.sleep(0.25)
    raise RuntimeError(f"stream job did not start within {timeout:.0f} s - see {log}")


def stop_job(proc: subprocess.Popen[bytes], timeout: float = 120) -> None:
    """SIGTERM to the driver's PID (not the group: the JVM would die mid-batch), then clean up."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=60)
    reap_group(proc.pid)


def reap_group(pgid: int, grace: float = 20) -> None:
    """The JVM exits once its driver's pipe closes; SIGKILL what of the group outlives `grace`."""
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)
