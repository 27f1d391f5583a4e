"""How far a log file may grow: the servers' logs and the Kafka clients' log share one rule."""

from __future__ import annotations

from dataclasses import dataclass

from stock_lakehouse.settings import Settings


@dataclass(frozen=True)
class LogRotation:
    """A log file is rotated past `max_bytes`, keeping `backups` older files."""

    max_bytes: int = 20 * 2**20
    backups: int = 3

    @classmethod
    def from_settings(cls, settings: Settings) -> LogRotation:
        local = settings.local
        return cls(int(local.log_max_mb * 2**20), local.log_backups)
