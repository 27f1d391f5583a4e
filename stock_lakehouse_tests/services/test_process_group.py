"""Stopping a server the project started ends what it started too: the Dagster webserver's and
daemon's code servers and run workers are their children, and must not outlive them."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from stock_lakehouse.process_identity import group_members, process_start_ticks
from stock_lakehouse.services.process import ManagedProcess

# A server that starts two children in its group, one of them deaf to SIGTERM, writes their
# PIDs, and ends on SIGTERM at once, leaving both behind as orphans.
PARENT = """
import os, signal, subprocess, sys, time
polite = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
deaf = subprocess.Popen([sys.executable, "-c",
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)"])
time.sleep(0.5)  # the deaf child has set its handler
open(sys.argv[1], "w").write(f"{polite.pid} {deaf.pid}")
signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
time.sleep(600)
"""


def python_server(
    folder: Path, script: str, ready: Path, args: list[str] | None = None
) -> ManagedProcess:
    """A managed `python -c script`, healthy once it has written `ready`; 2 s of orphan grace."""
    return ManagedProcess(
        name="server",
        command=[sys.executable, "-c", script, *(args or [])],
        run_dir=folder,
        ports=[],
        healthy=ready.exists,
        start_timeout=30,
        orphan_grace=2,
    )


def test_stop_ends_the_children_a_server_leaves_in_its_group_even_one_deaf_to_sigterm(
    tmp_path: Path,
):
    children_file = tmp_path / "children"
    server = python_server(tmp_path, PARENT, ready=children_file, args=[str(children_file)])
    server.start()
    leader = server.pid()
    assert leader is not None
    polite, deaf = (int(pid) for pid in children_file.read_text().split())
    try:
        assert set(group_members(leader)) == {leader, polite, deaf}
        assert server.stop()
        assert process_start_ticks(leader) is None
        assert process_start_ticks(polite) is None
        assert process_start_ticks(deaf) is None  # SIGKILL after the grace
        assert group_members(leader) == []
    finally:
        for pid in (polite, deaf):  # only if the assertions above failed
            if process_start_ticks(pid) is not None:
                os.kill(pid, 9)


def test_stop_leaves_alone_a_process_the_server_started_in_a_session_of_its_own(tmp_path: Path):
    """Like the stream, which Pipes starts in its own group: its lease stops it, not the server."""
    own = tmp_path / "own"
    script = (
        "import subprocess, sys, time\n"
        "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'],"
        " start_new_session=True)\n"
        f"open({str(own)!r}, 'w').write(str(p.pid))\n"
        "time.sleep(600)\n"
    )
    server = python_server(tmp_path, script, ready=own)
    server.start()
    child = int(own.read_text())
    try:
        assert server.stop()
        time.sleep(0.5)
        assert process_start_ticks(child) is not None
    finally:
        os.kill(child, 9)
