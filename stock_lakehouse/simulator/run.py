"""One simulator run, as `stock-lakehouse simulate` starts it: generate, damage, label, produce."""

from __future__ import annotations

import secrets
import signal
import threading
import uuid
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Literal

from stock_lakehouse.market_calendar import DEFAULT_CALENDAR
from stock_lakehouse.settings import Settings
from stock_lakehouse.simulator.bad_messages import BadMixer, MessageBatch, mix_bad_messages
from stock_lakehouse.simulator.events import InjectedEvent, LabelsFile
from stock_lakehouse.simulator.generator import generate_live, history_blocks
from stock_lakehouse.simulator.model import resolve_universe
from stock_lakehouse.simulator.producer import (
    DeliveryCounter,
    Pace,
    ensure_topic,
    make_producer,
    progress_bar,
    send_batches,
    send_messages,
)
from stock_lakehouse.ticks import TickerProfile


def default_labels_path(settings: Settings) -> Path:
    return settings.local.state_dir / "simulator" / "labels.jsonl"


@dataclass(frozen=True)
class SimulationOptions:
    """What one run produces; the CLI's options one to one."""

    mode: Literal["live", "history"]
    topic: str
    tickers: tuple[str, ...]
    seed: int | None = None  # None: a random seed, reported in the summary for a rerun
    rate: float = 100.0  # live: good ticks per second
    duration: float | None = None  # live: stop after this many seconds
    count: int | None = None  # live: stop after this many good ticks
    days: int = 5  # history: trading days before end_date
    ticks_per_day: int = 20_000  # history: good ticks per session over all tickers
    end_date: date | None = None  # history: default today (UTC)
    bad_ratio: float = 0.0  # share of all messages that are malformed
    event_rate: float = 2.0  # injected events per trading hour over the universe
    labels_path: Path | None = None  # default: <state dir>/simulator/labels.jsonl
    partitions: int = 3
    retention_hours: float = 168.0


@dataclass(frozen=True)
class RunSummary:
    mode: str
    topic: str
    seed: int
    ticks: int
    bad: int
    acked: int
    failed: int
    events: int
    elapsed_s: float
    labels_path: Path
    first_error: str | None = None

    @property
    def sent(self) -> int:
        """Every message produced, bad ones included."""
        return self.ticks + self.bad

    @property
    def ticks_per_s(self) -> float:
        return self.sent / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def line(self) -> str:
        return (
            f"{self.mode} (seed {self.seed}): sent {self.sent:,} to '{self.topic}' "
            f"({self.ticks:,} ticks + {self.bad:,} bad), acked {self.acked:,}, "
            f"failed {self.failed:,}; {self.events:,} events injected -> {self.labels_path}; "
            f"{self.elapsed_s:.1f} s, {self.ticks_per_s:,.0f} ticks/s"
        )


def history_batches(
    options: SimulationOptions,
    universe: Sequence[TickerProfile],
    seed: int,
    known_tickers: Collection[str],
    on_event: Callable[[InjectedEvent], None],
    calendar: str = DEFAULT_CALENDAR,
) -> Iterator[MessageBatch]:
    """History mode's records a block at a time, each block's labels written as it is handed
    over: the same messages, in the same order, as mix_bad_messages(generate_history(...))."""
    mixer = BadMixer(options.bad_ratio, seed, known_tickers)
    blocks = history_blocks(
        universe,
        options.days,
        options.ticks_per_day,
        seed,
        options.end_date,
        options.event_rate,
        calendar=calendar,
    )
    for block in blocks:
        batch = mixer.block(block)
        for label in block.labels():
            on_event(label)
        yield batch


def run_simulation(
    settings: Settings, options: SimulationOptions, interactive: bool | None = None
) -> RunSummary:
    """Create the topic if needed, then produce the run's messages and label its events."""
    seed = options.seed if options.seed is not None else secrets.randbelow(2**31)
    universe = resolve_universe(options.tickers)
    known = settings.market.ticker_list  # what the stream accepts, for the bad messages
    ensure_topic(settings, options.topic, options.partitions, options.retention_hours)
    labels_path = options.labels_path or default_labels_path(settings)
    run_id = uuid.uuid4().hex
    counter = DeliveryCounter()
    producer = make_producer(settings, counter)
    with (
        LabelsFile(labels_path, run_id=run_id, topic=options.topic, seed=seed) as labels,
        stop_on_signals() as stop,
    ):
        if options.mode == "history":
            total = options.days * options.ticks_per_day
            batches = history_batches(
                options, universe, seed, known, labels, settings.market.calendar
            )
            with progress_bar(total, interactive) as progress:
                result = send_batches(
                    producer, options.topic, batches, counter, stop, progress, total
                )
        else:
            ticks = generate_live(
                universe, options.rate, seed, event_rate=options.event_rate, on_event=labels
            )
            pace = Pace(options.rate, options.count, options.duration)
            total = options.count or (
                round(options.rate * options.duration) if options.duration else None
            )
            messages = mix_bad_messages(ticks, options.bad_ratio, seed, known)
            with progress_bar(total, interactive) as progress:
                result = send_messages(
                    producer, options.topic, messages, counter, stop, progress, pace, total
                )
    return RunSummary(
        mode=options.mode,
        topic=options.topic,
        seed=seed,
        ticks=result.good,
        bad=result.bad,
        acked=result.acked,
        failed=result.failed,
        events=labels.written,
        elapsed_s=result.elapsed_s,
        labels_path=labels_path,
        first_error=result.first_error,
    )


@contextmanager
def stop_on_signals() -> Iterator[threading.Event]:
    """An event set by the first SIGINT/SIGTERM, so a run stops cleanly and flushes; a second
    Ctrl-C interrupts the flush too."""
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop  # signal handlers can only be installed from the main thread
        return

    def handler(signum: int, frame: object) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
