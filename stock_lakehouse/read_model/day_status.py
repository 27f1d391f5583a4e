"""One row per trading day: what each layer holds, and how far through the pipeline the day is."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pandas as pd

from stock_lakehouse.clients.delta_log import TableStats

STREAMING = "streaming"  # today: the stream is still writing, batch layers wait for the close
RAW_ONLY = "raw only"
COMPACTED = "compacted"
MODELLED = "modelled"
STALE = "marts stale"


def day_status(
    raw: TableStats, compacted: TableStats, marts: pd.DataFrame, today: date | None = None
) -> pd.DataFrame:
    """Rows, files and last write of raw and compacted per day, the marts' rows, and a status.

    A day is `modelled` when the ticks summarised by the marts equal the compacted rows, and
    `marts stale` when they differ (compacted again since, or a failed model run).
    """
    today = today or datetime.now(UTC).date()
    days = sorted(set(raw.days) | set(compacted.days), reverse=True)
    rows = []
    for day in days:
        r, c = raw.days.get(day), compacted.days.get(day)
        rows.append(
            {
                "trade_date": day,
                "raw_rows": r.rows if r else 0,
                "raw_files": r.files if r else 0,
                "raw_written": r.last_modified if r else None,
                "compacted_rows": c.rows if c else None,
                "compacted_files": c.files if c else None,
                "compacted_written": c.last_modified if c else None,
            }
        )
    frame = pd.DataFrame(
        rows,
        columns=[
            "trade_date",
            "raw_rows",
            "raw_files",
            "raw_written",
            "compacted_rows",
            "compacted_files",
            "compacted_written",
        ],
    )
    if not marts.empty:
        per_day = marts.assign(trade_date=pd.to_datetime(marts.trade_date).dt.date.astype(str))
        frame = frame.merge(per_day, on="trade_date", how="left")
    else:
        frame["ticks_in_marts"] = pd.NA
    frame.insert(1, "status", [_status(row, today) for row in frame.itertuples()])
    return frame


def _status(row, today: date) -> str:
    if row.trade_date == today.isoformat():
        return STREAMING
    if pd.isna(row.compacted_rows):
        return RAW_ONLY
    if pd.isna(row.ticks_in_marts):
        return COMPACTED
    return MODELLED if int(row.ticks_in_marts) == int(row.compacted_rows) else STALE
