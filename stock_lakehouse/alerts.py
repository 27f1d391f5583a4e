"""Problems (a failed check, a failed run, a failing sensor) turned into deduplicated notices.

A problem has a stable key. Each evaluation compares the problems open now with those already
announced: a new key sends one "open" notice, a key that disappeared one "resolved" notice, and a
problem still open sends nothing. Notices go to a webhook (JSON POST) and/or a JSON-lines file
(ALERTS_WEBHOOK_URL, ALERTS_FILE). A notice that could not be delivered is not recorded as sent,
so the next evaluation tries it again.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import requests

WEBHOOK_TIMEOUT_SECONDS = 5
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Problem:
    key: str  # stable across evaluations, e.g. "check:compacted_ticks/compacted_rows_match_..."
    kind: str  # check | run | sensor
    summary: str
    details: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Notice:
    event: str  # open | resolved
    key: str
    kind: str
    summary: str
    details: dict[str, str]
    at: str

    def as_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


def changes(
    announced: Mapping[str, Mapping[str, str]], current: Mapping[str, Problem], now: datetime
) -> list[Notice]:
    """One "open" per new problem, one "resolved" per announced problem that is gone."""
    stamp = now.astimezone(UTC).isoformat()
    notices = [
        Notice("open", p.key, p.kind, p.summary, dict(p.details), stamp)
        for key, p in sorted(current.items())
        if key not in announced
    ]
    notices += [
        Notice("resolved", key, was["kind"], was["summary"], {}, stamp)
        for key, was in sorted(announced.items())
        if key not in current
    ]
    return notices


class DeliveryFailed(Exception):
    """A notice reached none of the places it had to reach; it is retried next time."""


def deliver(notice: Notice, webhook_url: str | None, file: Path | None) -> None:
    """Send one notice; raise DeliveryFailed if it reached nowhere it must, so it is retried.

    With a webhook, the webhook decides: when it refuses, the file gets nothing either, so the
    retry duplicates neither; when it accepts, a file that cannot be written loses that line
    (logged) rather than make the retry post the notice twice. Without one, the file decides.
    """
    if webhook_url:
        try:
            response = requests.post(
                webhook_url,
                data=notice.as_json(),
                headers={"Content-Type": "application/json"},
                timeout=WEBHOOK_TIMEOUT_SECONDS,
            )
            response.raise_for_status()
        except requests.RequestException as error:
            raise DeliveryFailed(f"webhook {webhook_url}: {error}") from error
    if file is not None:
        try:
            file.parent.mkdir(parents=True, exist_ok=True)
            with file.open("a", encoding="utf-8") as out:
                out.write(notice.as_json() + "\n")
        except OSError as error:
            if not webhook_url:
                raise DeliveryFailed(f"file {file}: {error}") from error
            log.warning("notice %s sent, but not written to %s: %s", notice.key, file, error)


def announce(
    announced: Mapping[str, Mapping[str, str]],
    current: Mapping[str, Problem],
    now: datetime,
    webhook_url: str | None,
    file: Path | None,
) -> tuple[dict[str, dict[str, str]], list[Notice], list[str]]:
    """Deliver the changes; return what is announced afterwards, what was sent, what failed."""
    state = {key: dict(value) for key, value in announced.items()}
    sent, failed = [], []
    for notice in changes(announced, current, now):
        try:
            deliver(notice, webhook_url, file)
        except DeliveryFailed as error:
            # The rest waits for the next tick too: a webhook that hangs is not asked again and
            # again (5 s each) within one evaluation.
            failed.append(str(error))
            break
        if notice.event == "open":
            state[notice.key] = {"kind": notice.kind, "summary": notice.summary}
        else:
            state.pop(notice.key, None)
        sent.append(notice)
    return state, sent, failed
