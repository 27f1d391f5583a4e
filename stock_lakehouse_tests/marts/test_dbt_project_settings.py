"""dbt's project rules: no usage statistics (like Dagster and Streamlit here), no user id in git,
one naming scheme for models."""

from __future__ import annotations

import subprocess

import yaml

from stock_lakehouse.settings import PROJECT_ROOT

DBT_PROJECT = PROJECT_ROOT / "dbt_project"


def test_dbt_telemetry_is_off_in_the_project():
    project = yaml.safe_load((DBT_PROJECT / "dbt_project.yml").read_text())
    assert project["flags"]["send_anonymous_usage_stats"] is False


def test_dbt_user_id_file_is_ignored_not_committed():
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", "dbt_project/.user.yml"], cwd=PROJECT_ROOT, check=False
    )
    assert ignored.returncode == 0, ".user.yml is not in .gitignore"
    tracked = subprocess.run(
        ["git", "ls-files", "dbt_project/.user.yml"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert tracked.stdout == ""


# The prefix each models/ folder gives its models (dbt's convention: staging, then facts).
MODEL_PREFIXES = {"staging": "stg_", "marts": "fct_"}


def test_every_model_is_named_by_its_layer():
    models = DBT_PROJECT / "models"
    misnamed = {
        str(sql.relative_to(models))
        for sql in models.rglob("*.sql")
        if not sql.stem.startswith(MODEL_PREFIXES[sql.relative_to(models).parts[0]])
    }
    assert len(list(models.rglob("*.sql"))) >= 7
    assert misnamed == set()
