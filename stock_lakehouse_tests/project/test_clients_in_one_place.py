"""Every client of an outside system is built in stock_lakehouse/clients/, nowhere else.

A client built elsewhere drifts from the one settings object (a second S3 endpoint, a Kafka
client whose warnings reach the user's terminal); this finds the constructors by name.
"""

from __future__ import annotations

import re

from stock_lakehouse.settings import PROJECT_ROOT

CONSTRUCTORS = re.compile(
    r"\b(AdminClient|Producer|Consumer)\(|\bduckdb\.connect\(|\bboto3\.(client|resource)\("
    r"|\bSparkSession\.builder\b|\bDagsterInstance\.get\(|\bS3FileSystem\("
)
CLIENTS = PROJECT_ROOT / "stock_lakehouse" / "clients"


def constructor_calls(source: str) -> list[str]:
    """The constructor calls in code lines (comments and docstring prose are not code)."""
    return [
        line.strip()
        for line in source.splitlines()
        if CONSTRUCTORS.search(line.split("#", 1)[0]) and not line.lstrip().startswith(('"', "'"))
    ]


def test_no_client_is_built_outside_the_clients_package():
    outside = {}
    for folder in ("stock_lakehouse", "spark_jobs", "bench"):
        for path in (PROJECT_ROOT / folder).rglob("*.py"):
            if CLIENTS in path.parents:
                continue
            if calls := constructor_calls(path.read_text()):
                outside[str(path.relative_to(PROJECT_ROOT))] = calls
    assert outside == {}


def test_the_clients_package_builds_each_kind_and_the_search_sees_them():
    found = "\n".join(p.read_text() for p in CLIENTS.glob("*.py"))
    for kind in ("AdminClient(", "Producer(", "Consumer(", "duckdb.connect(", "SparkSession"):
        assert kind in found, kind
    assert constructor_calls("    admin = AdminClient({'bootstrap.servers': s})")
    assert constructor_calls("con = duckdb.connect(path)")
    assert not constructor_calls("# a Producer(...) is made in clients/kafka.py")
