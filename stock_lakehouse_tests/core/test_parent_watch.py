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


def dead_pid() -> int:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    return gone.pid


def test_a_job_whose_launcher_died_before_the_watch_began_stops_at_once():
    # The launcher died while the job was still importing: the job was re-parented before its
    # watchdog started, and must still notice.
    launcher = dead_pid()
    done = run_child({PARENT_PID_ENV: str(launcher)}, timeout=15)
    assert done.returncode == 7, done.stderr
    assert f"parent PID {launcher} is gone" in done.stdout


def runs_on(env: dict[str, str]) -> bool:
    try:
        run_child(env, timeout=2)
    except subprocess.TimeoutExpired:
        return True  # still running after 2 s: the watchdog left it alone (run() killed it)
    return False


def test_a_job_whose_launcher_lives_runs_on():
    assert runs_on(parent_env())


def test_a_pid_inherited_from_a_living_ancestor_is_not_taken_for_a_dead_launcher():
    # pytest's own parent lives but is not the child's parent: an ancestor's leftover variable.
    assert runs_on({PARENT_PID_ENV: str(os.getppid())})
