"""How far the stream has read Kafka: its checkpoint's offsets against the topic's end offsets.

The stream commits no consumer-group offsets (Spark keeps them in its checkpoint), so lag is read
from the checkpoint itself: `offsets/<n>` holds the end offsets of micro-batch n, written before
the batch runs, and `commits/<n>` appears once its output is committed to Delta. The newest n with
both is what raw_ticks holds.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from stock_lakehouse.clients.kafka import end_offsets
from stock_lakehouse.settings import Settings


@dataclass(frozen=True)
class PartitionLag:
    partition: int
    end_offset: int | None  # None: Kafka did not answer
    processed: int  # next offset the stream will read (0 if none yet)

    @property
    def lag(self) -> int | None:
        return None if self.end_offset is None else max(0, self.end_offset - self.processed)


@dataclass(frozen=True)
class StreamProgress:
    last_batch: int | None
    last_batch_at: datetime | None
    partitions: list[PartitionLag]


def committed_offsets(checkpoint: Path, topic: str) -> tuple[int | None, datetime | None, dict]:
    """(batch id, commit time, {partition: next offset}) of the newest committed micro-batch."""
    commits = _numbered(checkpoint / "commits")
    for batch in sorted(commits, reverse=True):
        offsets_file = checkpoint / "offsets" / str(batch)
        if not offsets_file.exists():
            continue
        # v1 / batch metadata / one JSON line per source: {"topic": {"0": 123, ...}}
        lines = offsets_file.read_text().splitlines()
        sources = [json.loads(line) for line in lines[2:] if line.startswith("{")]
        ends = next((s[topic] for s in sources if topic in s), {})
        at = datetime.fromtimestamp(commits[batch].stat().st_mtime, UTC)
        return batch, at, {int(p): int(o) for p, o in ends.items()}
    return None, None, {}


def stream_progress(settings: Settings, end_offsets: dict[int, int] | None) -> StreamProgress:
    """Lag per partition of the ticks topic; `end_offsets` None when Kafka is unreachable."""
    topic = settings.kafka.ticks_topic
    batch, at, processed = committed_offsets(settings.stream.checkpoint_dir, topic)
    partitions = sorted(set(processed) | set(end_offsets or {}))
    return StreamProgress(
        last_batch=batch,
        last_batch_at=at,
        partitions=[
            PartitionLag(
                p, None if end_offsets is None else end_offsets.get(p, 0), processed.get(p, 0)
            )
            for p in partitions
        ],
    )


def topic_end_offsets(settings: Settings, timeout: float = 5.0) -> dict[int, int] | None:
    """High watermark of each partition of the ticks topic; None when Kafka does not answer."""
    from confluent_kafka import KafkaException

    try:  # a probe: refused connections are reported by status itself
        return end_offsets(settings, settings.kafka.ticks_topic, timeout, probe=True)
    except KafkaException:
        return None


def _numbered(folder: Path) -> dict[int, Path]:
    if not folder.is_dir():
        return {}
    return {int(p.name): p for p in folder.iterdir() if p.name.isdigit()}
