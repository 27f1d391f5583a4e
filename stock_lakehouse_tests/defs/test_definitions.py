"""The Dagster code location loads, passes `dg check defs` and its resources reach real services."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg

from stock_lakehouse.partitions import daily_partitions
from stock_lakehouse.settings import PROJECT_ROOT, Settings


def load_defs() -> dg.Definitions:
    from stock_lakehouse.definitions import defs

    return defs()


def test_dg_check_defs_passes():
    dg_cli = Path(sys.executable).parent / "dg"
    result = subprocess.run(
        [str(dg_cli), "check", "defs"],
        cwd=PROJECT_ROOT,
        env=os.environ,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "All definitions loaded successfully" in result.stdout + result.stderr


def test_partitions_are_utc_days():
    assert daily_partitions.timezone == "UTC"
    keys = daily_partitions.get_partition_keys_in_range(
        dg.PartitionKeyRange("2026-03-01", "2026-03-03")
    )
    assert keys == ["2026-03-01", "2026-03-02", "2026-03-03"]


def test_every_registered_resource_is_used_and_settings_come_from_the_resource():
    defs = load_defs()
    required = {key for job in defs.resolve_all_job_defs() for key in job.required_resource_keys}
    required |= {key for sensor in defs.sensors for key in sensor.required_resource_keys}
    assert set(defs.resources) == required - {"io_manager"}  # Dagster's own default
    assert isinstance(defs.resources["settings"], Settings)
    # Code under defs/ takes the settings as a resource, never from the process-wide cache.
    defs_dir = PROJECT_ROOT / "stock_lakehouse" / "defs"
    readers = [p for p in defs_dir.rglob("*.py") if "get_settings(" in p.read_text()]
    assert readers == []


def test_dagster_instance_writes_only_under_the_state_folder(tmp_path, monkeypatch):
    # Regression: compute logs once went to $DAGSTER_HOME/storage, inside the checkout.
    monkeypatch.setenv("DAGSTER_HOME", str(PROJECT_ROOT))
    monkeypatch.setenv("DAGSTER_STORAGE_DIR", str(tmp_path))
    with dg.DagsterInstance.get() as instance:
        assert Path(instance.compute_log_manager._base_dir) == tmp_path
        assert Path(instance.root_directory) == tmp_path
        assert str(tmp_path) in instance.run_storage._conn_string


def test_three_asset_layers_share_the_daily_partitions_and_backfill_in_one_run():
    graph = load_defs().resolve_asset_graph()
    layers = {
        "raw_ticks": "ingest",
        "compacted_ticks": "batch",
        "fct_bars_1m": "marts",
        "fct_daily_summary": "marts",
    }
    for name, group in layers.items():
        node = graph.get(dg.AssetKey(name))
        assert node.partitions_def == daily_partitions, name
        assert node.group_name == group, name
    for name in ("compacted_ticks", "fct_daily_summary"):
        policy = graph.get(dg.AssetKey(name)).backfill_policy
        assert policy is not None and policy.max_partitions_per_run is None, name
    # dbt sources map onto the compaction asset: lineage runs raw -> compacted -> marts.
    assert dg.AssetKey("compacted_ticks") in graph.get(dg.AssetKey("stg_ticks")).parent_keys
    # dbt tests arrive as asset checks, next to the compaction's own check.
    checks = {key.name for key in graph.asset_check_keys}
    assert "compacted_rows_match_raw_offsets" in checks
    assert any(name.startswith("unique_combination_fct_bars_1m") for name in checks)


def test_dbt_vars_are_the_half_open_partition_window():
    from datetime import datetime

    from stock_lakehouse.defs.marts.assets import dbt_vars_for

    window = dg.TimeWindow(datetime(2026, 3, 2), datetime(2026, 3, 5))
    assert dbt_vars_for(window) == {"min_date": "2026-03-02", "max_date": "2026-03-05"}


def test_each_dashboard_page_is_an_asset_downstream_of_what_it_reads():
    from stock_lakehouse.definitions import defs

    graph = defs().resolve_asset_graph()
    pages = {k.path[1]: k for k in graph.get_all_asset_keys() if k.path[0] == "dashboard"}
    assert sorted(pages) == ["anomalies", "live", "market", "pipeline"]
    reads = {
        name: sorted(parent.to_user_string() for parent in graph.get(key).parent_keys)
        for name, key in pages.items()
    }
    # From dbt_project/models/_exposures.yml, which matches the queries each page runs.
    assert reads["market"] == [
        "fct_bars_1m",
        "fct_daily_summary",
        "fct_moving_averages",
        "fct_top_movers",
    ]
    assert reads["live"] == ["raw_ticks"]  # the stream's table, not a mart
    assert "compacted_ticks" in reads["pipeline"] and "raw_ticks" in reads["pipeline"]
    for key in pages.values():
        node = graph.get(key)
        assert node.group_name == "dashboard" and not node.is_materializable
        assert str(node.metadata["url"].value).endswith(f"/{key.path[1]}")


def test_the_publish_gates_are_blocking_checks():
    """Write-audit-publish: compaction's audit and the bars' sanity rules stop what is downstream
    of a failing day in the same run (the marts of a refused day, the summary of broken bars)."""
    blocking = {
        (spec.asset_key.to_user_string(), spec.name)
        for assets_def in load_defs().resolve_asset_graph().assets_defs
        for spec in assets_def.check_specs
        if spec.blocking
    }
    gates = {
        ("compacted_ticks", "compacted_rows_match_raw_offsets"),
        ("compacted_ticks", "compacted_tick_ids_unique"),
        ("compacted_ticks", "compacted_ticks_inside_session"),
        ("fct_bars_1m", "accepted_range_fct_bars_1m_open__high__low"),  # low <= open <= high
        ("fct_bars_1m", "accepted_range_fct_bars_1m_close__high__low"),
        ("fct_bars_1m", "accepted_range_fct_bars_1m_volume__0"),  # volume >= 0
        ("fct_bars_1m", "unique_combination_fct_bars_1m_ticker__bar_start"),  # one bar a minute
        ("fct_daily_summary", "accepted_range_fct_daily_summary_open__high__low"),
        ("fct_daily_summary", "accepted_range_fct_daily_summary_close__high__low"),
        ("fct_daily_summary", "accepted_range_fct_daily_summary_volume__0"),
    }
    assert gates <= blocking, gates - blocking
