"""How well the marts' anomaly flags find the simulator's injected events (its ground truth).

An injected event covers the 1-minute bars from the one its first tick falls in to the one where
it ends (a volume spike lasts minutes, a price jump is one tick), plus a tolerance for the bar
boundary. An event is *found* when its ticker has a flag of the matching mart in that span; a
flag outside every event span of its kind is a *false alarm*.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pandas as pd

# Which mart flags which kind of injected event.
FLAGGED_BY = {"volume_spike": "fct_volume_spikes", "price_jump": "fct_price_anomalies"}
BAR_TOLERANCE = pd.Timedelta(minutes=1)
LABEL_COLUMNS = ["symbol", "kind", "event_time", "duration_s", "magnitude"]


@dataclass(frozen=True)
class DetectionScore:
    kind: str
    injected: int
    found: int
    flags: int
    false_alarms: int

    @property
    def recall(self) -> float | None:
        return self.found / self.injected if self.injected else None

    @property
    def precision(self) -> float | None:
        return (self.flags - self.false_alarms) / self.flags if self.flags else None


def read_labels(path: Path, topic: str | None = None) -> pd.DataFrame:
    """The labels file as a frame (empty when absent); lines of other topics are left out."""
    if not path.exists():
        return pd.DataFrame(columns=LABEL_COLUMNS)
    with path.open(encoding="utf-8") as lines:
        records = [json.loads(line) for line in lines if line.strip()]
    labels = pd.DataFrame.from_records(records, columns=[*LABEL_COLUMNS, "topic"])
    if topic is not None:
        labels = labels[labels.topic.isna() | (labels.topic == topic)]
    return labels[LABEL_COLUMNS].reset_index(drop=True)


def labels_in(labels: pd.DataFrame, tickers: list[str], days: list[date]) -> pd.DataFrame:
    """Labels of the chosen tickers on days the marts cover, with their bar span (naive UTC)."""
    start = pd.to_datetime(labels.event_time, unit="s")
    end = start + pd.to_timedelta(labels.duration_s.fillna(0), unit="s")
    spans = labels.assign(
        span_start=start.dt.floor("min"),
        span_end=end.dt.floor("min") + BAR_TOLERANCE,
        trade_date=start.dt.date,
    )
    return spans[spans.symbol.isin(tickers) & spans.trade_date.isin(days)].reset_index(drop=True)


def score(labels: pd.DataFrame, flags: pd.DataFrame, kind: str) -> DetectionScore:
    """Score the flags of one mart (`ticker`, `bar_start`) against labels of one `kind`.

    `labels` is the output of `labels_in`, already restricted to the tickers and days shown.
    """
    events = labels[labels.kind == kind]
    flags = flags[["ticker", "bar_start"]].assign(bar_start=lambda f: pd.to_datetime(f.bar_start))
    pairs = events.reset_index(names="event").merge(flags, left_on="symbol", right_on="ticker")
    inside = pairs[(pairs.bar_start >= pairs.span_start) & (pairs.bar_start <= pairs.span_end)]
    explained = inside[["ticker", "bar_start"]].drop_duplicates()
    unexplained = flags.merge(explained, how="left", indicator=True)
    return DetectionScore(
        kind=kind,
        injected=len(events),
        found=inside.event.nunique(),
        flags=len(flags),
        false_alarms=int((unexplained["_merge"] == "left_only").sum()),
    )
