"""The exchange's trading calendar: the one source of session open and close.

Built on `exchange_calendars` (XNYS by default, `MARKET_CALENDAR` picks any code it knows), so the
session follows the exchange: 09:30-16:00 New York is 13:30-20:00 UTC in summer and 14:30-21:00 in
winter, holidays have no session, and early closes end early (2026-11-27, the day after
Thanksgiving, closes at 18:00 UTC). The simulator, the benchmarks, the test seeds and the dashboard
read sessions from here; nothing else in the project knows an opening hour.

Days are UTC days (raw_ticks' trade_date), so an exchange whose session crosses midnight UTC
(Sydney opens at 23:00 UTC the day before) is not supported: its sessions would be filed under
their exchange date while its ticks fall on two UTC days.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING

from stock_lakehouse.errors import UserFacingError

if TYPE_CHECKING:
    from exchange_calendars import ExchangeCalendar

DEFAULT_CALENDAR = "XNYS"


class UnknownCalendar(UserFacingError):
    """MARKET_CALENDAR names no calendar that exchange_calendars knows."""


class CalendarRange(UserFacingError):
    """Asked for sessions outside the years the calendar covers (about 20 back, 1 ahead)."""


@dataclass(frozen=True)
class Session:
    """One trading session: its date and its open and close, in UTC."""

    day: date
    open: datetime
    close: datetime

    @property
    def seconds(self) -> float:
        return (self.close - self.open).total_seconds()

    def contains(self, moment: datetime) -> bool:
        return self.open <= moment <= self.close


@lru_cache(maxsize=8)
def exchange(code: str = DEFAULT_CALENDAR) -> ExchangeCalendar:
    """The calendar for `code`, built once per process (building one takes ~0.2 s)."""
    import exchange_calendars

    try:
        return exchange_calendars.get_calendar(code)
    except exchange_calendars.errors.InvalidCalendarName:
        raise UnknownCalendar(
            f"MARKET_CALENDAR={code} is not a calendar exchange_calendars knows - use an exchange"
            " code such as XNYS (New York), XLON (London) or XTKS (Tokyo)"
        ) from None


def _session(calendar: ExchangeCalendar, label) -> Session:
    return Session(
        day=label.date(),
        open=calendar.session_open(label).to_pydatetime().astimezone(UTC),
        close=calendar.session_close(label).to_pydatetime().astimezone(UTC),
    )


def session_on(day: date, code: str = DEFAULT_CALENDAR) -> Session | None:
    """The session on `day`, or None when the exchange does not trade that day."""
    import pandas as pd

    calendar = exchange(code)
    label = pd.Timestamp(day)
    if not calendar.is_session(label):
        return None
    return _session(calendar, label)


def sessions_between(start: date, end: date, code: str = DEFAULT_CALENDAR) -> list[Session]:
    """Every session from `start` to `end`, both included, oldest first."""
    import pandas as pd

    calendar = exchange(code)
    labels = calendar.sessions_in_range(pd.Timestamp(start), pd.Timestamp(end))
    return [_session(calendar, label) for label in labels]


def session_table(code: str = DEFAULT_CALENDAR):
    """Every session the calendar knows (about 20 years back, 1 ahead) as a pandas DataFrame:
    `session_date` (date), `open_utc` and `close_utc` (naive UTC, like the marts' timestamps).
    dbt cannot call Python: the lakehouse plugin hands it this as `lakehouse.trading_sessions`."""
    import pandas as pd

    schedule = exchange(code).schedule
    return pd.DataFrame(
        {
            "session_date": schedule.index.date,
            "open_utc": schedule["open"].dt.tz_convert("UTC").dt.tz_localize(None).to_numpy(),
            "close_utc": schedule["close"].dt.tz_convert("UTC").dt.tz_localize(None).to_numpy(),
        }
    )


def sessions_before(count: int, end: date, code: str = DEFAULT_CALENDAR) -> list[Session]:
    """The `count` sessions before `end` (not included), oldest first."""
    calendar = exchange(code)
    first, last = calendar.first_session.date(), calendar.last_session.date()
    latest = end - timedelta(days=1)
    if not first <= latest <= last:
        raise CalendarRange(
            f"{end} is outside the {code} calendar ({first} to {last}) - pick another end date"
        )
    found: list[Session] = []
    span = max(2 * count + 10, 14)  # calendar days that hold `count` sessions, with room
    while len(found) < count:
        start = max(first, latest - timedelta(days=span))
        found = sessions_between(start, latest, code)
        if start == first and len(found) < count:
            raise CalendarRange(
                f"the {code} calendar holds {len(found)} sessions before {end}, not {count} - "
                "ask for fewer days"
            )
        span *= 2
    return found[-count:] if count else []
