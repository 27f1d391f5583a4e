"""closed_days_on_time: a closed session whose marts were not built in time is named, by day."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import dagster as dg

from stock_lakehouse.defs.ingest.assets import RAW_TICKS_KEY
from stock_lakehouse.defs.marts.deadlines import (
    CHECK_NAME,
    DAILY_SUMMARY_KEY,
    closed_days_on_time,
    late_sessions,
)
from stock_lakehouse.market_calendar import sessions_between
from stock_lakehouse.settings import MartsSettings, Settings

DEADLINE = timedelta(minutes=30)


def test_thanksgiving_week_a_day_is_late_only_past_its_own_close_plus_the_deadline():
    week = sessions_between(date(2026, 11, 24), date(2026, 11, 27))  # no session on the 26th
    assert [s.day.day for s in week] == [24, 25, 27]
    early_close = week[-1].close  # 18:00 UTC, the day after Thanksgiving
    assert early_close == datetime(2026, 11, 27, 18, 0, tzinfo=UTC)
    built = {"2026-11-24": week[0].close + timedelta(minutes=10)}  # the 25th never built

    # 18:29 on the 27th: the 25th is late; the 27th is inside its deadline.
    now = early_close + DEADLINE - timedelta(minutes=1)
    assert [s.day.day for s in late_sessions(week, built, now, DEADLINE)] == [25]
    # 18:31: the 27th too, although a full session would still be trading.
    now = early_close + DEADLINE + timedelta(minutes=1)
    assert [s.day.day for s in late_sessions(week, built, now, DEADLINE)] == [25, 27]
    # A build before the close (a run while the day was open) does not count for the day.
    built["2026-11-27"] = early_close - timedelta(hours=1)
    assert [s.day.day for s in late_sessions(week, built, now, DEADLINE)] == [25, 27]


def run_check(instance: dg.DagsterInstance) -> dg.AssetCheckEvaluation:
    result = dg.materialize(
        [closed_days_on_time, dg.AssetSpec(DAILY_SUMMARY_KEY)],
        selection=dg.AssetSelection.all_asset_checks(),
        resources={"settings": Settings(marts=MartsSettings(deadline_minutes=30))},
        instance=instance,
    )
    [evaluation] = result.get_asset_check_evaluations()
    assert evaluation.check_name == CHECK_NAME
    return evaluation


def test_the_check_names_the_closed_session_left_unbuilt_and_passes_once_it_is_built():
    now = datetime.now(UTC)
    closed = [
        s
        for s in sessions_between((now - timedelta(days=7)).date(), now.date())
        if s.close + DEADLINE < now
    ]
    assert len(closed) >= 3, "a week holds at least three closed sessions"
    with dg.instance_for_test() as instance:

        def report(key: dg.AssetKey, day: date) -> None:
            instance.report_runless_asset_event(
                dg.AssetMaterialization(asset_key=key, partition=day.isoformat())
            )

        assert run_check(instance).passed  # no raw_ticks yet: no day is owed
        report(RAW_TICKS_KEY, closed[0].day)
        for session in closed:
            if session is not closed[1]:
                report(DAILY_SUMMARY_KEY, session.day)
        evaluation = run_check(instance)
        assert not evaluation.passed
        assert evaluation.metadata["late_days"].value == closed[1].day.isoformat()

        report(DAILY_SUMMARY_KEY, closed[1].day)
        assert run_check(instance).passed


def test_a_deadline_that_is_not_positive_is_refused_in_one_line_naming_the_variable(
    refused_settings,
):
    assert "MARTS_DEADLINE_MINUTES='0'" in refused_settings(MARTS_DEADLINE_MINUTES="0")
