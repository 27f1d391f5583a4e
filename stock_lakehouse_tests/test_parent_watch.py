"""parent_watch: a job whose launcher is gone stops, even if it died before the watch started."""

from __future__ import annotations

import os
import subprocess
import sys

from stock_lakehouse.parent_watch import PARENT_PID_ENV, parent_env
from stock_lakehouse.settings import PROJECT_ROOT

CHILD = (
    "import os, time\n"
    "from stock_lakehouse.parent_watch import on_parent_exit\n"
    "on_parent_exit(lambda why: (print(why, flush=True), os._exit(7)), interval=0.1)\n"
    "time.sleep(20)\n"
    "os._exit(0)\n"
)


def run_child(env: dict[str, str], timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", CHILD],
        env={**os.environ, **env},
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_a_job_whose_declared_launcher_is_not_its_parent_stops_at_once():
    # PID 1 stands for a launcher that died while the job was still importing: the job was
    # re-parented before its watchdog started, and must still notice.
    done = run_child({PARENT_PID_ENV: "1"}, timeout=15)
    assert done.returncode == 7, done.stderr
    assert "parent PID 1 is gone" in done.stdout


def test_a_job_whose_launcher_lives_runs_on():
    try:
        run_child(parent_env(), timeout=2)
    except subprocess.TimeoutExpired:
        return  # still running after 2 s: the watchdog left it alone (run() killed it)
    raise AssertionError("the job stopped although its launcher lives")
