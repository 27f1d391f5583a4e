"""The tick message contract shared by the simulator (producer) and the stream (consumer).

A tick on the `stock-ticks` topic is one UTF-8 JSON object, keyed by its ticker. The first four
fields are the seed platform's contract and keep their meaning; the rest were added in schema
version 1. Validation reasons are named here so the quarantine table and the tests agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

SCHEMA_VERSION = 1

# name -> JSON type as the stream parses it ("string", "double", "long").
TICK_FIELDS: dict[str, str] = {
    "ticker": "string",
    "price": "double",
    "volume": "long",
    "timestamp": "double",  # event time, epoch seconds (UTC), fractional
    "bid": "double",
    "ask": "double",
    "exchange": "string",
    "seq": "long",  # per-ticker sequence number, from 0, within one simulator run
    "tick_id": "string",  # globally unique (uuid4 hex)
    "schema_version": "long",
}
REQUIRED_FIELDS = tuple(TICK_FIELDS)


class QuarantineReason(StrEnum):
    """Why a message went to the quarantine table instead of raw_ticks (first failing rule)."""

    # not exactly one JSON object in UTF-8 (truncated, binary, empty, trailing content, ...)
    MALFORMED_JSON = "malformed_json"
    MISSING_FIELD = "missing_field"  # a required field is absent or null
    WRONG_TYPE = "wrong_type"  # a field has a JSON type that does not cast to its declared type
    UNSUPPORTED_SCHEMA_VERSION = "unsupported_schema_version"
    # timestamp before the earliest date, too long before or too far after the Kafka timestamp
    IMPLAUSIBLE_EVENT_TIME = "implausible_event_time"
    UNKNOWN_TICKER = "unknown_ticker"  # not in the configured ticker universe
    NON_POSITIVE_PRICE = "non_positive_price"  # price, bid or ask <= 0
    NEGATIVE_VOLUME = "negative_volume"
    CROSSED_QUOTE = "crossed_quote"  # bid > ask


@dataclass(frozen=True)
class EventTimeBounds:
    """Where a tick's event time may fall (MARKET_* settings); outside it is quarantined.

    Defaults: no exchange data before 2000 is simulated; ten years back from the Kafka timestamp
    covers any history replay; five minutes ahead absorbs clock skew between producer and broker.
    """

    earliest_date: date = date(2000, 1, 1)
    max_age_days: float = 3660.0
    max_lead_minutes: float = 5.0


@dataclass(frozen=True)
class TickerProfile:
    """Parameters of one ticker's simulated price path (geometric Brownian motion)."""

    symbol: str
    exchange: str
    start_price: float
    drift: float  # annualised expected return
    volatility: float  # annualised
    base_volume: int  # typical shares per trade at midday


# A dozen liquid US tickers; start prices and volatilities are of the right order, not quotes.
DEFAULT_UNIVERSE: tuple[TickerProfile, ...] = (
    TickerProfile("AAPL", "NASDAQ", 190.0, 0.08, 0.25, 200),
    TickerProfile("MSFT", "NASDAQ", 420.0, 0.09, 0.24, 120),
    TickerProfile("NVDA", "NASDAQ", 120.0, 0.20, 0.50, 400),
    TickerProfile("AMZN", "NASDAQ", 185.0, 0.10, 0.32, 180),
    TickerProfile("GOOGL", "NASDAQ", 170.0, 0.08, 0.30, 160),
    TickerProfile("META", "NASDAQ", 500.0, 0.12, 0.38, 90),
    TickerProfile("TSLA", "NASDAQ", 240.0, 0.05, 0.60, 300),
    TickerProfile("JPM", "NYSE", 200.0, 0.06, 0.22, 110),
    TickerProfile("V", "NYSE", 275.0, 0.06, 0.20, 80),
    TickerProfile("XOM", "NYSE", 115.0, 0.04, 0.26, 150),
    TickerProfile("UNH", "NYSE", 520.0, 0.05, 0.24, 60),
    TickerProfile("JNJ", "NYSE", 155.0, 0.03, 0.16, 90),
)
DEFAULT_TICKERS: tuple[str, ...] = tuple(p.symbol for p in DEFAULT_UNIVERSE)
