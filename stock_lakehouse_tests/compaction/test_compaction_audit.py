"""Write-audit-publish: a day with a tick sent twice or a tick outside its session is refused
before its commit, by both engines; the previous good version stays, and in Dagster the
blocking checks keep the day's downstream assets from running."""

from __future__ import annotations

import os
from datetime import date, timedelta

import dagster as dg
import pytest
from deltalake import DeltaTable

from spark_jobs import compact_ticks as spark_engine
from stock_lakehouse.clients.s3 import deltalake_storage_options
from stock_lakehouse.compaction import duckdb_engine
from stock_lakehouse.compaction.audit import (
    ROWS_CHECK,
    SESSION_CHECK,
    UNIQUE_TICKS_CHECK,
    AuditRules,
    DayAudit,
)
from stock_lakehouse.market_calendar import session_on
from stock_lakehouse.settings import Settings
from stock_lakehouse.tables import COMPACTED_TICKS, table_uri
from stock_lakehouse_tests.support.raw_seed import RawSeeder, tick_payloads

# A Monday after the switch to New York summer time, and the two days after it.
CLEAN, TWICE, OUTSIDE = date(2026, 3, 9), date(2026, 3, 10), date(2026, 3, 11)
TICKS_PER_DAY = 300
RUNS = {"duckdb": duckdb_engine.run, "spark": spark_engine.run}


def test_refusal_names_each_broken_rule_and_follows_the_outside_session_setting():
    refuse, warn = AuditRules("XNYS", "refuse"), AuditRules("XNYS", "warn")
    assert refuse.refusal(CLEAN, DayAudit()) == ""
    assert refuse.refusal(TWICE, DayAudit(duplicate_tick_ids=2)) == (
        "2 rows repeat a tick_id of the day"
    )
    outside = DayAudit(outside_session=3)
    assert refuse.refusal(OUTSIDE, outside) == ("3 ticks outside the XNYS session 13:30-20:00 UTC")
    assert warn.refusal(OUTSIDE, outside) == ""
    assert (
        warn.refusal(OUTSIDE, DayAudit(duplicate_tick_ids=1, outside_session=3))
        == "1 rows repeat a tick_id of the day"
    )
    thanksgiving = date(2026, 11, 26)
    assert refuse.refusal(thanksgiving, outside) == "3 ticks on a day XNYS does not trade"


def test_an_unknown_outside_session_policy_is_refused_in_one_line(refused_settings):
    message = refused_settings(COMPACTION_OUTSIDE_SESSION="ignore")
    assert "COMPACTION_OUTSIDE_SESSION='ignore'" in message
    assert "'refuse' or 'warn'" in message


def with_prefix(settings: Settings, prefix: str, outside_session: str = "refuse") -> Settings:
    return settings.model_copy(
        update={
            "s3": settings.s3.model_copy(update={"prefix": prefix}),
            "compaction": settings.compaction.model_copy(
                update={"outside_session": outside_session}
            ),
        }
    )


def compacted(settings: Settings) -> DeltaTable:
    s3 = settings.s3
    return DeltaTable(table_uri(s3, COMPACTED_TICKS), storage_options=deltalake_storage_options(s3))


def tick_ids(settings: Settings, day: date) -> list[str]:
    table = compacted(settings).to_pyarrow_table(
        filters=[("trade_date", "=", day)], columns=["tick_id"]
    )
    return sorted(table.column("tick_id").to_pylist())


def seed_clean_days(spark, settings: Settings) -> RawSeeder:
    seeder = RawSeeder(spark, settings.s3)
    for seed, day in enumerate((CLEAN, TWICE, OUTSIDE), start=1):
        seeder.write(tick_payloads(day, TICKS_PER_DAY, seed))
    return seeder


def break_two_days(seeder: RawSeeder) -> None:
    """TWICE gets one of its ticks again at a new offset (a producer that sent it twice);
    OUTSIDE gets a tick an hour before the session opens."""
    seeder.write([tick_payloads(TWICE, TICKS_PER_DAY, 2)[17]])
    early = dict(tick_payloads(OUTSIDE, 1, 3)[0], tick_id="early-bird")
    early["timestamp"] = (session_on(OUTSIDE).open - timedelta(hours=1)).timestamp()
    seeder.write([early])


@pytest.mark.integration
@pytest.mark.parametrize("engine", sorted(RUNS))
def test_a_broken_day_is_refused_and_keeps_its_previous_version(
    spark, services: Settings, engine: str
):
    settings = with_prefix(services, f"audit-{engine}-{os.getpid()}")
    run = RUNS[engine]
    seeder = seed_clean_days(spark, settings)
    first = run(settings, CLEAN, OUTSIDE + timedelta(days=1))
    assert [(r.refused, r.check_passed) for r in first] == [("", True)] * 3
    good = {day: tick_ids(settings, day) for day in (TWICE, OUTSIDE)}

    break_two_days(seeder)
    clean, twice, outside = run(settings, CLEAN, OUTSIDE + timedelta(days=1))

    assert (clean.refused, clean.check_passed, clean.compacted_rows) == ("", True, TICKS_PER_DAY)
    assert clean.compacted_version == first[-1].compacted_version + 1  # the only new commit
    assert (twice.duplicate_tick_ids, twice.outside_session) == (1, 0)
    assert twice.refused == "1 rows repeat a tick_id of the day"
    assert (outside.duplicate_tick_ids, outside.outside_session) == (0, 1)
    assert outside.refused == "1 ticks outside the XNYS session 13:30-20:00 UTC"
    for result in (twice, outside):
        assert not result.check_passed
        assert result.compacted_version == clean.compacted_version
        assert result.compacted_rows == TICKS_PER_DAY  # what readers still see
        assert (
            tick_ids(settings, date.fromisoformat(result.trade_date))
            == good[date.fromisoformat(result.trade_date)]
        )
    assert compacted(settings).version() == clean.compacted_version

    # A feed that trades around the clock publishes the day, and the audit still counts.
    warn = with_prefix(services, settings.s3.prefix, "warn")
    [warned] = run(warn, OUTSIDE, OUTSIDE + timedelta(days=1))
    assert (warned.refused, warned.check_passed) == ("", True)
    assert (warned.outside_session, warned.compacted_rows) == (1, TICKS_PER_DAY + 1)
    assert "early-bird" in tick_ids(settings, OUTSIDE)


@pytest.mark.integration
def test_in_dagster_a_refused_day_fails_its_blocking_check_and_nothing_downstream_runs(
    spark, services: Settings, monkeypatch
):
    """The compacted_ticks asset as Dagster runs it (Pipes, DuckDB engine), with a downstream
    asset in the same run standing in for the day's marts."""
    from stock_lakehouse.defs.compaction.assets import compacted_ticks

    settings = with_prefix(services, f"audit-dagster-{os.getpid()}")
    monkeypatch.setenv("S3_PREFIX", settings.s3.prefix)  # the job's own process reads these
    monkeypatch.setenv("COMPACTION_ENGINE", "duckdb")
    seeder = seed_clean_days(spark, settings)
    break_two_days(seeder)
    built: list[str] = []

    @dg.asset(deps=[compacted_ticks.key], partitions_def=compacted_ticks.partitions_def)
    def day_marts(context) -> None:
        built.append(context.partition_key)

    resources = {"pipes_subprocess_client": dg.PipesSubprocessClient(), "settings": settings}
    published = dg.materialize(
        [compacted_ticks, day_marts], partition_key=CLEAN.isoformat(), resources=resources
    )
    assert published.success
    assert sorted(c.check_name for c in published.get_asset_check_evaluations() if c.passed) == (
        sorted([ROWS_CHECK, SESSION_CHECK, UNIQUE_TICKS_CHECK])
    )
    assert built == [CLEAN.isoformat()]
    assert len(tick_ids(settings, CLEAN)) == TICKS_PER_DAY

    refused = dg.materialize(
        [compacted_ticks, day_marts],
        partition_key=TWICE.isoformat(),
        resources=resources,
        raise_on_error=False,
    )
    assert not refused.success
    checks = {c.check_name: c for c in refused.get_asset_check_evaluations()}
    assert {c.partition for c in checks.values()} == {TWICE.isoformat()}
    assert not checks[UNIQUE_TICKS_CHECK].passed
    assert checks[UNIQUE_TICKS_CHECK].metadata["found"].value == "1 rows repeat a tick_id"
    assert checks[UNIQUE_TICKS_CHECK].metadata["refused"].value == (
        "1 rows repeat a tick_id of the day"
    )
    assert checks[ROWS_CHECK].passed and checks[SESSION_CHECK].passed
    assert refused.asset_materializations_for_node("compacted_ticks") == []
    assert built == [CLEAN.isoformat()]  # the downstream asset did not run for the refused day
    assert tick_ids(settings, TWICE) == []  # never published


@pytest.mark.integration
def test_a_range_run_reports_each_check_for_each_day(spark, services: Settings, monkeypatch):
    """A single-run backfill over three days: nine results, each filed under its day; only the
    broken days' checks fail, and the clean day is published beside them."""
    from stock_lakehouse.defs.compaction.assets import compacted_ticks

    settings = with_prefix(services, f"audit-range-{os.getpid()}")
    monkeypatch.setenv("S3_PREFIX", settings.s3.prefix)
    monkeypatch.setenv("COMPACTION_ENGINE", "duckdb")
    break_two_days(seed_clean_days(spark, settings))
    result = dg.materialize(
        [compacted_ticks],
        tags={
            "dagster/asset_partition_range_start": CLEAN.isoformat(),
            "dagster/asset_partition_range_end": OUTSIDE.isoformat(),
        },
        resources={"pipes_subprocess_client": dg.PipesSubprocessClient(), "settings": settings},
        raise_on_error=False,
    )
    assert not result.success  # blocking checks failed
    verdicts = {(c.partition, c.check_name): c.passed for c in result.get_asset_check_evaluations()}
    assert verdicts == {
        (day.isoformat(), check): (day, check)
        not in {(TWICE, UNIQUE_TICKS_CHECK), (OUTSIDE, SESSION_CHECK)}
        for day in (CLEAN, TWICE, OUTSIDE)
        for check in (ROWS_CHECK, UNIQUE_TICKS_CHECK, SESSION_CHECK)
    }
    assert len(tick_ids(settings, CLEAN)) == TICKS_PER_DAY
    assert tick_ids(settings, TWICE) == [] and tick_ids(settings, OUTSIDE) == []
