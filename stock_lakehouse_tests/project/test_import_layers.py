"""Imports run one way: entry points -> applications -> domain -> clients -> core.

docs/architecture.md draws these layers. A module may import its own layer or any lower one; the
applications (the local servers, the Dagster definitions, the dashboard, the Spark jobs) never
import each other, so each can change without the others. Every module has a layer: a new one
fails here until it is placed.
"""

from __future__ import annotations

import ast
from pathlib import Path

from stock_lakehouse.settings import PROJECT_ROOT

# Lowest first. Names are the top-level modules and packages of stock_lakehouse, and spark_jobs.
LAYERS: list[tuple[str, set[str]]] = [
    (
        "core",
        {
            "errors",
            "ticks",
            "tick_parsing",
            "market_calendar",
            "settings",
            "tables",
            "partitions",
            "alerts",
            "parent_watch",
            "process_identity",
            "log_rotation",
            "prerequisites",
            "run_tags",
            "stream_lease",
        },
    ),
    ("clients", {"clients"}),
    (
        "domain",
        {
            "compaction",
            "marts",
            "vacuum",
            "simulator",
            "stream_progress",
            "read_model",
            "run_launcher",
        },
    ),
    ("applications", {"services", "defs", "dashboard", "spark_jobs"}),
    ("entry points", {"definitions", "cli"}),
]
LAYER_OF = {unit: rank for rank, (_, units) in enumerate(LAYERS) for unit in units}
# The one layer whose members stay apart from each other.
APPLICATIONS = [name for name, _ in LAYERS].index("applications")
SOURCES = [PROJECT_ROOT / "stock_lakehouse", PROJECT_ROOT / "spark_jobs"]


def unit_of(dotted: str) -> str | None:
    """`stock_lakehouse.clients.s3` -> `clients`; `spark_jobs.x` -> `spark_jobs`; else None."""
    parts = dotted.split(".")
    if parts[0] == "spark_jobs":
        return "spark_jobs"
    if parts[0] == "stock_lakehouse" and len(parts) > 1:
        return parts[1]
    return None


def imports_of(source: str) -> set[str]:
    """Every project module `source` imports, at the top or inside a function."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            if node.module in ("stock_lakehouse", "spark_jobs"):  # from pkg import module
                found.update(f"{node.module}.{alias.name}" for alias in node.names)
            else:
                found.add(node.module)
    return found


def wrong_way(unit: str, imported: set[str]) -> set[str]:
    """The units `unit` imports against the layers."""
    wrong = set()
    for target in filter(None, map(unit_of, imported)):
        if target == unit or target == "__init__":
            continue
        if target not in LAYER_OF:
            wrong.add(f"{target} (no layer)")
        elif LAYER_OF[target] > LAYER_OF[unit]:
            wrong.add(f"{target} (higher)")
        elif LAYER_OF[target] == LAYER_OF[unit] == APPLICATIONS:
            wrong.add(f"{target} (sibling application)")
    return wrong


def project_modules() -> dict[Path, str]:
    """Each source file with its unit."""
    files = {}
    for folder in SOURCES:
        for path in folder.rglob("*.py"):
            relative = path.relative_to(PROJECT_ROOT).with_suffix("")
            files[path] = unit_of(".".join(relative.parts)) or "__init__"
    return files


def test_every_module_has_a_layer():
    units = set(project_modules().values()) - {"__init__"}
    assert len(units) >= 25
    assert units - set(LAYER_OF) == set()


def test_no_module_imports_a_higher_layer_or_a_sibling_application():
    offenders = {}
    for path, unit in project_modules().items():
        if unit == "__init__":
            continue
        wrong = wrong_way(unit, imports_of(path.read_text()))
        if wrong:
            offenders[str(path.relative_to(PROJECT_ROOT))] = sorted(wrong)
    assert offenders == {}


def test_the_rule_catches_each_kind_of_wrong_import():
    """Not vacuous: a higher layer, a sibling application and an unplaced module are all caught,
    in every import form; a lower layer is not."""
    cases = {
        ("clients", "from stock_lakehouse.services.process import tail"): {"services (higher)"},
        ("services", "import stock_lakehouse.defs.ingest.jobs"): {"defs (sibling application)"},
        ("dashboard", "from spark_jobs import stream_ticks"): {"spark_jobs (sibling application)"},
        ("core", "def f():\n    from stock_lakehouse import cli"): {"cli (higher)"},
        ("defs", "from stock_lakehouse.brand_new import x"): {"brand_new (no layer)"},
        ("defs", "from stock_lakehouse.clients.s3 import s3_client"): set(),
    }
    for (unit, source), expected in cases.items():
        assert wrong_way(unit if unit != "core" else "settings", imports_of(source)) == expected
