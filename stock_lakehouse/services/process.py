"""A server process the project started itself: PID file, log file, health, stop by PID.

`services down` must stop only what the project started, so each process is tracked by a PID file
holding its PID and start time; a recycled PID that now belongs to another program is not ours.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from stock_lakehouse.errors import UserFacingError
from stock_lakehouse.log_rotation import LogRotation
from stock_lakehouse.process_identity import (
    group_ends_within,
    group_members,
    process_start_ticks,
)


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """True when a server could bind host:port now.

    A bind test rather than a connect test: a port held as the local end of a client connection
    accepts no connections yet still cannot be bound. SO_REUSEADDR, as the servers use, so the
    TIME_WAIT sockets of a server stopped a moment ago do not count as busy.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def tail(path: Path, lines: int = 15) -> str:
    if not path.exists():
        return f"(no log file at {path})"
    with path.open("rb") as handle:
        handle.seek(0, os.SEEK_END)
        handle.seek(max(0, handle.tell() - 64 * 1024))
        text = handle.read().decode("utf-8", errors="replace")
    return "\n".join(text.splitlines()[-lines:])


LOG_PUMP = Path(__file__).with_name("log_pump.py")


@dataclass
class ManagedProcess:
    """One long-running server: how to start it, where it logs, how to tell it is healthy.

    Its output goes through a log pump (log_pump.py) that rotates the log file by size.
    """

    name: str
    command: Sequence[str]
    run_dir: Path
    ports: Sequence[int]
    healthy: Callable[[], bool]
    env: dict[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    start_timeout: float = 60.0
    stop_timeout: float = 30.0
    orphan_grace: float = 10.0  # what it left in its group gets SIGTERM, then SIGKILL after this
    rotation: LogRotation = field(default_factory=LogRotation)

    @property
    def pid_file(self) -> Path:
        return self.run_dir / f"{self.name}.pid"

    @property
    def log_file(self) -> Path:
        return self.run_dir / f"{self.name}.log"

    @property
    def pump_pid_file(self) -> Path:
        return self.run_dir / f"{self.name}.log-pump.pid"

    def pid(self) -> int | None:
        """PID of our process if it still runs, else None (a stale PID file is removed)."""
        try:
            pid_text, started = self.pid_file.read_text().split()
            pid = int(pid_text)
        except (OSError, ValueError):
            return None
        if process_start_ticks(pid) != started:
            self.pid_file.unlink(missing_ok=True)
            return None
        return pid

    def is_running(self) -> bool:
        return self.pid() is not None

    def start(self) -> None:
        """Start the process unless it runs already; wait until it is healthy."""
        if self.is_running():
            self.wait_healthy()
            return
        for port in self.ports:
            if not port_is_free(port):
                raise UserFacingError(
                    f"port {port} on 127.0.0.1 is already in use by another program, so "
                    f"{self.name} cannot start - stop that program or choose another port in .env"
                )
        self.run_dir.mkdir(parents=True, exist_ok=True)
        pump = self._start_log_pump()
        try:
            proc = subprocess.Popen(
                list(self.command),
                stdout=pump.stdin,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self.cwd,
                env={**os.environ, **self.env},
                start_new_session=True,  # Ctrl-C in the shell must not kill the servers
            )
        except FileNotFoundError as exc:
            raise UserFacingError(
                f"cannot start {self.name}: {self.command[0]} not found - run 'make setup'"
            ) from exc
        finally:
            assert pump.stdin is not None
            pump.stdin.close()  # the server holds the pipe now; the pump ends when it exits
        started = process_start_ticks(proc.pid) or "0"
        self.pid_file.write_text(f"{proc.pid} {started}\n")
        self.wait_healthy(proc)

    def _start_log_pump(self) -> subprocess.Popen[bytes]:
        limits = [str(self.rotation.max_bytes), str(self.rotation.backups)]
        pump = subprocess.Popen(
            [sys.executable, str(LOG_PUMP), str(self.log_file), *limits],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.pump_pid_file.write_text(f"{pump.pid} {process_start_ticks(pump.pid) or '0'}\n")
        return pump

    def _end_log_pump(self, timeout: float = 5.0) -> None:
        """Wait for the pump to end, which it does once every writer of the server's output has
        exited. It is never killed: children that outlive the server (a Dagster run launched by
        the daemon) still log through it, and would lose their lines or die of a broken pipe."""
        try:
            pid_text, started = self.pump_pid_file.read_text().split()
            pid = int(pid_text)
        except (OSError, ValueError):
            return
        deadline = time.monotonic() + timeout
        while process_start_ticks(pid) == started and time.monotonic() < deadline:
            _reap(pid)
            time.sleep(0.05)
        if process_start_ticks(pid) != started:
            self.pump_pid_file.unlink(missing_ok=True)

    def wait_healthy(self, proc: subprocess.Popen[bytes] | None = None) -> None:
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if proc is not None and proc.poll() is not None:
                self.pid_file.unlink(missing_ok=True)
                self._end_log_pump()  # flushes the last lines before they are shown
                raise UserFacingError(
                    f"{self.name} exited with code {proc.returncode} while starting "
                    f"- see {self.log_file}",
                    detail=tail(self.log_file),
                )
            if self.healthy():
                return
            time.sleep(0.25)
        raise UserFacingError(
            f"{self.name} did not become healthy within {self.start_timeout:.0f}s "
            f"- see {self.log_file}",
            detail=tail(self.log_file),
        )

    def stop(self) -> bool:
        """SIGTERM, then SIGKILL after `stop_timeout`; then whatever it left in its process group.

        Returns True if a process was stopped. The group matters for the Dagster processes: their
        code servers and run workers are their children, in their group, and would otherwise
        outlive them (an orphaned code server waits for its heartbeat to time out).
        """
        pid = self.pid()
        if pid is None:
            return False
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + self.stop_timeout
        while time.monotonic() < deadline and process_start_ticks(pid) is not None:
            _reap(pid)
            time.sleep(0.1)
        if process_start_ticks(pid) is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            while process_start_ticks(pid) is not None:
                _reap(pid)
                time.sleep(0.05)
        _end_orphans(pid, grace_seconds=self.orphan_grace)
        self.pid_file.unlink(missing_ok=True)
        self._end_log_pump()
        return True


def _end_orphans(pgid: int, grace_seconds: float) -> None:
    """SIGTERM what is left in the group of a stopped leader, then SIGKILL after the grace.

    Started with start_new_session, the leader's PID is its group's ID, and the kernel does not
    hand that PID out again while any member lives: the group reaches only the leader's orphans.
    """
    if not group_members(pgid):
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGTERM)
    if group_ends_within(pgid, grace_seconds, poll=0.2):
        return  # (an empty group's ID may be handed out again: signal it no more)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)
    group_ends_within(pgid, grace_seconds, poll=0.05)


def _reap(pid: int) -> None:
    """Collect the exit status if the server is our child, so it does not linger as a zombie."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)
