"""Which process a PID is: its start time tells a live process from a recycled PID.

PID files (services/process.py), the stream's lease (stream_lease.py) and the run launcher all
record a PID with its start time, so that a PID the kernel handed to another program is not ours.
A server or a stream runs in a process group of its own, so its group is what must end with it.
"""

from __future__ import annotations

import time
from pathlib import Path


def process_start_ticks(pid: int) -> str | None:
    """Start time of a PID in clock ticks since boot (Linux), or None if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Field 22 counts after the command name, which may contain spaces inside parentheses.
    fields = stat.rsplit(")", 1)[1].split()
    if fields[0] == "Z":  # a zombie is gone for our purposes
        return None
    return fields[19]


def group_members(pgid: int) -> list[int]:
    """Live (not zombie) PIDs of a process group, from /proc."""
    members = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[2]) == pgid:
            members.append(int(proc.name))
    return members


def group_ends_within(pgid: int, seconds: float, poll: float = 0.1) -> bool:
    """Wait up to `seconds` for the group to have no live member; True if it has none."""
    deadline = time.monotonic() + seconds
    while group_members(pgid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(poll)
    return True
