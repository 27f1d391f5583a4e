"""dbt source freshness as Dagster checks: real Delta tables on the S3 store, real `dbt source
freshness` against the in-memory lake target, one check result per lake source.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dagster as dg
import pyarrow as pa
import pytest
from deltalake import write_deltalake

from stock_lakehouse.clients.s3 import deltalake_storage_options, ensure_bucket
from stock_lakehouse.defs.marts.freshness import CHECK_NAME, load_freshness_checks
from stock_lakehouse.defs.resources import build_resources
from stock_lakehouse.settings import Settings, get_settings
from stock_lakehouse.tables import COMPACTED_TICKS, RAW_TICKS, table_uri
from stock_lakehouse_tests.support.marts_seed import TICKS_SCHEMA

pytestmark = pytest.mark.integration

RAW = dg.AssetKey("raw_ticks")
COMPACTED = dg.AssetKey("compacted_ticks")


def write_tick(settings: Settings, table: str, ingested_at: datetime) -> None:
    """One tick of the ingested_at's UTC day, committed by the stream at `ingested_at`."""
    tick = {name: [None] for name in TICKS_SCHEMA.names}
    tick.update(
        ticker=["AAPL"],
        price=[190.0],
        volume=[100],
        event_time=[ingested_at - timedelta(seconds=1)],
        trade_date=[ingested_at.date()],
        ingested_at=[ingested_at],
    )
    write_deltalake(
        table_uri(settings.s3, table),
        pa.Table.from_pydict(tick, schema=TICKS_SCHEMA),
        partition_by=["trade_date"],
        mode="append",
        storage_options=deltalake_storage_options(settings.s3),
    )


def run_freshness(settings: Settings) -> dict[dg.AssetKey, dg.AssetCheckEvaluation]:
    """Both sources' checks, as the automation runs them, through the project's dbt resource."""
    result = dg.materialize(
        [load_freshness_checks(), dg.AssetSpec(RAW), dg.AssetSpec(COMPACTED)],
        selection=dg.AssetSelection.all_asset_checks(),
        resources={"dbt": build_resources(settings)["dbt"]},
    )
    evaluations = result.get_asset_check_evaluations()
    assert {e.check_name for e in evaluations} == {CHECK_NAME}
    return {e.asset_key: e for e in evaluations}


@pytest.fixture
def lake(services: Settings, unique_name: str, monkeypatch) -> Settings:
    """The settings of an empty prefix of our own; dbt (a subprocess) reads it from S3_PREFIX."""
    monkeypatch.setenv("S3_PREFIX", unique_name)
    get_settings.cache_clear()
    settings = get_settings()
    ensure_bucket(settings.s3)
    yield settings
    monkeypatch.undo()
    get_settings.cache_clear()


def test_fresh_stale_and_missing_sources_pass_warn_and_error(lake):
    now = datetime.now(UTC)
    # Nothing in the lake yet: dbt cannot read either source, both checks fail as errors.
    missing = run_freshness(lake)
    assert set(missing) == {RAW, COMPACTED}
    for key, evaluation in missing.items():
        assert not evaluation.passed
        assert evaluation.severity == dg.AssetCheckSeverity.ERROR
        assert key.path[-1] in evaluation.metadata["error"].value

    write_tick(lake, RAW_TICKS, now - timedelta(minutes=2))
    write_tick(lake, COMPACTED_TICKS, now - timedelta(days=5))  # warn after 4 days, error after 7
    checked = run_freshness(lake)
    raw, compacted = checked[RAW], checked[COMPACTED]
    assert raw.passed, raw.metadata
    assert 1 <= raw.metadata["age_minutes"].value < 15
    assert raw.metadata["warn_after"].value == "15 minute(s)"
    assert not compacted.passed
    assert compacted.severity == dg.AssetCheckSeverity.WARN
    assert compacted.metadata["dbt_status"].value == "warn"

    # The stream stopped 2 hours ago: past raw_ticks' error_after of 60 minutes.
    write_tick(lake, RAW_TICKS, now - timedelta(hours=2))  # an older commit changes nothing
    assert run_freshness(lake)[RAW].passed
    stopped = f"{lake.s3.prefix}-stopped"
    lake_stopped = lake.model_copy(update={"s3": lake.s3.model_copy(update={"prefix": stopped})})
    write_tick(lake_stopped, RAW_TICKS, now - timedelta(hours=2))
    with pytest.MonkeyPatch.context() as env:
        env.setenv("S3_PREFIX", stopped)
        get_settings.cache_clear()
        stale = run_freshness(lake_stopped)[RAW]
    get_settings.cache_clear()
    assert not stale.passed
    assert stale.severity == dg.AssetCheckSeverity.ERROR
    assert stale.metadata["dbt_status"].value == "error"
    assert stale.metadata["age_minutes"].value >= 120
