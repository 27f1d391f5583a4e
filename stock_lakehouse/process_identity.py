"""Which process a PID is: its start time tells a live process from a recycled PID.

PID files (services/process.py), the stream's lease (stream_lease.py) and the run launcher all
record a PID with its start time, so that a PID the kernel handed to another program is not ours.
"""

from __future__ import annotations

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
