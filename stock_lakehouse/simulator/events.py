"""Injected market events and their ground truth: price jumps and volume spikes at seeded times.

Anomaly detection downstream is scored against the labels file written here: one JSON line per
event that took effect, naming the tick where it first shows, so precision and recall can be
computed exactly.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from types import TracebackType

import numpy as np

from stock_lakehouse.simulator.model import TRADING_SECONDS_PER_YEAR
from stock_lakehouse.ticks import TickerProfile


class EventKind(StrEnum):
    PRICE_JUMP = "price_jump"
    VOLUME_SPIKE = "volume_spike"


# A jump is 4-8 five-minute sigmas of its ticker (AAPL 0.7-1.4 %, TSLA 1.7-3.4 %): tens of
# tick-to-tick sigmas, so it is unmistakable in the data, yet the size of a real news move.
JUMP_SIGMAS = (4.0, 8.0)
JUMP_HORIZON_S = 300.0
# A spike multiplies every trade size of its ticker by 5-12 for 5-15 minutes of trading.
SPIKE_MULTIPLIER = (5.0, 12.0)
SPIKE_SECONDS = (300.0, 900.0)


@dataclass(frozen=True)
class PlannedEvent:
    clock: float  # trading-clock second from which it is due (applied at the symbol's next tick)
    symbol: str
    kind: EventKind
    magnitude: float  # price_jump: relative change (0.012 = +1.2 %); volume_spike: size multiplier
    duration_s: float  # volume_spike: trading seconds it lasts; 0 for a jump


@dataclass(frozen=True)
class InjectedEvent:
    """Ground truth for one event: the tick where it first shows in the data."""

    symbol: str
    kind: EventKind
    event_time: float  # epoch seconds (UTC) of that tick
    magnitude: float
    duration_s: float
    tick_id: str
    seq: int

    def to_json(self) -> dict[str, object]:
        iso = datetime.fromtimestamp(self.event_time, UTC).isoformat()
        return {**asdict(self), "kind": str(self.kind), "event_time_utc": iso}


@dataclass(frozen=True)
class BlockEffects:
    """What events do to a block of ticks: per tick a log price step and a volume factor, and
    which events start at which tick (index into the block, in the order they take effect)."""

    log_jump: np.ndarray
    volume_factor: np.ndarray
    started: tuple[tuple[int, PlannedEvent], ...] = ()


class EventInjector:
    """Plans events as a Poisson process on the trading clock and applies them block by block.

    An event becomes due at its planned time and takes effect at its symbol's next tick, so the
    label always points at a tick that exists: a jump multiplies that tick's price (and the path
    from there on), a spike multiplies trade sizes from that tick for `duration_s`. An event due
    after its symbol's last tick of a block waits for the next block, as a spike runs on into it.
    """

    def __init__(self, universe: Iterable[TickerProfile], rate_per_hour: float, seed: int) -> None:
        self._rng = random.Random(f"{seed}:events")
        self._profiles = list(universe)
        self._index = {p.symbol: i for i, p in enumerate(self._profiles)}
        self._rate = rate_per_hour / 3600.0
        self._pending: list[PlannedEvent] = []
        # (symbol index, start clock, end clock, factor) of every spike that may still run
        self._spikes: list[tuple[int, float, float, float]] = []
        self._next = self._plan(0.0) if self._rate > 0 else None

    def _plan(self, after: float) -> PlannedEvent:
        rng = self._rng
        clock = after + rng.expovariate(self._rate)
        profile = rng.choice(self._profiles)
        if rng.random() < 0.5:
            sigma = profile.volatility * math.sqrt(JUMP_HORIZON_S / TRADING_SECONDS_PER_YEAR)
            magnitude = rng.choice((-1.0, 1.0)) * rng.uniform(*JUMP_SIGMAS) * sigma
            return PlannedEvent(clock, profile.symbol, EventKind.PRICE_JUMP, round(magnitude, 6), 0)
        multiplier = round(rng.uniform(*SPIKE_MULTIPLIER), 3)
        duration = round(rng.uniform(*SPIKE_SECONDS), 1)
        return PlannedEvent(clock, profile.symbol, EventKind.VOLUME_SPIKE, multiplier, duration)

    def apply(self, symbols: np.ndarray, clocks: np.ndarray) -> BlockEffects:
        """Effects on a block of ticks: `symbols` (universe indices) at sorted `clocks`."""
        n = len(clocks)
        log_jump, volume = np.zeros(n), np.ones(n)
        if self._next is None or n == 0:
            return BlockEffects(log_jump, volume)
        last = clocks[-1]
        while self._next.clock <= last:
            self._pending.append(self._next)
            self._next = self._plan(self._next.clock)
        started: list[tuple[int, PlannedEvent]] = []
        waiting: list[PlannedEvent] = []
        for event in self._pending:
            symbol = self._index[event.symbol]
            due = int(np.searchsorted(clocks, event.clock, side="left"))
            hits = np.flatnonzero(symbols[due:] == symbol)
            if not hits.size:
                waiting.append(event)
                continue
            at = due + int(hits[0])
            started.append((at, event))
            if event.kind is EventKind.PRICE_JUMP:
                log_jump[at] += math.log1p(event.magnitude)
            else:
                start = float(clocks[at])
                self._spikes.append((symbol, start, start + event.duration_s, event.magnitude))
        self._pending = waiting
        # A spike lifts every tick of its symbol from its first tick until its end clock; no
        # tick of the symbol lies between the first tick at its clock and the one it starts at.
        live = []
        for symbol, start, end, factor in self._spikes:
            lo, hi = np.searchsorted(clocks, (start, end), side="left")
            window = volume[lo:hi]
            window[symbols[lo:hi] == symbol] *= factor
            if end > last:
                live.append((symbol, start, end, factor))
        self._spikes = live
        started.sort(key=lambda item: item[0])  # stable: planning order within one tick
        return BlockEffects(log_jump, volume, tuple(started))


class LabelsFile:
    """Appends one JSON line per injected event, flushed at once so a stopped run keeps its labels.

    Appending (with `run_id` and `topic` on every line) keeps the ground truth of every run that
    wrote to a topic; pass a fresh path for a labels file of one run alone.
    """

    def __init__(self, path: Path, **context: object) -> None:
        self.path = path
        self.context = context
        self.written = 0
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = path.open("a", encoding="utf-8")

    def __call__(self, event: InjectedEvent) -> None:
        self._file.write(json.dumps({**event.to_json(), **self.context}) + "\n")
        self._file.flush()
        self.written += 1

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> LabelsFile:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def read_labels(path: Path) -> list[dict]:
    """Every label line of a labels file, in the order the events happened."""
    with path.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]
