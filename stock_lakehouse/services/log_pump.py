"""Copies a server's output into its log file, rotating the file by size.

    python stock_lakehouse/services/log_pump.py LOG_FILE MAX_BYTES BACKUPS  < server output

A server the project starts (Kafka, SeaweedFS, Dagster, Streamlit) writes to a pipe read by this
pump, not to the file itself, so the file can be rotated while the server runs: past MAX_BYTES it
becomes LOG_FILE.1 (the older ones .2 ... .BACKUPS, the oldest dropped) at a line boundary, and a
new LOG_FILE starts. The pump ends when the server and everything that inherited its output have
exited (end of input), children that outlived the server included. It ignores SIGINT and SIGTERM
and is never killed: a server whose reader died would die of a broken pipe at its next log line,
so the pump outlives the server, never the other way round. A failed write (a full disk) drops
that output and the pump keeps reading, for the same reason.
Run as a plain script (no package imports) so it starts in a few tens of milliseconds.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

CHUNK = 64 * 1024


def rotate(path: Path, backups: int) -> None:
    """LOG -> LOG.1 -> LOG.2 ... -> LOG.<backups>; with no backups the file is just dropped."""
    if backups <= 0:
        path.unlink(missing_ok=True)
        return
    for n in range(backups - 1, 0, -1):
        older = path.with_name(f"{path.name}.{n}")
        if older.exists():
            older.replace(path.with_name(f"{path.name}.{n + 1}"))
    if path.exists():
        path.replace(path.with_name(f"{path.name}.1"))


def pump(source: int, path: Path, max_bytes: int, backups: int) -> None:
    """Copy `source` (a file descriptor) into `path` until end of input, rotating past
    `max_bytes` at the first line end after the limit."""
    while True:
        try:
            _copy(source, path, max_bytes, backups)
            return
        except OSError:  # the disk is full or the folder went away: drain, retry on new output
            if not os.read(source, CHUNK):
                return


def _copy(source: int, path: Path, max_bytes: int, backups: int) -> None:
    out = path.open("ab")
    size = out.tell()
    try:
        while chunk := os.read(source, CHUNK):
            while chunk:
                if size < max_bytes:
                    out.write(chunk)
                    size += len(chunk)
                    chunk = b""
                    continue
                line_end = chunk.find(b"\n")
                if line_end < 0:  # finish the current line in this file first
                    out.write(chunk)
                    size += len(chunk)
                    break
                out.write(chunk[: line_end + 1])
                chunk = chunk[line_end + 1 :]
                out.close()
                rotate(path, backups)
                out = path.open("ab")
                size = 0
            out.flush()
    finally:
        out.close()


def main(argv: list[str]) -> int:
    path, max_bytes, backups = Path(argv[0]), int(argv[1]), int(argv[2])
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    pump(sys.stdin.fileno(), path, max_bytes, backups)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
