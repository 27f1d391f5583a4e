"""Checks that turn a missing tool, an unfetched jar folder or a full disk into a one-line
instruction."""

from __future__ import annotations

import shutil
from pathlib import Path

from stock_lakehouse.errors import UserFacingError


def require_java() -> str:
    return require_executable(
        "java", "install a JDK 17+ (e.g. 'apt-get install openjdk-17-jdk') or add its bin/ to PATH"
    )


def require_maven() -> str:
    return require_executable(
        "mvn", "install Maven 3.8+ (e.g. 'apt-get install maven'), then run 'make jars'"
    )


def require_jars(folder: Path, marker_glob: str, what: str) -> Path:
    """The folder `make jars` fills; fail early with the fix, not a ClassNotFoundException."""
    if not any(folder.glob(marker_glob)):
        raise UserFacingError(f"{what} jars not found in {folder} - run 'make jars'")
    return folder


def require_executable(name: str, hint: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise UserFacingError(f"{name} not found on PATH - {hint}")
    return path


def require_free_space(folder: Path, minimum_bytes: int, what: str) -> int:
    """Free bytes on `folder`'s disk; a one-line error below `minimum_bytes`.

    A store on a full disk does not fail, it stalls: SeaweedFS stops assigning volumes and every
    S3 write is retried for many minutes (a test run once hung 16 min on 1.6 GB free).
    """
    existing = next(p for p in (folder, *folder.parents) if p.exists())
    free = shutil.disk_usage(existing).free
    if free < minimum_bytes:
        raise UserFacingError(
            f"only {free / 2**30:.1f} GiB free on the disk of {folder} - {what} needs at least "
            f"{minimum_bytes / 2**30:.0f} GiB to accept writes: free disk space, or set "
            "STOCK_LAKEHOUSE_STATE_DIR to a folder on a larger disk"
        )
    return free
