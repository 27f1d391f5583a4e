"""Every configuration variable is documented in .env.example, and docker/ uses the same names."""

from __future__ import annotations

import re

import yaml

from stock_lakehouse.settings import PROJECT_ROOT, Settings

ENV_EXAMPLE = (PROJECT_ROOT / ".env.example").read_text()
DOCUMENTED = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", ENV_EXAMPLE, flags=re.MULTILINE))


def test_every_settings_field_is_documented_in_env_example():
    expected = {
        f"{model.model_config['env_prefix']}{name}".upper()
        # Every section of Settings, so a new section cannot be forgotten here.
        for model in (field.annotation for field in Settings.model_fields.values())
        for name in model.model_fields
    }
    assert expected - DOCUMENTED == set()


def test_compose_file_reads_only_documented_variables():
    text = (PROJECT_ROOT / "docker" / "compose.yml").read_text()
    yaml.safe_load(text)  # it parses
    # ${NAME} is read from the environment; $${NAME} is a literal for the container's shell.
    used = set(re.findall(r"(?<!\$)\$\{([A-Z][A-Z0-9_]*)", text))
    assert used, "compose.yml should take its settings from the environment"
    assert used - DOCUMENTED == set()


def test_every_platform_container_is_configured_by_documented_variables():
    compose = yaml.safe_load((PROJECT_ROOT / "docker" / "compose.yml").read_text())
    ours = {
        name: service
        for name, service in compose["services"].items()
        if service.get("image") == "stock-lakehouse:local"
    }
    assert {"spark-master", "spark-worker", "dagster-webserver", "dagster-daemon"} <= set(ours)
    assert {"dashboard", "airflow", "simulator"} <= set(ours)
    for name, service in ours.items():
        names = set(service.get("environment") or {}) - {"PATH"}
        assert names - DOCUMENTED == set(), name


def test_postgres_instance_config_reads_documented_variables():
    text = (PROJECT_ROOT / "docker" / "dagster-postgres" / "dagster.yaml").read_text()
    used = set(re.findall(r"env: ([A-Z][A-Z0-9_]*)", text))
    assert {"DAGSTER_PG_HOST", "DAGSTER_PG_PASSWORD", "DAGSTER_STORAGE_DIR"} <= used
    assert used - DOCUMENTED == set()


def test_every_test_named_in_failure_and_recovery_exists():
    text = (PROJECT_ROOT / "docs" / "failure-and-recovery.md").read_text()
    named = re.findall(r"`(test_[a-z_]+\.py)(?:::(test_[a-z0-9_]+))?`", text)
    assert len(named) >= 10
    for module, test in named:
        (path,) = (PROJECT_ROOT / "stock_lakehouse_tests").rglob(module)
        source = path.read_text()
        assert not test or f"def {test}(" in source, f"{module}::{test}"
