"""The Dagster instance, as the webserver and daemon see it, for code outside them.

`status` reads the stream's run from it and `demo down` ends the stream runs through it; both
must open the very instance the Dagster processes use: dagster.yaml in DAGSTER_HOME (the
checkout), storage in DAGSTER_STORAGE_DIR (under the state folder unless set).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from dotenv import dotenv_values

from stock_lakehouse.settings import PROJECT_ROOT, Settings

if TYPE_CHECKING:
    import dagster as dg


def dagster_env(settings: Settings) -> dict[str, str]:
    """DAGSTER_HOME holds dagster.yaml (the checkout); storage goes under the state folder."""
    return {
        # .env under the real environment, as pydantic-settings ranks them. (Dagster's own .env
        # loading would rank .env first, so its processes run outside the checkout; see below.)
        **{k: v for k, v in dotenv_values(PROJECT_ROOT / ".env").items() if v is not None},
        **os.environ,
        "DAGSTER_HOME": os.environ.get("DAGSTER_HOME", str(PROJECT_ROOT)),
        "DAGSTER_STORAGE_DIR": os.environ.get(
            "DAGSTER_STORAGE_DIR", str(settings.local.state_dir / "dagster")
        ),
    }


@contextmanager
def dagster_instance(settings: Settings) -> Iterator[dg.DagsterInstance]:
    """The platform's instance. dagster.yaml reads DAGSTER_STORAGE_DIR from the environment, so
    this process's environment gets DAGSTER_HOME and DAGSTER_STORAGE_DIR (the values it would
    hand the Dagster processes anyway)."""
    import dagster as dg

    env = dagster_env(settings)
    os.environ.update({k: env[k] for k in ("DAGSTER_HOME", "DAGSTER_STORAGE_DIR")})
    with dg.DagsterInstance.get() as instance:
        yield instance
