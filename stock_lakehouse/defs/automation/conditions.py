"""When the batch layer rebuilds itself: closed days, and again whenever their input changes.

Today's partition is still being written by the stream, so automation leaves it alone (people can
materialize it from the UI); a day is compacted and modelled once it has closed, and again when
late data changes its raw_ticks partition (the raw_ticks_partitions sensor records every change).
"""

import dagster as dg

AC = dg.AutomationCondition


def closed_day_refresh() -> dg.AutomationCondition:
    """For daily partitions: run a closed day that is missing, or whose input changed.

    Unlike `eager()`, which looks at the latest (open) day only, this covers every closed day, so
    late ticks for last week recompact last week, and days that closed while Dagster was down are
    caught up. A day whose last run failed is not retried in a loop: it waits for the next change
    upstream or a person.
    """
    closed = ~AC.in_latest_time_window()
    due = (AC.missing() & ~AC.execution_failed()) | AC.any_deps_updated()
    return (
        closed
        & due.since_last_handled()
        & ~AC.any_deps_missing()
        & ~AC.any_deps_in_progress()
        & ~AC.in_progress()
    ).with_label("closed day: new or upstream changed")


def rebuild_when_upstream_changes() -> dg.AutomationCondition:
    """For unpartitioned summaries of daily tables: rebuild after any upstream partition changes.

    Not `eager()`: that waits until no upstream partition is missing, and days without data since
    the partitions' start date are missing forever.
    """
    return (
        AC.any_deps_updated().since_last_handled() & ~AC.any_deps_in_progress() & ~AC.in_progress()
    ).with_label("upstream changed")
