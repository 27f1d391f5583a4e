"""One stream per checkpoint: a lease the stream holds on its checkpoint folder while it runs.

Spark finds a second query on the same checkpoint only minutes later, when both write the same
batch (`CONCURRENT_STREAM_LOG_UPDATE`). The lease finds it before Spark starts: the stream takes
an exclusive `flock` on `<checkpoint>/stream.lease` and writes who it is (PID, its start time,
since when, the Dagster run) into the file. The kernel drops the lock when the process ends, even
on `kill -9`, so a lease is never stale; the file only says who held it last.

Local checkpoints only: a checkpoint on an object store would need a lease of its own there.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from stock_lakehouse.errors import UserFacingError
from stock_lakehouse.process_identity import group_members, process_start_ticks

LEASE_FILE = "stream.lease"
STREAM_SCRIPT = "stream_ticks.py"
# The Dagster run that supervises a stream: the ingest_stream op sets it, the lease names it.
RUN_ID_ENV = "STOCK_LAKEHOUSE_RUN_ID"


@dataclass(frozen=True)
class LeaseHolder:
    pid: int
    start_ticks: str | None  # with the PID, identifies the process (PIDs are recycled)
    since: str  # ISO time, UTC
    run_id: str | None  # the Dagster run supervising it, if any
    checkpoint: str

    def alive(self) -> bool:
        return self.start_ticks is not None and process_start_ticks(self.pid) == self.start_ticks

    def is_project_stream(self) -> bool:
        """The PID still runs this project's stream job (not a recycled PID of another program)."""
        try:
            cmdline = Path(f"/proc/{self.pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            return False
        return self.alive() and any(part.endswith(STREAM_SCRIPT.encode()) for part in cmdline)

    def describe(self) -> str:
        run = f", Dagster run {self.run_id}" if self.run_id else ", started by hand"
        return f"PID {self.pid} (since {self.since}{run})"


class CheckpointHeld(UserFacingError):
    """Another stream holds the lease: one line names it and says what to do."""

    def __init__(self, checkpoint: Path, holder: LeaseHolder | None) -> None:
        self.holder = holder
        who = holder.describe() if holder else "another process"
        super().__init__(
            f"checkpoint {checkpoint} is in use by the stream {who} - only one stream may run on "
            "a checkpoint: stop that one first ('stock-lakehouse services down' stops every "
            "stream, or terminate its Dagster run), or pass another --checkpoint"
        )


class StreamLease:
    """The lease on one checkpoint folder."""

    def __init__(self, checkpoint: Path) -> None:
        self.checkpoint = checkpoint
        self.path = checkpoint / LEASE_FILE
        self._fd: int | None = None

    def acquire(self, run_id: str | None = None) -> None:
        """Take the lease for this process, or raise CheckpointHeld naming the holder."""
        self.checkpoint.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise CheckpointHeld(self.checkpoint, self.holder()) from None
        me = LeaseHolder(
            pid=os.getpid(),
            start_ticks=process_start_ticks(os.getpid()),
            since=datetime.now(UTC).isoformat(timespec="seconds"),
            run_id=run_id,
            checkpoint=str(self.checkpoint),
        )
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(asdict(me)).encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing drops the lock
            self._fd = None

    def holder(self) -> LeaseHolder | None:
        """Who holds the lease now, or None when nobody does."""
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return None
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                pass  # held: read who holds it
            else:
                return None  # we could lock it, so nobody holds it
            with contextlib.suppress(ValueError, TypeError):
                return LeaseHolder(**json.loads(os.pread(fd, 4096, 0)))
            return None
        finally:
            os.close(fd)


def stop_stream(holder: LeaseHolder, grace_seconds: float) -> bool:
    """SIGTERM to the stream's driver (it stops after its batch), then SIGKILL to its group.

    The driver runs in a process group of its own, with its JVM, so the group is what must end:
    the JVM outlives the driver by a moment, or for good if it hangs. Returns True once the
    driver and every process of its group are gone.
    """
    if not holder.is_project_stream():
        return not holder.alive()
    try:
        group = holder.pid if os.getpgid(holder.pid) == holder.pid else None
        os.kill(holder.pid, signal.SIGTERM)
    except ProcessLookupError:  # it ended just now; its group may still hold its JVM
        group = holder.pid

    def gone() -> bool:
        return not holder.alive() and not (group and group_members(group))

    deadline = time.monotonic() + grace_seconds
    while not gone() and time.monotonic() < deadline:
        time.sleep(0.2)
    if not gone():
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if group:
                os.killpg(group, signal.SIGKILL)
            else:
                os.kill(holder.pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while not gone() and time.monotonic() < deadline:
            time.sleep(0.1)
    return gone()


def held_leases(checkpoints: list[Path]) -> list[LeaseHolder]:
    """The holders of the given checkpoints and of every sibling checkpoint (replays)."""
    folders = set(checkpoints)
    for checkpoint in checkpoints:
        if checkpoint.parent.is_dir():
            folders |= {p.parent for p in checkpoint.parent.glob(f"*/{LEASE_FILE}")}
    holders = [StreamLease(folder).holder() for folder in sorted(folders)]
    return [h for h in holders if h is not None]
