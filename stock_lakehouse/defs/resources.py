"""Dagster resources shared by every domain: the project's settings, Spark/job launcher, dbt.

Assets, sensors, checks and ops take the settings as the `settings` resource
(`dg.ResourceParam[Settings]`), never from the process-wide cache, so a test hands them its own. The
processes they start (Spark jobs through Pipes, dbt) read the same environment the settings came
from (`.env`, then the process environment).
"""

from __future__ import annotations

import sys
from pathlib import Path

import dagster as dg
from dagster_dbt import DbtCliResource

from stock_lakehouse.defs.marts.project import DBT_PROJECT_DIR
from stock_lakehouse.settings import Settings

SETTINGS = "settings"


def build_resources(settings: Settings) -> dict[str, object]:
    """Resource instances keyed as assets request them."""
    return {
        SETTINGS: settings,
        # Spark jobs are spark-submit-able scripts; Dagster Pipes runs them and streams their
        # logs and metadata back into the run (see stock_lakehouse.clients.spark_session).
        # The stream needs up to a micro-batch to stop after SIGINT (200k rows: ~10 s).
        "pipes_subprocess_client": dg.PipesSubprocessClient(termination_timeout_seconds=120),
        # dbt on DuckDB (dbt_project/); the lakehouse plugin reads the S3 settings itself.
        # dbt from this interpreter's environment, whether or not its bin/ is on PATH.
        "dbt": DbtCliResource(
            project_dir=str(DBT_PROJECT_DIR),
            profiles_dir=str(DBT_PROJECT_DIR),
            dbt_executable=str(Path(sys.executable).parent / "dbt"),
        ),
    }
