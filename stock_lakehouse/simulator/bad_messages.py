"""Malformed messages mixed into the tick stream, each with the quarantine reason it must get.

The stream's validation tests build their inputs with `make_bad_message`, so the simulator and
the stream agree on what each kind of damage looks like and where it must land.
"""

from __future__ import annotations

import json
import random
import string
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from enum import StrEnum
from typing import Any, NamedTuple

from stock_lakehouse.simulator.generator import TickBlock, encode_tick, random_uuid_hex
from stock_lakehouse.ticks import (
    DEFAULT_TICKERS,
    REQUIRED_FIELDS,
    SCHEMA_VERSION,
    QuarantineReason,
)


class BadKind(StrEnum):
    TRUNCATED_JSON = "truncated_json"
    BINARY_GARBAGE = "binary_garbage"
    MISSING_FIELD = "missing_field"
    WRONG_TYPE = "wrong_type"
    FUTURE_SCHEMA_VERSION = "future_schema_version"
    UNKNOWN_TICKER = "unknown_ticker"
    NEGATIVE_PRICE = "negative_price"
    NEGATIVE_VOLUME = "negative_volume"
    CROSSED_QUOTE = "crossed_quote"
    IMPLAUSIBLE_EVENT_TIME = "implausible_event_time"


R = QuarantineReason
EXPECTED_REASON: dict[BadKind, QuarantineReason] = {
    BadKind.TRUNCATED_JSON: R.MALFORMED_JSON,
    BadKind.BINARY_GARBAGE: R.MALFORMED_JSON,
    BadKind.MISSING_FIELD: R.MISSING_FIELD,
    BadKind.WRONG_TYPE: R.WRONG_TYPE,
    BadKind.FUTURE_SCHEMA_VERSION: R.UNSUPPORTED_SCHEMA_VERSION,
    BadKind.UNKNOWN_TICKER: R.UNKNOWN_TICKER,
    BadKind.NEGATIVE_PRICE: R.NON_POSITIVE_PRICE,
    BadKind.NEGATIVE_VOLUME: R.NEGATIVE_VOLUME,
    BadKind.CROSSED_QUOTE: R.CROSSED_QUOTE,
    BadKind.IMPLAUSIBLE_EVENT_TIME: R.IMPLAUSIBLE_EVENT_TIME,
}

# Non-numeric strings for numeric fields; none of them is one Spark's JSON reader accepts as a
# number ("NaN", "Infinity", "INF" are).
WRONG_TYPE_VALUES: dict[str, str] = {
    "price": "n/a",
    "volume": "lots",
    "timestamp": "yesterday",
    "bid": "-",
    "ask": "ask me",
    "seq": "first",
}

# A valid tick the bad messages are cut from when the caller has none at hand.
SAMPLE_TICK: dict[str, object] = {
    "ticker": "AAPL",
    "price": 190.25,
    "volume": 100,
    "timestamp": 1_772_463_600.0,  # 2026-03-02 15:00 UTC
    "bid": 190.23,
    "ask": 190.27,
    "exchange": "NASDAQ",
    "seq": 0,
    "tick_id": "0" * 32,
    "schema_version": SCHEMA_VERSION,
}


class BadMessage(NamedTuple):
    key: str
    value: bytes
    reason: QuarantineReason


class Message(NamedTuple):
    """One Kafka record as produced: key, UTF-8 value, and the damage done to it (None = good)."""

    key: str
    value: bytes
    bad: BadKind | None = None


# One compact encoder for the damaged payloads: json.dumps with arguments builds one per call.
_ENCODER = json.JSONEncoder(separators=(",", ":"))


def encode_json(payload: Mapping[str, object]) -> bytes:
    return _ENCODER.encode(payload).encode()


def make_bad_message(
    kind: BadKind,
    template: Mapping[str, object] | None = None,
    rng: random.Random | None = None,
    known_tickers: Collection[str] = DEFAULT_TICKERS,
) -> BadMessage:
    """A message damaged in one way, from a valid `template` tick: (key, value bytes, reason).

    Every other field stays valid, so the expected reason is the first rule the stream sees fail.
    Bad messages carry seq -1 and a fresh tick_id: they never take a good tick's sequence number.
    The key is the ticker the message claims (the made-up one for unknown_ticker).
    """
    rng = rng or random.Random(0)
    tick: dict[str, Any] = dict(template or SAMPLE_TICK)
    tick["seq"] = -1
    tick["tick_id"] = random_uuid_hex(rng)
    if known_tickers and tick["ticker"] not in known_tickers:
        # A known ticker, so a later rule (non_positive_price, ...) is not masked by unknown_ticker.
        tick["ticker"] = rng.choice(sorted(known_tickers))
    key = str(tick["ticker"])
    if kind is BadKind.TRUNCATED_JSON:
        text = encode_json(tick)
        value = text[: rng.randrange(1, len(text) - 1)]  # an object without its closing brace
    elif kind is BadKind.BINARY_GARBAGE:
        # 0xff never occurs in UTF-8, so no decoder mistakes this for text, let alone JSON.
        value = b"\xff" + rng.randbytes(rng.randrange(7, 64))
    else:
        _damage(kind, tick, rng, known_tickers)
        value = encode_json(tick)
        key = str(tick.get("ticker") or key)  # keyed by the ticker it claims, if any
    return BadMessage(key, value, EXPECTED_REASON[kind])


def _damage(
    kind: BadKind, tick: dict[str, Any], rng: random.Random, known: Collection[str]
) -> None:
    if kind is BadKind.MISSING_FIELD:
        field = rng.choice(REQUIRED_FIELDS)
        if rng.random() < 0.5:
            del tick[field]
        else:
            tick[field] = None  # JSON null counts as missing
    elif kind is BadKind.WRONG_TYPE:
        field = rng.choice(sorted(WRONG_TYPE_VALUES))
        tick[field] = WRONG_TYPE_VALUES[field]
    elif kind is BadKind.FUTURE_SCHEMA_VERSION:
        tick["schema_version"] = SCHEMA_VERSION + 1
    elif kind is BadKind.UNKNOWN_TICKER:
        tick["ticker"] = _unknown_symbol(rng, known)
    elif kind is BadKind.NEGATIVE_PRICE:
        tick["price"] = -abs(float(tick["price"]))
    elif kind is BadKind.NEGATIVE_VOLUME:
        tick["volume"] = -abs(int(tick["volume"])) - 1
    elif kind is BadKind.CROSSED_QUOTE:
        tick["bid"], tick["ask"] = tick["ask"], tick["bid"]
    elif kind is BadKind.IMPLAUSIBLE_EVENT_TIME:
        # A producer's unit or clock mistake: epoch milliseconds or microseconds, 0, year 2100.
        tick["timestamp"] = rng.choice(
            [float(tick["timestamp"]) * 1000, float(tick["timestamp"]) * 1e6, 0.0, 4.1e9]
        )


def _unknown_symbol(rng: random.Random, known: Collection[str]) -> str:
    while True:
        symbol = "".join(rng.choices(string.ascii_uppercase, k=rng.randint(3, 5)))
        if symbol not in known:
            return symbol


def mix_bad_messages(
    ticks: Iterable[dict],
    ratio: float,
    seed: int,
    known_tickers: Collection[str],
    kinds: Sequence[BadKind] = tuple(BadKind),
) -> Iterator[Message]:
    """Every tick as a Message, with bad ones inserted so they make up `ratio` of all messages.

    Before each good tick, bad messages follow while a coin with P(bad) = ratio says so: a
    geometric number with mean ratio / (1 - ratio) per tick. Each is cut from the tick it precedes,
    so its timestamp and prices are realistic. The bad messages have their own random stream.
    """
    mixer = BadMixer(ratio, seed, known_tickers, kinds)
    for tick in ticks:
        if ratio:
            yield from mixer.before(tick)
        yield Message(tick["ticker"], encode_tick(tick), None)


class BadMixer:
    """The random stream of mix_bad_messages, for one tick dict or a whole block at a time: both
    make the same messages from the same seed."""

    def __init__(
        self,
        ratio: float,
        seed: int,
        known_tickers: Collection[str],
        kinds: Sequence[BadKind] = tuple(BadKind),
    ) -> None:
        if not 0.0 <= ratio < 1.0:
            raise ValueError(f"bad ratio must be in [0, 1), got {ratio}")
        self.ratio = ratio
        self.kinds = kinds
        self._rng = random.Random(f"{seed}:bad")
        self._known = frozenset(known_tickers)

    def before(self, tick: Mapping[str, object]) -> list[Message]:
        """The bad messages that go before `tick` (most often none)."""
        return self._run(tick) if self._rng.random() < self.ratio else []

    def _run(self, tick: Mapping[str, object]) -> list[Message]:
        """One bad message cut from `tick` (its coin has come up), then more while the coin says
        so: the same draws in the same order, whether a dict or a block is being mixed."""
        rng = self._rng
        bad = []
        while True:
            kind = rng.choice(self.kinds)
            key, value, _ = make_bad_message(kind, tick, rng, self._known)
            bad.append(Message(key, value, kind))
            if not rng.random() < self.ratio:
                return bad

    def block(self, block: TickBlock) -> MessageBatch:
        """A block's ticks as Kafka records with the bad messages mixed in; a tick's dict is
        built only when a bad message is cut from it."""
        keys, values = block.keys(), block.encode()
        if not self.ratio:
            return MessageBatch(keys, values, good=len(values), bad=0)
        coin, ratio = self._rng.random, self.ratio
        mixed_keys: list[bytes] = []
        mixed_values: list[bytes] = []
        for i, (key, value) in enumerate(zip(keys, values, strict=True)):
            if coin() < ratio:
                for message in self._run(block.tick(i)):
                    mixed_keys.append(message.key.encode())
                    mixed_values.append(message.value)
            mixed_keys.append(key)
            mixed_values.append(value)
        bad = len(mixed_values) - len(values)
        return MessageBatch(mixed_keys, mixed_values, good=len(values), bad=bad)


class MessageBatch(NamedTuple):
    """Records to produce in order: keys, values, and how many of them are good ticks or bad."""

    keys: list[bytes]
    values: list[bytes]
    good: int
    bad: int
