"""A job started by a Dagster run worker must not outlive it.

When the worker dies (killed, out of memory), its children are re-parented and would go on
writing while run monitoring marks the run failed and run retries (dagster.yaml) start another:
two writers on one table. A watchdog thread notices the new parent and acts. It polls rather than
using Linux's parent-death signal, which fires when the parent's *thread* ends, and which a
parent that died before the child armed it never sends.

The launcher puts its PID in PARENT_PID_ENV: a child whose parent died while it was still
importing (before the watchdog started) then sees the difference at once. The variable is
inherited by every later descendant too, so a declared PID that lives but is not this process's
parent is an ancestor's, not a dead launcher's, and is ignored.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

PARENT_PID_ENV = "STOCK_LAKEHOUSE_PARENT_PID"


def parent_env() -> dict[str, str]:
    """The environment entry a launcher gives the jobs it starts."""
    return {PARENT_PID_ENV: str(os.getpid())}


def on_parent_exit(
    act: Callable[[str], None], until: threading.Event | None = None, interval: float = 1.0
) -> threading.Thread:
    """Call `act(why)` once if this process's parent changes, unless `until` is set first."""
    parent = os.getppid()
    declared = os.environ.get(PARENT_PID_ENV, "")
    if declared.isdigit() and int(declared) != parent and not Path(f"/proc/{declared}").exists():
        parent = int(declared)  # the launcher died before this watch began

    def watch() -> None:
        while until is None or not until.is_set():
            if os.getppid() != parent:
                act(f"parent PID {parent} is gone")
                return
            time.sleep(interval)

    thread = threading.Thread(target=watch, name="parent-watchdog", daemon=True)
    thread.start()
    return thread


def exit_with_parent(program: str) -> threading.Thread:
    """End this process at once, from the watchdog thread, when its launcher dies.

    For jobs whose writes are atomic (a Delta commit, a DuckDB transaction): an unfinished one
    either landed or never will, so nothing is worth waiting for.
    """

    def stop(why: str) -> None:
        print(f"{program}: stopping, {why} (the run worker died)", file=sys.stderr, flush=True)
        logging.shutdown()
        os._exit(3)

    return on_parent_exit(stop)
