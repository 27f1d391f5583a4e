"""The tick generators: pure, seeded blocks of ticks that need no Kafka to run or test.

Ticks are computed a block at a time with numpy (a few tenths of a microsecond a tick), so the
Python left per tick is the JSON line and the produce() call. Each random stream (prices, ids,
arrival times, events) has its own seeded generator, so turning events or bad messages on or off
never changes the ticks themselves.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import numpy as np

from stock_lakehouse.market_calendar import DEFAULT_CALENDAR, sessions_before
from stock_lakehouse.simulator.events import EventInjector, InjectedEvent, PlannedEvent
from stock_lakehouse.simulator.model import (
    TRADING_SECONDS_PER_YEAR,
    activity,
    gbm_log_step,
    quote,
    session_fraction,
    trade_volume,
)
from stock_lakehouse.ticks import SCHEMA_VERSION, TickerProfile

# Ticks computed per block: large enough that numpy's per-call cost vanishes, small enough that
# a stopped run has sent every block it generated (the sender checks between blocks) within
# tens of milliseconds.
HISTORY_BLOCK = 16_384
# Live mode computes ahead on the nominal schedule; a small block keeps that look-ahead short.
LIVE_BLOCK = 256

# Version 4 and RFC 4122 variant bits, set the way uuid.UUID(int=..., version=4) sets them.
_UUID_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))
_UUID_SET = (4 << 76) | (0x8000 << 48)


def random_uuid_hex(rng: random.Random) -> str:
    """A uuid4 hex drawn from a seeded generator, so a rerun with the same seed has the same ids
    (what lets the stream's de-duplication be tested end to end); 3x faster than uuid.UUID."""
    return f"{rng.getrandbits(128) & _UUID_CLEAR | _UUID_SET:032x}"


def uuid4_hex_block(rng: np.random.Generator, n: int) -> list[str]:
    """`n` uuid4 hex ids from one draw of random bytes, the version and variant bits set."""
    raw = np.frombuffer(rng.bytes(16 * n), dtype=np.uint8).reshape(n, 16).copy()
    raw[:, 6] = raw[:, 6] & 0x0F | 0x40
    raw[:, 8] = raw[:, 8] & 0x3F | 0x80
    text = raw.tobytes().hex()
    return [text[i : i + 32] for i in range(0, 32 * n, 32)]


def seeded(seed: int, stream: str) -> np.random.Generator:
    """numpy's generator for one named random stream of a run, the same for the same seed."""
    digest = hashlib.sha256(f"{seed}:{stream}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:16], "big"))


def _running_sum(start: float, steps: np.ndarray) -> np.ndarray:
    """start + steps[0], + steps[1], ...: the additions one by one, as one long running sum would
    make them, so a sum carried over from the previous block rounds the same way."""
    return np.cumsum(np.concatenate(([start], steps)))[1:]


def pick(rng: np.random.Generator, choices: int, n: int) -> np.ndarray:
    """`n` uniform indices below `choices`, one double each (block-size independent, unlike
    Generator.integers, which buffers half-words within one call)."""
    return (rng.random(n) * choices).astype(np.int64)


_JSON_STRINGS: dict[str, str] = {}  # ticker and exchange names, JSON-quoted once


def _quoted(text: str) -> str:
    quoted = _JSON_STRINGS.get(text)
    if quoted is None:
        quoted = _JSON_STRINGS[text] = json.dumps(text)
    return quoted


def encode_tick(tick: dict) -> bytes:
    """Compact JSON of a generated tick, byte for byte what json.dumps(separators=(",", ":"))
    gives, at a third of its cost. Only for this module's ticks: floats are finite (their repr
    is JSON), tick_id is hex.
    """
    return (
        f'{{"ticker":{_quoted(tick["ticker"])},"price":{tick["price"]!r},'
        f'"volume":{tick["volume"]!r},"timestamp":{tick["timestamp"]!r},'
        f'"bid":{tick["bid"]!r},"ask":{tick["ask"]!r},"exchange":{_quoted(tick["exchange"])},'
        f'"seq":{tick["seq"]!r},"tick_id":"{tick["tick_id"]}",'
        f'"schema_version":{tick["schema_version"]!r}}}'
    ).encode()


@dataclass
class TickBlock:
    """Consecutive ticks as columns (Python lists, ready to format), and the events they start.

    `timestamps` is None for live blocks: live ticks are stamped when they are taken.
    """

    universe: Sequence[TickerProfile]
    symbols: list[int]
    prices: list[float]
    volumes: list[int]
    timestamps: list[float] | None
    bids: list[float]
    asks: list[float]
    seqs: list[int]
    tick_ids: list[str]
    started: dict[int, list[PlannedEvent]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.symbols)

    def tick(self, i: int, timestamp: float | None = None) -> dict:
        """Tick `i` as the contract's dict (field order included)."""
        profile = self.universe[self.symbols[i]]
        return {
            "ticker": profile.symbol,
            "price": self.prices[i],
            "volume": self.volumes[i],
            "timestamp": self.timestamps[i] if timestamp is None else timestamp,
            "bid": self.bids[i],
            "ask": self.asks[i],
            "exchange": profile.exchange,
            "seq": self.seqs[i],
            "tick_id": self.tick_ids[i],
            "schema_version": SCHEMA_VERSION,
        }

    def keys(self) -> list[bytes]:
        """Each tick's Kafka key: its ticker."""
        names = [p.symbol.encode() for p in self.universe]
        return [names[s] for s in self.symbols]

    def encode(self) -> list[bytes]:
        """Every tick's JSON, byte for byte what encode_tick(self.tick(i)) gives, in one pass."""
        assert self.timestamps is not None, "live ticks are encoded one by one, when stamped"
        heads = [f'{{"ticker":{_quoted(p.symbol)},"price":' for p in self.universe]
        venues = [_quoted(p.exchange) for p in self.universe]
        tail = f',"schema_version":{SCHEMA_VERSION!r}}}'
        return [
            f'{heads[s]}{p!r},"volume":{v!r},"timestamp":{t!r},"bid":{b!r},"ask":{a!r},'
            f'"exchange":{venues[s]},"seq":{q!r},"tick_id":"{i}"{tail}'.encode()
            for s, p, v, t, b, a, q, i in zip(
                self.symbols,
                self.prices,
                self.volumes,
                self.timestamps,
                self.bids,
                self.asks,
                self.seqs,
                self.tick_ids,
                strict=True,
            )
        ]

    def labels_at(self, i: int, tick: dict) -> list[InjectedEvent]:
        """Ground truth of the events that first show at tick `i` (given as its dict)."""
        return [
            InjectedEvent(
                symbol=event.symbol,
                kind=event.kind,
                event_time=tick["timestamp"],
                magnitude=event.magnitude,
                duration_s=event.duration_s,
                tick_id=tick["tick_id"],
                seq=tick["seq"],
            )
            for event in self.started.get(i, ())
        ]

    def labels(self) -> list[InjectedEvent]:
        """Ground truth of every event this block starts, in the order of their ticks."""
        return [label for i in sorted(self.started) for label in self.labels_at(i, self.tick(i))]


class TickModel:
    """One GBM path per ticker, moved a block of (symbol, trading-clock second) at a time."""

    def __init__(self, universe: Sequence[TickerProfile], seed: int, event_rate: float) -> None:
        if not universe:
            raise ValueError("the ticker universe is empty")
        self.universe = tuple(universe)
        self.drift = np.array([p.drift for p in universe])
        self.volatility = np.array([p.volatility for p in universe])
        self.base_volume = np.array([p.base_volume for p in universe], dtype=float)
        self.log_price = np.log([p.start_price for p in universe])
        self.clock = np.zeros(len(universe))  # trading-clock second of each path's last tick
        self.seq = np.zeros(len(universe), dtype=np.int64)  # each path's next sequence number
        self.events = EventInjector(universe, event_rate, seed)
        # One generator per quantity, each drawn value by value: the ticks do not depend on
        # how they are cut into blocks.
        self._steps = seeded(seed, "price-steps")
        self._spreads = seeded(seed, "spreads")
        self._sizes = seeded(seed, "sizes")
        self._ids = seeded(seed, "ids")

    def block(
        self,
        symbols: np.ndarray,
        clocks: np.ndarray,
        timestamps: np.ndarray | None,
        weights: np.ndarray | float = 1.0,
    ) -> TickBlock:
        """The next ticks: `symbols` (universe indices) at sorted trading-clock `clocks`, trade
        sizes scaled by sqrt(`weights`) (the time-of-day activity)."""
        n = len(symbols)
        z_price = self._steps.standard_normal(n)
        u_spread, z_size = self._spreads.random(n), self._sizes.standard_normal(n)
        effects = self.events.apply(symbols, clocks)
        log_price = np.empty(n)
        seqs = np.empty(n, dtype=np.int64)
        order = np.argsort(symbols, kind="stable")
        bounds = np.cumsum(np.bincount(symbols, minlength=len(self.universe)))
        first = 0
        for s, last in enumerate(bounds):
            idx = order[first:last]
            first = last
            if not idx.size:
                continue
            at = clocks[idx]
            previous = np.concatenate(([self.clock[s]], at[:-1]))
            dt = np.maximum(at - previous, 0.0) / TRADING_SECONDS_PER_YEAR
            if self.seq[s] == 0:
                dt[0] = 0.0  # a path's first tick is its start price
            steps = gbm_log_step(dt, self.drift[s], self.volatility[s], z_price[idx])
            path = _running_sum(self.log_price[s], steps + effects.log_jump[idx])
            log_price[idx] = path
            seqs[idx] = self.seq[s] + np.arange(idx.size)
            self.log_price[s], self.clock[s] = path[-1], at[-1]
            self.seq[s] += idx.size
        price, bid, ask = quote(np.exp(log_price), u_spread)
        weight = np.sqrt(weights) * effects.volume_factor
        volume = trade_volume(self.base_volume[symbols], weight, z_size)
        started: dict[int, list[PlannedEvent]] = {}
        for i, event in effects.started:
            started.setdefault(i, []).append(event)
        return TickBlock(
            universe=self.universe,
            symbols=symbols.tolist(),
            prices=price.tolist(),
            volumes=volume.tolist(),
            timestamps=None if timestamps is None else timestamps.tolist(),
            bids=bid.tolist(),
            asks=ask.tolist(),
            seqs=seqs.tolist(),
            tick_ids=uuid4_hex_block(self._ids, n),
            started=started,
        )


def history_blocks(
    universe: Sequence[TickerProfile],
    days: int,
    ticks_per_day: int,
    seed: int,
    end_date: date | None = None,
    event_rate: float = 0.0,
    block_size: int = HISTORY_BLOCK,
    calendar: str = DEFAULT_CALENDAR,
) -> Iterator[TickBlock]:
    """Blocks of the ticks of the `days` sessions before `end_date` (default today), in order.

    The sessions are the exchange's (`calendar`: holidays skipped, each day's own open and close,
    early closes included). Each session gets exactly `ticks_per_day` ticks over all tickers, at
    times inside it drawn from the U-shaped activity curve; prices move on a clock of trading
    seconds; `event_rate` is injected events per trading hour.
    """
    model = TickModel(universe, seed, event_rate)
    times, picks = seeded(seed, "arrival-times"), seeded(seed, "arrival-symbols")
    traded = 0.0  # trading seconds of the sessions before this one
    end = end_date or datetime.now(UTC).date()
    for session in sessions_before(days, end, calendar):
        opens, length = session.open.timestamp(), session.seconds
        # Sorted uniforms a block at a time, from the descending order statistics
        # M_k = M_(k+1) U^(1/k) in log space: a 5M-tick day needs no array of 5M times.
        log_above = 0.0
        for top in range(ticks_per_day, 0, -block_size):
            k = np.arange(top, max(top - block_size, 0), -1, dtype=float)
            logs = _running_sum(log_above, np.log1p(-times.random(k.size)) / k)
            log_above = float(logs[-1])
            x = session_fraction(-np.expm1(logs))
            offsets = x * length
            symbols = pick(picks, len(universe), k.size)
            yield model.block(
                symbols,
                clocks=traded + offsets,
                timestamps=np.round(opens + offsets, 6),
                weights=activity(x),
            )
        traded += length


def generate_history(
    universe: Sequence[TickerProfile],
    days: int,
    ticks_per_day: int,
    seed: int,
    end_date: date | None = None,
    event_rate: float = 0.0,
    on_event: Callable[[InjectedEvent], None] | None = None,
    block_size: int = HISTORY_BLOCK,
    calendar: str = DEFAULT_CALENDAR,
) -> Iterator[dict]:
    """history_blocks as one tick dict after another; `on_event` gets each label at its tick."""
    blocks = history_blocks(
        universe, days, ticks_per_day, seed, end_date, event_rate, block_size, calendar
    )
    for block in blocks:
        for i in range(len(block)):
            tick = block.tick(i)
            if on_event is not None and i in block.started:
                for label in block.labels_at(i, tick):
                    on_event(label)
            yield tick


def generate_live(
    universe: Sequence[TickerProfile],
    rate: float,
    seed: int,
    clock: Callable[[], float] = time.time,
    event_rate: float = 0.0,
    on_event: Callable[[InjectedEvent], None] | None = None,
) -> Iterator[dict]:
    """An endless stream of ticks stamped with `clock()` when each is taken.

    Prices move on the nominal schedule (tick i at i / rate seconds), not on measured wall-clock
    gaps, and the time-of-day volume curve is left out: so the same seed gives the same ticks,
    timestamps apart, however the consumer paces them.
    """
    model = TickModel(universe, seed, event_rate)
    picks = seeded(seed, "arrival-symbols")
    taken = 0
    while True:
        clocks = np.arange(taken, taken + LIVE_BLOCK) / rate
        block = model.block(pick(picks, len(universe), LIVE_BLOCK), clocks, None)
        taken += LIVE_BLOCK
        for i in range(LIVE_BLOCK):
            tick = block.tick(i, timestamp=round(clock(), 6))
            if on_event is not None and i in block.started:
                for label in block.labels_at(i, tick):
                    on_event(label)
            yield tick
