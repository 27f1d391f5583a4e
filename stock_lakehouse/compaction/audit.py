"""Write-audit-publish: what a compacted day must satisfy before its commit, for both engines.

A day is audited on the rows about to be written (one per Kafka offset) and published only when
it passes; a refused day keeps its previous compacted version, and the asset's blocking checks
keep the day's marts from being built on it. Two rules judge the ticks themselves:

- one row per tick: a `tick_id` held by two offsets is a trade counted twice (a producer that
  sent one tick twice);
- every tick inside its day's session (`MARKET_CALENDAR`): a tick of a closed market is a
  clock or feed fault. `COMPACTION_OUTSIDE_SESSION=warn` publishes such a day with a warning
  instead, for feeds that trade around the clock (the demo's live simulator).

The third rule, rows written equal the day's distinct offsets, compares the staged files with
the plan (DuckDB engine, before its commit) or the committed version with it (Spark engine).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Literal

from stock_lakehouse.compaction.plan import DayResult
from stock_lakehouse.market_calendar import Session, session_on

if TYPE_CHECKING:
    from stock_lakehouse.settings import Settings

OutsideSession = Literal["refuse", "warn"]
# Asset check names: one per rule, each blocking, each shown per day in the run's metadata.
ROWS_CHECK = "compacted_rows_match_raw_offsets"
UNIQUE_TICKS_CHECK = "compacted_tick_ids_unique"
SESSION_CHECK = "compacted_ticks_inside_session"


@dataclass(frozen=True)
class DayAudit:
    """What the audit found in a day's rows (after one row per offset was kept)."""

    duplicate_tick_ids: int = 0  # rows beyond the first that share a tick_id
    outside_session: int = 0  # rows whose event_time is outside the day's session


@dataclass(frozen=True)
class AuditRules:
    calendar: str
    outside_session: OutsideSession = "refuse"

    @classmethod
    def from_settings(cls, settings: Settings) -> AuditRules:
        return cls(settings.market.calendar, settings.compaction.outside_session)

    def session(self, day: date) -> Session | None:
        return session_on(day, self.calendar)

    def refusal(self, day: date, audit: DayAudit) -> str:
        """Why `day` must not be published, or "" when it may be."""
        reasons = []
        if audit.duplicate_tick_ids:
            reasons.append(f"{audit.duplicate_tick_ids} rows repeat a tick_id of the day")
        if audit.outside_session and self.outside_session == "refuse":
            reasons.append(f"{audit.outside_session} ticks {self.outside_what(day)}")
        return "; ".join(reasons)

    def outside_what(self, day: date) -> str:
        """Words for where the out-of-session ticks are, for refusals and check metadata."""
        session = self.session(day)
        if session is None:
            return f"on a day {self.calendar} does not trade"
        return f"outside the {self.calendar} session {session.open:%H:%M}-{session.close:%H:%M} UTC"


def outside_session_sql(session: Session | None, column: str = "event_time") -> str:
    """A DuckDB predicate true for a tick outside `session` (every tick when there is none)."""
    if session is None:
        return "true"
    return (
        f"NOT ({column} BETWEEN TIMESTAMPTZ '{session.open.isoformat()}' "
        f"AND TIMESTAMPTZ '{session.close.isoformat()}')"
    )


@dataclass(frozen=True)
class CheckOutcome:
    """One check's verdict on one day, as the asset reports it."""

    passed: bool
    detail: str  # what was found, in words
    refused: str  # why the day was not published, or "no"
    warn_only: bool = False


def day_outcomes(day: DayResult, rules: AuditRules) -> dict[str, CheckOutcome]:
    """Each check's verdict on `day` (by check name)."""
    refused = day.refused or "no"
    outside = rules.outside_what(date.fromisoformat(day.trade_date))
    return {
        ROWS_CHECK: CheckOutcome(
            day.rows_match,
            "not written (refused)"
            if day.refused
            else f"{day.compacted_rows} rows for {day.distinct_offsets} distinct offsets",
            refused,
        ),
        UNIQUE_TICKS_CHECK: CheckOutcome(
            not day.duplicate_tick_ids,
            f"{day.duplicate_tick_ids} rows repeat a tick_id",
            refused,
        ),
        SESSION_CHECK: CheckOutcome(
            not day.outside_session,
            f"{day.outside_session} ticks {outside}" if day.outside_session else "none outside",
            refused,
            warn_only=rules.outside_session == "warn",
        ),
    }
