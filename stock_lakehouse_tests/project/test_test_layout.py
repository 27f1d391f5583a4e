"""The tests mirror the package: one folder per area, shared helpers in `support/`.

A test module that imports another test module (or conftest) runs that module's code in its own
collection and hides where a helper lives; the helpers belong in `support/`, which imports no test.
"""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent
PACKAGE = TESTS.name


def imported_modules(source: str, package: tuple[str, ...]) -> set[str]:
    """Every module `source` imports, at the top or inside a function, as a dotted name."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against the file's package
                parent = package[: len(package) - node.level + 1]
                base = ".".join((*parent, base) if base else parent)
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def package_of(path: Path) -> tuple[str, ...]:
    return path.relative_to(TESTS.parent).parent.parts


def is_test_module(dotted: str) -> bool:
    last = dotted.rsplit(".", 1)[-1]
    return dotted.startswith(f"{PACKAGE}.") and (last.startswith("test_") or last == "conftest")


def test_every_test_module_lives_in_an_area_folder_that_is_a_package():
    at_root = sorted(p.name for p in TESTS.glob("test_*.py"))
    assert at_root == [], f"move these into an area folder of {PACKAGE}/: {at_root}"
    areas = {p.parent for p in TESTS.rglob("test_*.py")}
    assert len(areas) >= 8
    assert [a.name for a in sorted(areas) if not (a / "__init__.py").exists()] == []
    assert not list((TESTS / "support").glob("test_*.py"))


def test_no_module_imports_a_test_module_or_conftest():
    offenders = {
        str(path.relative_to(TESTS)): sorted(
            filter(is_test_module, imported_modules(path.read_text(), package_of(path)))
        )
        for path in TESTS.rglob("*.py")
    }
    assert {path: names for path, names in offenders.items() if names} == {}


def test_the_check_sees_an_import_of_a_test_module():
    """The rule above is not vacuous: each import form it must catch is caught."""
    forms = {
        f"from {PACKAGE}.stream.test_stream_validation import tick": True,
        f"import {PACKAGE}.conftest": True,
        "from .test_stream_exactly_once import read_tables": True,
        "from . import test_stream_validation": True,
        f"from {PACKAGE}.stream import test_failure_recovery": True,
        f"from {PACKAGE}.support.ticks import tick": False,
    }
    for source, caught in forms.items():
        found = imported_modules(f"def test_x():\n    {source}\n", (PACKAGE, "stream"))
        assert any(map(is_test_module, found)) is caught, source
