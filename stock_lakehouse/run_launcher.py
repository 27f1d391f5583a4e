"""Dagster's default run launcher, plus a health check of each run's worker process.

The daemon's run monitoring marks a run failed when its launcher reports the worker dead, but the
DefaultRunLauncher cannot tell: a run whose worker was killed stays STARTED whenever the code
server that spawned it did not notice (it restarted, or died with the worker). Here every run
worker runs on this machine, so its PID, which the code server records in the run's
"Started process for run (pid: N)" event, answers the question. dagster.yaml selects it.
"""

from __future__ import annotations

import os
from pathlib import Path

from dagster import DagsterEventType, DagsterRun, DefaultRunLauncher
from dagster._core.launcher import CheckRunHealthResult, WorkerStatus

from stock_lakehouse.process_identity import process_start_ticks


def run_worker_pid(instance, run_id: str) -> tuple[int, float] | None:
    """The PID the code server recorded for the run's worker, and when; None before it has."""
    records = instance.get_records_for_run(
        run_id, of_type=DagsterEventType.ENGINE_EVENT, limit=50
    ).records
    for record in records:
        event = record.event_log_entry.dagster_event
        data = event.engine_event_data if event else None
        if data and "pid" in data.metadata and "Started process for run" in (event.message or ""):
            return int(data.metadata["pid"].value), record.event_log_entry.timestamp
    return None


def process_started_at(pid: int) -> float | None:
    """When the PID's process started (epoch seconds), None if it is gone (Linux /proc)."""
    ticks = process_start_ticks(pid)
    if ticks is None:
        return None
    boot = next(
        float(line.split()[1])
        for line in Path("/proc/stat").read_text().splitlines()
        if line.startswith("btime ")
    )
    return boot + int(ticks) / os.sysconf("SC_CLK_TCK")


def is_run_worker(pid: int, recorded_at: float) -> bool:
    """The PID lives and is the process recorded then: a recycled PID started later.

    (The worker is a multiprocessing child of the code server: its command line does not say
    Dagster, so the start time is what identifies it.)
    """
    started = process_started_at(pid)
    return started is not None and started <= recorded_at + 2  # /proc/stat's btime: 1 s steps


class LocalRunLauncher(DefaultRunLauncher):
    """DefaultRunLauncher whose run workers the daemon can check by PID (one machine)."""

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run: DagsterRun) -> CheckRunHealthResult:
        recorded = run_worker_pid(self._instance, run.run_id)
        if recorded is None:  # started a moment ago: the start timeout covers one that never ran
            return CheckRunHealthResult(WorkerStatus.RUNNING, "no worker PID recorded yet")
        pid, recorded_at = recorded
        if is_run_worker(pid, recorded_at):
            return CheckRunHealthResult(WorkerStatus.RUNNING, f"run worker PID {pid} is alive")
        return CheckRunHealthResult(WorkerStatus.FAILED, f"run worker PID {pid} is gone")
