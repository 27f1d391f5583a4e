"""A disk too full for the S3 store is a one-line error at start, not a stalled store."""

from __future__ import annotations

import shutil

import pytest

from stock_lakehouse.errors import UserFacingError
from stock_lakehouse.prerequisites import require_free_space
from stock_lakehouse.services.seaweedfs import SeaweedS3Service
from stock_lakehouse.settings import LocalServicesSettings, Settings


def test_free_space_below_the_minimum_is_a_one_line_instruction(tmp_path):
    free = shutil.disk_usage(tmp_path).free
    assert require_free_space(tmp_path / "not" / "yet", 1, "the S3 store") > 0  # parents count
    with pytest.raises(UserFacingError) as refused:
        require_free_space(tmp_path, free + 2**40, "the S3 store")
    message = str(refused.value)
    assert "\n" not in message
    assert f"GiB free on the disk of {tmp_path}" in message
    assert "STOCK_LAKEHOUSE_STATE_DIR" in message


def test_the_s3_store_does_not_start_on_a_disk_without_room(tmp_path):
    settings = Settings(local=LocalServicesSettings(state_dir=tmp_path / "state"))
    store = SeaweedS3Service(settings)
    store.min_free_bytes = shutil.disk_usage(tmp_path).free + 2**40
    with pytest.raises(UserFacingError, match="the S3 store"):
        store.start()
    assert not any(p.is_running() for p in store.processes)
    assert not (tmp_path / "state").exists()  # nothing written either
