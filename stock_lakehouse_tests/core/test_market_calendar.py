"""The exchange's calendar is the one source of sessions: DST, holidays and early closes."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from stock_lakehouse.errors import UserFacingError
from stock_lakehouse.market_calendar import (
    session_on,
    sessions_before,
    sessions_between,
)


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    ("day", "opens", "closes"),
    [
        (date(2026, 3, 6), (14, 30), (21, 0)),  # New York on winter time (EST)
        (date(2026, 3, 9), (13, 30), (20, 0)),  # first session after the switch to EDT
        (date(2026, 10, 30), (13, 30), (20, 0)),
        (date(2026, 11, 2), (14, 30), (21, 0)),  # first session after the switch back
        (date(2026, 11, 27), (14, 30), (18, 0)),  # early close the day after Thanksgiving
    ],
)
def test_sessions_follow_new_york_time(day, opens, closes):
    session = session_on(day)
    assert session is not None
    assert (session.open, session.close) == (at(day, *opens), at(day, *closes))
    assert session.contains(at(day, *opens)) and not session.contains(at(day, 21, 1))


@pytest.mark.parametrize("day", [date(2026, 11, 26), date(2026, 12, 25), date(2026, 3, 7)])
def test_holidays_and_weekends_have_no_session(day):
    assert session_on(day) is None


def test_sessions_before_skip_holidays_and_exclude_the_end():
    found = sessions_before(3, date(2026, 11, 30))
    assert [s.day for s in found] == [date(2026, 11, 24), date(2026, 11, 25), date(2026, 11, 27)]
    assert found[-1].seconds == 3.5 * 3600
    assert [s.day for s in sessions_between(date(2026, 11, 25), date(2026, 11, 27))] == [
        date(2026, 11, 25),
        date(2026, 11, 27),
    ]
    assert len(sessions_before(60, date(2026, 11, 30))) == 60


def test_another_exchange_and_an_unknown_code():
    london = session_on(date(2026, 11, 26), "XLON")  # Thanksgiving is not a London holiday
    assert london is not None and london.open == at(date(2026, 11, 26), 8)
    with pytest.raises(UserFacingError, match="MARKET_CALENDAR=NOPE"):
        session_on(date(2026, 11, 26), "NOPE")


def minute_bars(*starts: str):
    import pandas as pd

    times = pd.to_datetime(list(starts))  # naive UTC, as the marts' bar_start
    return pd.DataFrame(
        {"bar_start": times, "open": 1.0, "high": 2.0, "low": 0.5, "close": 1.5, "volume": 10}
    ).assign(vwap=1.2, sma_5=1.1, sma_20=1.0)


def test_price_chart_hides_what_the_exchange_has_closed():
    from stock_lakehouse.dashboard.charts import price_chart

    # Wednesday before Thanksgiving to the Monday after: the gap from Wednesday's close to
    # Friday's open (the holiday inside it), then Friday's early close to Monday's open.
    bars = minute_bars("2026-11-25 14:30", "2026-11-27 17:59", "2026-11-30 20:59")
    figure = price_chart(bars, "t", intraday=True)
    assert [b.bounds for b in figure.layout.xaxis.rangebreaks] == [
        ("2026-11-25 21:00:00", "2026-11-27 14:30:00"),
        ("2026-11-27 18:00:00", "2026-11-30 14:30:00"),
    ]
    daily = price_chart(minute_bars("2026-11-25", "2026-11-27", "2026-11-30"), "t", intraday=False)
    assert [b.values for b in daily.layout.xaxis.rangebreaks] == [
        ("2026-11-26", "2026-11-28", "2026-11-29")
    ]


def test_price_chart_keeps_every_hour_when_bars_fall_outside_the_sessions():
    from stock_lakehouse.dashboard.charts import price_chart

    # The live simulator trades around the clock: a bar at 22:00 UTC keeps the nights visible.
    figure = price_chart(minute_bars("2026-11-25 14:30", "2026-11-25 22:00"), "t", intraday=True)
    assert not figure.layout.xaxis.rangebreaks


def test_sessions_outside_the_calendar_are_refused_in_one_line():
    from stock_lakehouse.market_calendar import CalendarRange

    with pytest.raises(CalendarRange, match="sessions before 2026-11-30, not 100000"):
        sessions_before(100_000, date(2026, 11, 30))
    with pytest.raises(CalendarRange, match="outside the XNYS calendar"):
        sessions_before(3, date(1990, 1, 2))
