"""The stream job's command line refuses what it cannot use before a JVM or a lease starts."""

from __future__ import annotations

import pytest

from spark_jobs.stream_ticks import main


def test_a_result_json_that_cannot_be_written_is_refused_before_anything_starts(tmp_path, capsys):
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    target = blocked / "results.jsonl"
    with pytest.raises(SystemExit) as refused:
        main(["--available-now", "--result-json", str(target)])
    assert refused.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert f"error: --result-json {target} cannot be written: " in error
    assert blocked.read_text() == "not a folder"
