"""The batch's planning time, read from the checkpoint's offset log as Spark writes it."""

from __future__ import annotations

import json
from pathlib import Path

from spark_jobs.stream_ticks import planned_at_in_checkpoint


def test_the_planning_time_is_the_offset_logs_batch_timestamp_and_none_when_unreadable(
    tmp_path: Path,
):
    offsets = tmp_path / "offsets"
    offsets.mkdir()
    meta = {"batchWatermarkMs": 0, "batchTimestampMs": 1796651293017, "conf": {}}
    (offsets / "7").write_text(f'v1\n{json.dumps(meta)}\n{{"ticks":{{"0":1553,"1":1446}}}}')
    assert planned_at_in_checkpoint(tmp_path, 7) == 1796651293.017
    assert planned_at_in_checkpoint(tmp_path, 8) is None  # not planned (yet)
    (offsets / "9").write_text("v1\n")  # cut short
    assert planned_at_in_checkpoint(tmp_path, 9) is None
    (offsets / "10").write_text('v1\n{"batchWatermarkMs": 0}\n')
    assert planned_at_in_checkpoint(tmp_path, 10) is None
