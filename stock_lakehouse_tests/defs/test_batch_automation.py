"""Automation of the batch layer, tick by tick: closed days, late data, and the open day."""

from __future__ import annotations

from datetime import UTC, datetime

import dagster as dg

from stock_lakehouse.definitions import defs
from stock_lakehouse.defs.compaction.assets import COMPACTED_TICKS_KEY

NOW = datetime(2026, 3, 5, 12, 0, tzinfo=UTC)  # 2026-03-05 is the open day
STG = dg.AssetKey("stg_ticks")
DAILY_SUMMARY = dg.AssetKey("fct_daily_summary")
TOP_MOVERS = dg.AssetKey("fct_top_movers")


class Ticks:
    """Evaluates the automation conditions of the real definitions, carrying the cursor."""

    def __init__(self, instance: dg.DagsterInstance) -> None:
        self.instance = instance
        self.defs = defs()
        self.cursor = None

    def run(self) -> dict[dg.AssetKey, set[str | None]]:
        result = dg.evaluate_automation_conditions(
            defs=self.defs, instance=self.instance, evaluation_time=NOW, cursor=self.cursor
        )
        self.cursor = result.cursor
        keys = self.defs.resolve_asset_graph().get_all_asset_keys()
        return {
            key: set(result.get_requested_partitions(key))
            for key in keys
            if result.get_num_requested(key)
        }

    def materialized(self, key: dg.AssetKey, partition: str | None = None) -> None:
        self.instance.report_runless_asset_event(
            dg.AssetMaterialization(asset_key=key, partition=partition)
        )

    def everything_built(self, day: str) -> None:
        """What a successful daily_refresh + summary run records."""
        for key in self.defs.resolve_asset_graph().get_all_asset_keys():
            if key == dg.AssetKey("raw_ticks"):
                continue
            node = self.defs.resolve_asset_graph().get(key)
            self.materialized(key, day if node.partitions_def else None)


def test_closed_day_is_compacted_and_modelled_and_late_data_redoes_only_that_day():
    with dg.instance_for_test() as instance:
        ticks = Ticks(instance)
        assert ticks.run() == {}  # the first evaluation only records state

        ticks.materialized(dg.AssetKey("raw_ticks"), "2026-03-03")
        requested = ticks.run()
        # The whole partitioned chain of that day goes in one tick.
        assert requested[COMPACTED_TICKS_KEY] == {"2026-03-03"}
        assert requested[STG] == {"2026-03-03"}
        assert requested[DAILY_SUMMARY] == {"2026-03-03"}

        ticks.everything_built("2026-03-03")
        assert COMPACTED_TICKS_KEY not in ticks.run()  # up to date: nothing to do

        # Late ticks for 2026-03-03: the raw_ticks sensor records a new materialization.
        ticks.materialized(dg.AssetKey("raw_ticks"), "2026-03-03")
        requested = ticks.run()
        assert requested[COMPACTED_TICKS_KEY] == {"2026-03-03"}
        ticks.everything_built("2026-03-03")
        assert ticks.run().get(COMPACTED_TICKS_KEY) is None


def test_closed_day_missing_when_dagster_starts_is_caught_up():
    with dg.instance_for_test() as instance:
        ticks = Ticks(instance)
        ticks.materialized(dg.AssetKey("raw_ticks"), "2026-03-02")  # before the first tick
        assert ticks.run() == {}
        assert ticks.run()[COMPACTED_TICKS_KEY] == {"2026-03-02"}


def test_open_day_is_left_to_people():
    with dg.instance_for_test() as instance:
        ticks = Ticks(instance)
        ticks.run()
        ticks.materialized(dg.AssetKey("raw_ticks"), "2026-03-05")
        assert COMPACTED_TICKS_KEY not in ticks.run()


def test_summary_marts_follow_any_changed_day():
    with dg.instance_for_test() as instance:
        ticks = Ticks(instance)
        ticks.run()
        ticks.materialized(DAILY_SUMMARY, "2026-03-02")
        assert TOP_MOVERS in ticks.run()
        ticks.materialized(TOP_MOVERS)
        assert TOP_MOVERS not in ticks.run()


def test_a_refused_day_is_not_modelled_until_its_input_changes_again():
    """Write-audit-publish from the automation's side: a day whose compaction was refused (its
    run failed with no new materialization of compacted_ticks, the marts skipped) gets no marts
    run on its own, neither for a new day nor for late data; the next change of its raw ticks
    tries the whole chain again."""
    with dg.instance_for_test() as instance:
        ticks = Ticks(instance)
        ticks.run()
        ticks.materialized(dg.AssetKey("raw_ticks"), "2026-03-03")
        assert ticks.run()[DAILY_SUMMARY] == {"2026-03-03"}
        # The run is refused: nothing is recorded for the day.
        assert ticks.run() == {}
        # A day that was built, then gets late ticks that are refused: the marts stay as built.
        ticks.everything_built("2026-03-03")
        ticks.run()
        ticks.materialized(dg.AssetKey("raw_ticks"), "2026-03-03")
        assert ticks.run()[COMPACTED_TICKS_KEY] == {"2026-03-03"}
        assert ticks.run() == {}
        # Fixed raw ticks: the chain is due again.
        ticks.materialized(dg.AssetKey("raw_ticks"), "2026-03-03")
        requested = ticks.run()
        assert requested[COMPACTED_TICKS_KEY] == {"2026-03-03"}
        assert requested[DAILY_SUMMARY] == {"2026-03-03"}
