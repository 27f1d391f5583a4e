"""Logs of the servers the project starts are rotated by size, and Kafka clients' own warnings
are kept in the project's log instead of being dropped."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from stock_lakehouse.services.process import (
    LOG_PUMP,
    LogRotation,
    ManagedProcess,
    process_start_ticks,
)


def pumped(path: Path, lines: list[bytes], max_bytes: int, backups: int) -> None:
    pump = subprocess.Popen(
        [sys.executable, str(LOG_PUMP), str(path), str(max_bytes), str(backups)],
        stdin=subprocess.PIPE,
    )
    pump.communicate(b"".join(lines), timeout=30)  # end of input ends the pump
    assert pump.returncode == 0


def test_the_pump_rotates_at_line_ends_and_keeps_the_newest_lines(tmp_path):
    log = tmp_path / "server.log"
    lines = [f"line {n:05d} {'x' * 40}\n".encode() for n in range(3000)]  # ~150 KiB
    pumped(log, lines, max_bytes=20_000, backups=2)
    files = sorted(tmp_path.iterdir())
    assert [f.name for f in files] == ["server.log", "server.log.1", "server.log.2"]
    kept = b"".join(
        p.read_bytes() for p in (log.with_name("server.log.2"), log.with_name("server.log.1"), log)
    )
    # Every file ends at a line end, and together they hold the newest lines in order.
    assert all(p.read_bytes().endswith(b"\n") for p in files)
    assert kept == b"".join(lines[-kept.count(b"\n") :])
    assert 20_000 <= len(log.with_name("server.log.1").read_bytes()) < 20_000 + 64 * 1024 + 60


def test_a_managed_server_logs_through_the_pump_which_ends_with_it(tmp_path):
    chatty = (
        "import sys, time\n"
        "for n in range(2000):\n"
        "    print(f'line {n:05d} ' + 'y' * 40, flush=True)\n"
        "time.sleep(60)\n"
    )
    server = ManagedProcess(
        name="chatty",
        command=[sys.executable, "-c", chatty],
        run_dir=tmp_path,
        ports=[],
        healthy=lambda: (tmp_path / "chatty.log.1").exists(),  # rotated while it runs
        rotation=LogRotation(max_bytes=30_000, backups=1),
        start_timeout=30,
    )
    server.start()
    pump_pid = int(server.pump_pid_file.read_text().split()[0])
    try:
        assert process_start_ticks(pump_pid) is not None
    finally:
        assert server.stop()
    assert process_start_ticks(pump_pid) is None and not server.pump_pid_file.exists()
    assert not (tmp_path / "chatty.log.2").exists()  # one backup kept
    assert server.log_file.read_bytes().endswith(b"\n")


def test_kafka_client_warnings_go_to_the_project_log(tmp_path):
    from confluent_kafka import Producer

    from stock_lakehouse.clients.kafka import LIBRDKAFKA_LOGGER, kafka_client_logger
    from stock_lakehouse.settings import KafkaSettings, LocalServicesSettings, Settings

    settings = Settings(
        kafka=KafkaSettings(bootstrap_servers="127.0.0.1:1"),  # nothing listens there
        local=LocalServicesSettings(state_dir=tmp_path),
    )
    handlers = list(LIBRDKAFKA_LOGGER.handlers)
    log = tmp_path / "logs" / "kafka-clients.log"
    try:
        producer = Producer(
            {"bootstrap.servers": "127.0.0.1:1", "logger": kafka_client_logger(settings)}
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and "127.0.0.1:1" not in _text(log):
            producer.poll(0.5)
        assert "127.0.0.1:1" in _text(log)
        assert all(level in ("WARNING", "ERROR", "CRITICAL") for level in _levels(log))
    finally:
        for handler in set(LIBRDKAFKA_LOGGER.handlers) - set(handlers):
            LIBRDKAFKA_LOGGER.removeHandler(handler)
            handler.close()


def _text(path: Path) -> str:
    return path.read_text() if path.exists() else ""


def _levels(path: Path) -> list[str]:
    return [line.split()[2] for line in _text(path).splitlines() if line.strip()]


def test_bad_log_limits_are_refused_in_one_line_naming_the_variable(refused_settings):
    message = refused_settings(STOCK_LAKEHOUSE_LOG_MAX_MB="0", STOCK_LAKEHOUSE_LOG_BACKUPS="-1")
    assert "STOCK_LAKEHOUSE_LOG_MAX_MB='0'" in message
    assert "STOCK_LAKEHOUSE_LOG_BACKUPS='-1'" in message
