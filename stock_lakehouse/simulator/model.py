"""The market model: one geometric Brownian motion per ticker and a U-shaped trading day.

Prices move on a trading clock (seconds of open market since the run's first session), so a path
does not drift over nights and weekends, and volatilities are annualised over 252 sessions of
6.5 hours, the convention quoted volatilities use.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import numpy as np

from stock_lakehouse.ticks import DEFAULT_UNIVERSE, TickerProfile

# Quoted volatilities assume a year of 252 regular sessions of 6.5 hours; the sessions themselves
# (their dates, opens and closes) come from the exchange's calendar (market_calendar.py).
NOMINAL_SESSION_SECONDS = 6.5 * 3600
TRADING_SECONDS_PER_YEAR = 252 * NOMINAL_SESSION_SECONDS

# Activity over the session fraction x: 1 + 2(2x-1)^2, three times the midday rate at the open
# and the close, about the shape of US equity volume curves.
EDGE_ACTIVITY = 3.0

# Half spread in cents is at least 1 and about 1-4 basis points of the price, as for large caps.
MIN_HALF_SPREAD_BPS = 1.0
MAX_HALF_SPREAD_BPS = 4.0
# Trade sizes are log-normal around the profile's midday size (median = base_volume).
TRADE_SIZE_SIGMA = 0.6


def default_profile(symbol: str) -> TickerProfile:
    """A plausible profile for a symbol the default universe lacks, the same on every run."""
    digest = hashlib.sha256(symbol.encode()).digest()

    def unit(i: int) -> float:  # a stable number in [0, 1) from byte pair i of the digest
        return int.from_bytes(digest[2 * i : 2 * i + 2], "big") / 65536

    return TickerProfile(
        symbol=symbol,
        exchange="NASDAQ" if digest[0] % 2 else "NYSE",
        start_price=round(20 + 480 * unit(1), 2),
        drift=round(0.02 + 0.10 * unit(2), 4),
        volatility=round(0.18 + 0.32 * unit(3), 4),
        base_volume=50 + int(250 * unit(4)),
    )


def resolve_universe(symbols: Iterable[str] | None = None) -> tuple[TickerProfile, ...]:
    """Profiles for `symbols` (default: the built-in universe); unknown ones get a default."""
    if symbols is None:
        return DEFAULT_UNIVERSE
    known = {p.symbol: p for p in DEFAULT_UNIVERSE}
    wanted = dict.fromkeys(s.strip().upper() for s in symbols if s.strip())
    if not wanted:
        raise ValueError("the ticker universe is empty")
    return tuple(known.get(s) or default_profile(s) for s in wanted)


def activity(x: np.ndarray) -> np.ndarray:
    """Relative trading activity at session fraction x (0 = open, 1 = close); 1 at midday."""
    return 1.0 + (EDGE_ACTIVITY - 1.0) * (2.0 * x - 1.0) ** 2


def session_fraction(u: np.ndarray) -> np.ndarray:
    """Inverse CDF of `activity`: maps uniforms u in [0, 1] to U-distributed session fractions.

    With y = 2x - 1 and k = EDGE_ACTIVITY - 1, F(x) = u becomes the depressed cubic
    y^3 + (3/k) y = (2u - 1)(3 + k)/k, which has one real root (Cardano).
    """
    k = EDGE_ACTIVITY - 1.0
    if k == 0:
        return np.asarray(u, dtype=float)
    p, q = 3.0 / k, (2.0 * np.asarray(u) - 1.0) * (3.0 + k) / k
    root = np.sqrt(q * q / 4.0 + p**3 / 27.0)
    y = np.cbrt(q / 2.0 + root) + np.cbrt(q / 2.0 - root)
    return np.clip((y + 1.0) / 2.0, 0.0, 1.0)


def gbm_log_step(
    dt_years: np.ndarray, drift: np.ndarray, volatility: np.ndarray, z: np.ndarray
) -> np.ndarray:
    """Exact GBM transition over dt in log space: (mu - sigma^2/2) dt + sigma sqrt(dt) z."""
    return (drift - 0.5 * volatility * volatility) * dt_years + volatility * np.sqrt(dt_years) * z


def quote(price: np.ndarray, u: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(trade price, bid, ask) in whole cents with bid < price < ask; `u` uniforms in [0, 1)
    choose each half spread. np.rint rounds half to even, as Python's round() does."""
    cents = np.maximum(2.0, np.rint(price * 100))
    bps = MIN_HALF_SPREAD_BPS + (MAX_HALF_SPREAD_BPS - MIN_HALF_SPREAD_BPS) * u
    half = np.maximum(1.0, np.rint(cents * bps / 1e4))
    cents = np.maximum(cents, half + 1)  # keeps the bid positive for penny prices
    return cents / 100, (cents - half) / 100, (cents + half) / 100


def trade_volume(base_volume: np.ndarray, weight: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Shares in one trade: log-normal around base_volume x weight (time of day, spikes)."""
    shares = np.rint(base_volume * weight * np.exp(TRADE_SIZE_SIGMA * z))
    return np.maximum(1, shares).astype(np.int64)
