"""The set of local services: bring up, stop, report. Used by the CLI and the test fixtures."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from stock_lakehouse.services.kafka import KafkaService
from stock_lakehouse.services.process import ManagedProcess
from stock_lakehouse.services.seaweedfs import SeaweedS3Service
from stock_lakehouse.settings import Settings
from stock_lakehouse.stream_lease import held_leases, stop_stream

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


class Service(Protocol):
    name: str

    @property
    def address(self) -> str: ...
    @property
    def processes(self) -> list[ManagedProcess]: ...
    def start(self) -> None: ...
    def stop(self) -> bool: ...
    def healthy(self) -> bool: ...
    def reachable(self) -> bool: ...


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    address: str
    state: str  # "healthy" | "unhealthy" | "stopped" | "external" | "unreachable"
    pids: tuple[int, ...]
    log: str


class LocalServices:
    """Kafka and the S3 store, started on 127.0.0.1 unless configured to point elsewhere."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.kafka = KafkaService(settings)
        self.s3 = SeaweedS3Service(settings)

    def managed(self) -> list[Service]:
        """Services whose endpoints are on this machine; external endpoints are left alone."""
        services: list[Service] = []
        if not self.settings.local.managed:
            return services
        if self.settings.kafka.host in LOOPBACK:
            services.append(self.kafka)
        if self.settings.s3.host in LOOPBACK:
            services.append(self.s3)
        return services

    def up(self, on_start=None) -> None:
        for service in self.managed():
            if on_start:
                on_start(service)
            service.start()

    def down(self, on_stop=None) -> list[str]:
        """Stop the project's streams (found by their leases), then the services."""
        stopped = self.stop_streams()
        for service in reversed(self.managed()):
            if on_stop:
                on_stop(service)
            if service.stop():
                stopped.append(service.name)
        return stopped

    def stop_streams(self) -> list[str]:
        """Every stream_ticks on this project's checkpoints, whether Dagster still knows it or not.

        First, while Kafka and the S3 store still answer, so each can finish its batch.
        """
        stream = self.settings.stream
        stopped = []
        for holder in held_leases([stream.checkpoint_dir]):
            if stop_stream(holder, grace_seconds=stream.trigger_seconds + 10):
                stopped.append(f"stream_ticks (PID {holder.pid})")
        return stopped

    def status(self) -> list[ServiceStatus]:
        rows = []
        managed = {s.name for s in self.managed()}
        for service in (self.kafka, self.s3):
            processes = service.processes
            pids = tuple(p for p in (proc.pid() for proc in processes) if p)
            if service.name not in managed:
                state = "external" if service.reachable() else "unreachable"
            elif not pids:
                state = "stopped"
            else:
                state = "healthy" if service.healthy() else "unhealthy"
            log = ", ".join(str(proc.log_file) for proc in processes)
            rows.append(ServiceStatus(service.name, service.address, state, pids, log))
        return rows
