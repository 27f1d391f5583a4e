"""The tick simulator without Kafka: reproducible, true to the contract, GBM-shaped, labelled."""

from __future__ import annotations

import itertools
import json
import math
import random
import statistics
import time
import uuid
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta

import pytest
from confluent_kafka import Producer

from stock_lakehouse.clients.kafka import LIBRDKAFKA_LOGGER
from stock_lakehouse.settings import KafkaSettings, Settings
from stock_lakehouse.simulator import (
    EXPECTED_REASON,
    BadKind,
    Message,
    generate_history,
    generate_live,
    make_bad_message,
    mix_bad_messages,
    producer_config,
    resolve_universe,
)
from stock_lakehouse.simulator.events import InjectedEvent
from stock_lakehouse.simulator.generator import encode_tick
from stock_lakehouse.simulator.run import SimulationOptions, history_batches
from stock_lakehouse.ticks import (
    DEFAULT_TICKERS,
    DEFAULT_UNIVERSE,
    SCHEMA_VERSION,
    TICK_FIELDS,
    EventTimeBounds,
    QuarantineReason,
)

R = QuarantineReason
UNIVERSE = resolve_universe(DEFAULT_TICKERS)
PROFILES = {p.symbol: p for p in UNIVERSE}
END = date(2026, 3, 7)  # a Saturday: five days back are Monday 2 to Friday 6 March 2026
DAYS = [date(2026, 3, d) for d in (2, 3, 4, 5, 6)]
TICKS_PER_DAY = 20_000
# The model's convention, stated independently: volatility is annualised over 252 sessions of
# 6.5 hours, and a ticker's clock only runs while the market is open.
SESSION_S = 6.5 * 3600
YEAR_S = 252 * SESSION_S
PY_TYPES = {"string": str, "double": float, "long": int}


@pytest.fixture(scope="module")
def history() -> tuple[list[dict], list[dict]]:
    """Five days of ticks with three injected events per trading hour, and their labels."""
    labels: list[dict] = []
    ticks = list(
        generate_history(
            UNIVERSE,
            days=5,
            ticks_per_day=TICKS_PER_DAY,
            seed=7,
            end_date=END,
            event_rate=3.0,
            on_event=lambda e: labels.append(e.to_json()),
        )
    )
    return ticks, labels


def by_ticker(ticks: list[dict]) -> dict[str, list[dict]]:
    groups: dict[str, list[dict]] = defaultdict(list)
    for tick in ticks:
        groups[tick["ticker"]].append(tick)
    return groups


def utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def stream_reason(value: bytes, known: set[str]) -> QuarantineReason | None:
    """The stream's rules (ticks.py), written out here independently: first failing rule wins."""
    try:
        payload = json.loads(value.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return R.MALFORMED_JSON
    if not isinstance(payload, dict):
        return R.MALFORMED_JSON
    if any(payload.get(field) is None for field in TICK_FIELDS):
        return R.MISSING_FIELD
    for field, kind in TICK_FIELDS.items():
        v = payload[field]
        if kind == "string":
            ok = isinstance(v, str)
        elif kind == "long":
            ok = isinstance(v, int) and not isinstance(v, bool)
        else:
            ok = isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
        if not ok:
            return R.WRONG_TYPE
    if payload["schema_version"] != SCHEMA_VERSION:
        return R.UNSUPPORTED_SCHEMA_VERSION
    bounds, now = EventTimeBounds(), time.time()  # the Kafka timestamp is about now
    earliest = datetime.combine(bounds.earliest_date, datetime.min.time(), UTC).timestamp()
    if not (
        max(earliest, now - bounds.max_age_days * 86400)
        <= payload["timestamp"]
        <= now + bounds.max_lead_minutes * 60
    ):
        return R.IMPLAUSIBLE_EVENT_TIME
    if payload["ticker"] not in known:
        return R.UNKNOWN_TICKER
    if min(payload["price"], payload["bid"], payload["ask"]) <= 0:
        return R.NON_POSITIVE_PRICE
    if payload["volume"] < 0:
        return R.NEGATIVE_VOLUME
    if payload["bid"] > payload["ask"]:
        return R.CROSSED_QUOTE
    return None


# --- reproducibility -------------------------------------------------------------------------


def test_same_seed_gives_identical_messages_and_another_seed_differs():
    def run(seed: int) -> list[Message]:
        ticks = generate_history(UNIVERSE, 2, 3000, seed, END, event_rate=5.0)
        return list(mix_bad_messages(ticks, 0.1, seed, DEFAULT_TICKERS))

    def prices(messages: list[Message]) -> list[float]:
        return [json.loads(m.value)["price"] for m in messages if m.bad is None]

    first, again, other = run(11), run(11), run(12)
    assert first == again
    assert len(prices(first)) == len(prices(other)) == 6000
    differ = sum(a != b for a, b in zip(prices(first), prices(other), strict=True))
    assert differ > 5000
    assert [m.value for m in first if m.bad] != [m.value for m in other if m.bad]


def test_live_ticks_repeat_with_the_seed_except_their_wall_clock_timestamps():
    def take(clock_start: float, n: int = 2000) -> list[dict]:
        clock = iter(clock_start + i * 0.001 for i in range(n))
        stream = generate_live(UNIVERSE, rate=500, seed=3, clock=lambda: next(clock), event_rate=60)
        return [next(stream) for _ in range(n)]

    a, b = take(1_800_000_000.0), take(1_900_000_000.0)
    assert [t["timestamp"] for t in a] == [
        round(1_800_000_000.0 + i * 0.001, 6) for i in range(2000)
    ]
    strip = lambda ticks: [{k: v for k, v in t.items() if k != "timestamp"} for t in ticks]  # noqa: E731
    assert strip(a) == strip(b)


def test_bad_messages_do_not_change_the_good_ticks():
    ticks = list(generate_history(UNIVERSE, 1, 5000, 5, END))
    mixed = list(mix_bad_messages(iter(ticks), 0.3, 5, DEFAULT_TICKERS))
    good = [json.loads(m.value) for m in mixed if m.bad is None]
    assert good == ticks  # same ticks, same seq numbers: bad ones took none


def test_history_batches_are_the_tick_by_tick_messages_and_labels_in_the_same_order():
    """The producer's block path (one pass per block) against mix_bad_messages over dicts."""
    options = SimulationOptions(
        mode="history", topic="t", tickers=DEFAULT_TICKERS, days=2, ticks_per_day=40_000,
        end_date=END, bad_ratio=0.05, event_rate=6.0,
    )  # fmt: skip
    by_tick: list[InjectedEvent] = []
    ticks = generate_history(UNIVERSE, 2, 40_000, 11, END, 6.0, by_tick.append)
    expected = [
        (m.key.encode(), m.value) for m in mix_bad_messages(ticks, 0.05, 11, DEFAULT_TICKERS)
    ]
    by_block: list[InjectedEvent] = []
    batches = list(history_batches(options, UNIVERSE, 11, DEFAULT_TICKERS, by_block.append))
    assert len(batches) > 4  # several blocks, so state carried between blocks is exercised
    assert [kv for b in batches for kv in zip(b.keys, b.values, strict=True)] == expected
    assert sum(b.good for b in batches) == 80_000
    assert sum(b.bad for b in batches) == len(expected) - 80_000 > 0
    assert by_block == by_tick and len(by_tick) > 20


def test_ticks_and_labels_do_not_depend_on_how_they_are_cut_into_blocks():
    """Blocks of 7 ticks over 9 tickers: most events fall due after their symbol's last tick of
    a block and wait for the next one, and spikes run on over many blocks."""
    runs = []
    for block_size in (7, 50_000):
        labels: list[InjectedEvent] = []
        ticks = list(generate_history(UNIVERSE, 2, 6000, 4, END, 30.0, labels.append, block_size))
        runs.append((ticks, labels))
    (small, small_labels), (large, large_labels) = runs
    assert small == large
    assert small_labels == large_labels
    assert {label.kind for label in small_labels} == {"price_jump", "volume_spike"}


# --- the contract ----------------------------------------------------------------------------


def test_every_tick_has_exactly_the_contract_fields_with_their_types(history):
    ticks, _ = history
    assert len(ticks) == 5 * TICKS_PER_DAY
    for tick in ticks:
        assert list(tick) == list(TICK_FIELDS)
        for field, kind in TICK_FIELDS.items():
            assert type(tick[field]) is PY_TYPES[kind], (field, tick)
        assert tick["schema_version"] == SCHEMA_VERSION
        assert tick["exchange"] == PROFILES[tick["ticker"]].exchange
        assert tick["volume"] > 0
        # The fast encoder writes exactly what json.dumps would.
        assert encode_tick(tick) == json.dumps(tick, separators=(",", ":")).encode()


def test_seq_counts_each_ticker_from_zero_and_tick_ids_are_unique_uuids(history):
    ticks, _ = history
    for symbol, series in by_ticker(ticks).items():
        assert [t["seq"] for t in series] == list(range(len(series))), symbol
    ids = [t["tick_id"] for t in ticks]
    assert len(set(ids)) == len(ids)
    assert all(uuid.UUID(hex=i).version == 4 and uuid.UUID(hex=i).hex == i for i in ids[:1000])
    assert set(by_ticker(ticks)) == set(DEFAULT_TICKERS)


def test_messages_are_keyed_by_their_ticker():
    ticks = generate_history(UNIVERSE, 1, 2000, 9, END)
    messages = [m for m in mix_bad_messages(ticks, 0.0, 9, DEFAULT_TICKERS)]
    assert len(messages) == 2000
    assert all(json.loads(m.value)["ticker"] == m.key and m.bad is None for m in messages)


# --- the market model ------------------------------------------------------------------------


def test_prices_follow_gbm_with_each_profiles_volatility(history):
    ticks, labels = history
    jumps = {label["tick_id"] for label in labels if label["kind"] == "price_jump"}
    for symbol, series in by_ticker(ticks).items():
        squares, years = 0.0, 0.0
        for prev, cur in itertools.pairwise(series):
            assert cur["price"] > 0
            if (
                cur["tick_id"] in jumps
                or utc(prev["timestamp"]).date() != utc(cur["timestamp"]).date()
            ):
                continue
            squares += math.log(cur["price"] / prev["price"]) ** 2
            years += (cur["timestamp"] - prev["timestamp"]) / YEAR_S
        realised = math.sqrt(squares / years)
        # ~8,000 returns per ticker: the estimate is within a few % of the truth.
        assert 0.9 < realised / PROFILES[symbol].volatility < 1.1, (symbol, realised)


def test_quotes_straddle_the_trade_price_with_a_small_spread(history):
    ticks, _ = history
    for tick in ticks:
        assert 0 < tick["bid"] < tick["price"] < tick["ask"], tick
        assert (tick["ask"] - tick["bid"]) / tick["price"] < 0.002, tick
        assert round(tick["price"], 2) == tick["price"]


def test_history_lies_in_the_exchange_sessions_of_the_past_days(history):
    ticks, _ = history
    per_day = Counter(utc(t["timestamp"]).date() for t in ticks)
    assert per_day == dict.fromkeys(DAYS, TICKS_PER_DAY)
    stamps = [t["timestamp"] for t in ticks]
    assert stamps == sorted(stamps)
    # New York is on winter time until 8 March 2026: 09:30-16:00 is 14:30-21:00 UTC.
    for ts in stamps:
        moment = utc(ts)
        start = moment.replace(hour=14, minute=30, second=0, microsecond=0)
        assert start.timestamp() <= ts <= start.timestamp() + SESSION_S, moment


def test_history_follows_the_exchange_through_dst_holidays_and_early_closes():
    """The week of the DST switch opens an hour earlier in UTC after it; Thanksgiving 2026-11-26
    has no session, and the day after closes at 13:00 New York (18:00 UTC)."""
    ticks = list(generate_history(UNIVERSE, 8, 400, 3, end_date=date(2026, 3, 12)))
    ticks += list(generate_history(UNIVERSE, 3, 400, 3, end_date=date(2026, 11, 30)))
    days: dict[date, list[datetime]] = defaultdict(list)
    for tick in ticks:
        days[utc(tick["timestamp"]).date()].append(utc(tick["timestamp"]))
    fall = {date(2026, 11, d) for d in (24, 25, 27)}
    assert set(days) == {date(2026, 3, d) for d in (2, 3, 4, 5, 6, 9, 10, 11)} | fall
    for day, moments in days.items():
        summer = date(2026, 3, 8) < day < date(2026, 11, 1)
        opens = datetime(day.year, day.month, day.day, 13 if summer else 14, 30, tzinfo=UTC)
        closes = datetime(day.year, day.month, day.day, 18 if day == date(2026, 11, 27) else 21)
        closes = closes.replace(tzinfo=UTC) - (timedelta(hours=1) if summer else timedelta())
        assert opens <= min(moments) and max(moments) <= closes, day
        assert len(moments) == 400


def test_history_skips_weekends():
    ticks = generate_history(UNIVERSE, 3, 300, 1, end_date=date(2026, 3, 10))  # a Tuesday
    assert {utc(t["timestamp"]).date() for t in ticks} == {date(2026, 3, d) for d in (5, 6, 9)}


def test_history_without_end_date_ends_before_today():
    ticks = list(generate_history(UNIVERSE, 3, 300, 1))
    today = datetime.now(UTC).date()
    assert {utc(t["timestamp"]).weekday() for t in ticks} <= {0, 1, 2, 3, 4}
    assert all(utc(t["timestamp"]).date() < today for t in ticks)
    assert max(t["timestamp"] for t in ticks) < time.time()


def test_volume_is_higher_near_the_open_and_close_than_at_midday():
    ticks = generate_history(UNIVERSE, 5, TICKS_PER_DAY, 21, END)  # no events: a clean profile
    volume = [0] * 13  # half-hour buckets 14:30-21:00 UTC (09:30-16:00 New York in March)
    for tick in ticks:
        bucket = min(12, int((tick["timestamp"] - utc_open(tick["timestamp"])) // 1800))
        volume[bucket] += tick["volume"]
    midday = statistics.mean(volume[5:8])
    assert volume[0] > 2.5 * midday and volume[12] > 2.5 * midday, volume
    assert min(volume) == min(volume[4:9])  # the low is around midday


def utc_open(ts: float) -> float:
    return utc(ts).replace(hour=14, minute=30, second=0, microsecond=0).timestamp()  # winter


def test_unknown_symbols_get_a_stable_default_profile():
    universe = resolve_universe(["aapl", " zqxw ", "ZQXW"])
    assert [p.symbol for p in universe] == ["AAPL", "ZQXW"]
    assert universe[0] == DEFAULT_UNIVERSE[0]
    assert resolve_universe(["ZQXW"]) == universe[1:]
    profile = universe[1]
    assert profile.start_price > 0 and 0 < profile.volatility < 1 and profile.base_volume > 0
    ticks = list(generate_history(universe, 1, 500, 2, END))
    assert {t["ticker"] for t in ticks} == {"AAPL", "ZQXW"}


# --- injected events -------------------------------------------------------------------------


def test_every_label_points_at_a_tick_of_its_symbol(history):
    ticks, labels = history
    # 3 per trading hour over 32.5 hours: about 97, Poisson.
    assert 60 < len(labels) < 140
    assert {label["kind"] for label in labels} == {"price_jump", "volume_spike"}
    by_id = {t["tick_id"]: t for t in ticks}
    for label in labels:
        tick = by_id[label["tick_id"]]
        assert (tick["ticker"], tick["timestamp"], tick["seq"]) == (
            label["symbol"],
            label["event_time"],
            label["seq"],
        )
        assert label["event_time_utc"] == utc(label["event_time"]).isoformat()


def test_price_jumps_are_visible_in_the_prices(history):
    ticks, labels = history
    series = by_ticker(ticks)
    jumps = [label for label in labels if label["kind"] == "price_jump"]
    assert len(jumps) > 20
    for jump in jumps:
        path = series[jump["symbol"]]
        returns = [math.log(b["price"] / a["price"]) for a, b in itertools.pairwise(path)]
        usual = statistics.median(abs(r) for r in returns) / 0.6745  # robust tick-to-tick sigma
        jump_return = returns[jump["seq"] - 1]  # from the tick before to the labelled tick
        expected = math.log(1 + jump["magnitude"])
        assert abs(jump_return) > 8 * usual, jump
        assert abs(jump_return - expected) < 0.3 * abs(expected), (jump_return, jump)


def test_volume_spikes_are_visible_in_the_volumes(history):
    ticks, labels = history
    series = by_ticker(ticks)
    spikes = [label for label in labels if label["kind"] == "volume_spike"]
    windows = defaultdict(list)
    for spike in spikes:
        windows[spike["symbol"]].append(
            (spike["event_time"], spike["event_time"] + spike["duration_s"])
        )
        assert 5 <= spike["magnitude"] <= 12
    checked = 0
    for spike in spikes:
        start, end = spike["event_time"], spike["event_time"] + spike["duration_s"]
        path = series[spike["symbol"]]
        inside = [t["volume"] for t in path if start <= t["timestamp"] < end]
        around = [
            t["volume"]
            for t in path
            if abs(t["timestamp"] - start) < 3600
            and not any(a <= t["timestamp"] < b for a, b in windows[spike["symbol"]])
        ]
        if len(inside) < 8 or len(around) < 30:
            continue  # a spike at the close: most of its window is the next morning
        checked += 1
        assert statistics.median(inside) > 2.5 * statistics.median(around), spike
    assert checked >= 0.7 * len(spikes) and checked > 15


# --- bad messages ----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(BadKind))
def test_each_bad_kind_fails_exactly_the_rule_its_reason_names(kind):
    rng = random.Random(kind)
    known = set(DEFAULT_TICKERS)
    templates = list(generate_history(UNIVERSE, 1, 200, 4, END))
    for template in templates:
        key, value, reason = make_bad_message(kind, template, rng, known)
        assert reason == EXPECTED_REASON[kind]
        assert stream_reason(value, known) == reason, value
        assert key == template["ticker"] or (kind is BadKind.UNKNOWN_TICKER and key not in known)
        if kind not in (BadKind.TRUNCATED_JSON, BadKind.BINARY_GARBAGE):
            payload = json.loads(value)
            assert payload.get("seq") in (-1, None, "first")  # never a good tick's number
    assert {stream_reason(json.dumps(t).encode(), known) for t in templates} == {None}


def test_the_default_bad_message_needs_no_template():
    key, value, reason = make_bad_message(BadKind.NEGATIVE_PRICE)
    assert (key, reason) == ("AAPL", R.NON_POSITIVE_PRICE)
    assert json.loads(value)["price"] < 0
    _, garbage, reason = make_bad_message(BadKind.BINARY_GARBAGE)
    assert reason == R.MALFORMED_JSON
    with pytest.raises(UnicodeDecodeError):
        garbage.decode()
    assert {EXPECTED_REASON[k] for k in BadKind} == set(QuarantineReason)


def test_bad_ratio_mixes_in_that_share_of_each_kind():
    ticks = generate_history(UNIVERSE, 1, TICKS_PER_DAY, 8, END)
    messages = list(mix_bad_messages(ticks, 0.1, 8, DEFAULT_TICKERS))
    bad = [m for m in messages if m.bad is not None]
    assert len(messages) - len(bad) == TICKS_PER_DAY
    assert 0.09 < len(bad) / len(messages) < 0.11
    kinds = Counter(m.bad for m in bad)
    assert set(kinds) == set(BadKind)
    assert min(kinds.values()) > 0.5 * len(bad) / len(BadKind)
    known = set(DEFAULT_TICKERS)
    for m in messages:
        assert stream_reason(m.value, known) == (None if m.bad is None else EXPECTED_REASON[m.bad])
    with pytest.raises(ValueError):
        list(mix_bad_messages([], 1.0, 8, DEFAULT_TICKERS))


# --- the producer ----------------------------------------------------------------------------


def test_producer_config_is_idempotent_and_tuned_for_throughput():
    settings = Settings(kafka=KafkaSettings(bootstrap_servers="kafka-1:9092,kafka-2:9092"))
    config = producer_config(settings)
    assert config["bootstrap.servers"] == "kafka-1:9092,kafka-2:9092"
    assert config["enable.idempotence"] is True
    assert config["acks"] == "all"
    assert 5 <= config["linger.ms"] <= 20
    assert config["compression.type"] == "lz4"
    assert config["batch.num.messages"] > 10_000  # librdkafka's default
    assert config["logger"] is LIBRDKAFKA_LOGGER
    assert producer_config(settings, {"linger.ms": 50, "acks": "1"})["linger.ms"] == 50
    # librdkafka accepts the combination (it refuses e.g. idempotence with acks=1).
    Producer({**config, "bootstrap.servers": "127.0.0.1:1"})
