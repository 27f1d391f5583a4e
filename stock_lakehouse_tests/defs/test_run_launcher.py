"""The run launcher tells the daemon's run monitoring whether a run's worker process lives."""

from __future__ import annotations

import subprocess
import sys
import time

import dagster as dg
from dagster._core.events import EngineEventData
from dagster._core.launcher import WorkerStatus

from stock_lakehouse.run_launcher import LocalRunLauncher, is_run_worker

LAUNCHER = {"run_launcher": {"module": "stock_lakehouse.run_launcher", "class": "LocalRunLauncher"}}


@dg.op
def noop() -> None:
    pass


@dg.job
def some_job() -> None:
    noop()


def test_a_run_whose_recorded_worker_died_is_reported_failed_and_a_live_one_running():
    worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        with dg.instance_for_test(overrides=LAUNCHER) as instance:
            launcher = instance.run_launcher
            assert isinstance(launcher, LocalRunLauncher)
            run = instance.create_run_for_job(some_job)
            # No PID recorded yet: the start timeout, not the health check, covers that.
            assert launcher.check_run_worker_health(run).status == WorkerStatus.RUNNING

            time.sleep(0.1)
            instance.report_engine_event(
                f"Started process for run (pid: {worker.pid}).",
                run,
                EngineEventData.in_process(worker.pid),
            )
            health = launcher.check_run_worker_health(run)
            assert health.status == WorkerStatus.RUNNING, health

            worker.kill()
            worker.wait(timeout=10)
            health = launcher.check_run_worker_health(run)
            assert health.status == WorkerStatus.FAILED, health
            assert f"PID {worker.pid} is gone" in health.msg
    finally:
        worker.kill()
        worker.wait(timeout=10)


def test_a_recycled_pid_that_started_after_the_run_recorded_it_is_not_its_worker():
    with dg.instance_for_test(overrides=LAUNCHER) as instance:
        run = instance.create_run_for_job(some_job)
        instance.report_engine_event(
            "Started process for run (pid: 1).", run, EngineEventData.in_process(1)
        )
        later = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        try:
            # PID 1 started at boot, before the event: alive. A PID started after it is not ours.
            assert instance.run_launcher.check_run_worker_health(run).status == WorkerStatus.RUNNING
            assert not is_run_worker(later.pid, recorded_at=time.time() - 3600)
        finally:
            later.kill()
            later.wait(timeout=10)
