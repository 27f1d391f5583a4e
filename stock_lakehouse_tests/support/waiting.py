"""One way for a test to wait for something a real service or process does in its own time."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


def wait_for(
    condition: Callable[[], T],
    what: str,
    timeout: float = 90,
    log: Path | None = None,
    describe: Callable[[], str] | None = None,
    *,
    interval: float = 0.5,
    ignoring: tuple[type[BaseException], ...] = (),
) -> T:
    """Poll `condition` until it gives a truthy value, and return that value.

    An exception of a type in `ignoring` counts as "not yet" (a port still closed, a broker still
    electing leaders). On timeout the test fails naming `what`, with the tail of `log` and what
    `describe()` says is left, so a slow CI machine's failure says where it stopped.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = condition()
        except ignoring:
            value = None
        if value:
            return value
        if time.monotonic() >= deadline:
            tail = log.read_text(errors="replace")[-3000:] if log and log.exists() else ""
            left = describe() if describe else ""
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}\n{tail}{left}")
        time.sleep(interval)
