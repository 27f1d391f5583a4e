"""`stock-lakehouse simulate`: ticks into Kafka, live or as past trading days."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click

from stock_lakehouse.cli.output import console, err
from stock_lakehouse.errors import UserFacingError
from stock_lakehouse.settings import get_settings

POSITIVE = click.FloatRange(min=0, min_open=True)


@click.command()
@click.option("--live", is_flag=True, help="Ticks stamped now, at --rate, until Ctrl-C or a bound.")
@click.option(
    "--history",
    "days",
    type=click.IntRange(min=1),
    metavar="DAYS",
    help="The past DAYS trading sessions of MARKET_CALENDAR, as fast as Kafka takes them.",
)
@click.option("--rate", type=POSITIVE, default=100.0, show_default=True, help="Live: ticks/s.")
@click.option("--duration", type=POSITIVE, metavar="SECONDS", help="Live: stop after it.")
@click.option("--count", type=click.IntRange(min=1), help="Live: stop after this many ticks.")
@click.option(
    "--ticks-per-day",
    type=click.IntRange(min=1),
    default=20_000,
    show_default=True,
    help="History: ticks per session over all tickers.",
)
@click.option("--end-date", type=click.DateTime(["%Y-%m-%d"]), help="History: days before it.")
@click.option("--tickers", help="Comma-separated universe [default: MARKET_TICKERS].")
@click.option("--seed", type=int, help="Same seed and options, same messages [default: random].")
@click.option("--topic", help="[default: KAFKA_TICKS_TOPIC]")
@click.option(
    "--bad-ratio",
    type=click.FloatRange(0, 1, max_open=True),
    default=0.0,
    show_default=True,
    help="Share of malformed messages.",
)
@click.option(
    "--event-rate",
    type=click.FloatRange(min=0),
    default=2.0,
    show_default=True,
    help="Injected price jumps and volume spikes per trading hour.",
)
@click.option(
    "--labels",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where injected events are appended [default: <state dir>/simulator/labels.jsonl].",
)
@click.option("--partitions", type=click.IntRange(min=1), default=3, show_default=True)
@click.option("--retention-hours", type=POSITIVE, default=168.0, show_default=True)
def simulate(
    live: bool,
    days: int | None,
    tickers: str | None,
    topic: str | None,
    end_date: datetime | None,
    **options,
) -> None:
    """Produce simulated ticks to Kafka, with injected events (labelled) and bad messages."""
    from stock_lakehouse.simulator import SimulationOptions, run_simulation

    if live == (days is not None):
        raise click.UsageError("choose one of --live and --history DAYS")
    if days is not None and (options["duration"] or options["count"]):
        raise click.UsageError("--duration and --count bound --live runs only")
    settings = get_settings()
    symbols = settings.market.ticker_list if tickers is None else tickers.upper().split(",")
    universe = tuple(s.strip() for s in symbols if s.strip())
    if not universe:
        raise click.UsageError("no ticker to simulate: set --tickers or MARKET_TICKERS")
    strangers = [s for s in universe if s not in settings.market.ticker_list]
    if strangers:
        err.print(
            f"note: {', '.join(strangers)} not in MARKET_TICKERS - the stream will quarantine "
            "their ticks as unknown_ticker",
            highlight=False,
            soft_wrap=True,
        )
    summary = run_simulation(
        settings,
        SimulationOptions(
            mode="live" if live else "history",
            topic=topic or settings.kafka.ticks_topic,
            tickers=universe,
            days=days or 0,
            end_date=end_date.date() if end_date else None,
            labels_path=options.pop("labels"),
            **options,
        ),
    )
    console.print(summary.line(), markup=False, highlight=False, soft_wrap=True)
    if summary.failed:
        raise UserFacingError(
            f"Kafka did not acknowledge {summary.failed:,} of {summary.sent:,} messages "
            f"({summary.first_error or 'timed out'}) - see 'stock-lakehouse services logs kafka'"
        )
