"""The tick simulator: seeded GBM ticks, injected events with labels, and malformed messages.

model.py         GBM price paths, the U-shaped trading day, ticker profiles
generator.py     numpy blocks of ticks (history_blocks), and generate_history / generate_live
                 as iterators of tick dicts
events.py        price jumps and volume spikes, and the labels file of their ground truth
bad_messages.py  make_bad_message and the mix of malformed messages (per dict or per block)
producer.py      Kafka: producer settings, the topic, sending batches (history) or paced
                 messages (live) with progress
run.py           one `stock-lakehouse simulate` run and its summary
"""

from stock_lakehouse.simulator.bad_messages import (
    EXPECTED_REASON,
    BadKind,
    BadMessage,
    Message,
    make_bad_message,
    mix_bad_messages,
)
from stock_lakehouse.simulator.events import EventKind, InjectedEvent, read_labels
from stock_lakehouse.simulator.generator import generate_history, generate_live
from stock_lakehouse.simulator.model import resolve_universe
from stock_lakehouse.simulator.producer import ensure_topic, producer_config
from stock_lakehouse.simulator.run import RunSummary, SimulationOptions, run_simulation

__all__ = [
    "EXPECTED_REASON",
    "BadKind",
    "BadMessage",
    "EventKind",
    "InjectedEvent",
    "Message",
    "RunSummary",
    "SimulationOptions",
    "ensure_topic",
    "generate_history",
    "generate_live",
    "make_bad_message",
    "mix_bad_messages",
    "producer_config",
    "read_labels",
    "resolve_universe",
    "run_simulation",
]
