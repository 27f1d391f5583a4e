"""README's Layout section names the tree as it is: nothing missing, nothing that is gone."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from stock_lakehouse.settings import PROJECT_ROOT

PACKAGE = PROJECT_ROOT / "stock_lakehouse"


def layout_block() -> str:
    readme = (PROJECT_ROOT / "README.md").read_text()
    section = readme.split("## Layout", 1)[1]
    return section.split("```", 2)[1]


def test_every_part_of_the_package_is_in_the_layout():
    block = layout_block()
    parts = {
        f"{p.name}/" if p.is_dir() else p.name
        for p in PACKAGE.iterdir()
        if not p.name.startswith(("_", ".")) and (p.is_dir() or p.suffix == ".py")
    }
    parts.discard("__pycache__/")
    assert len(parts) >= 20
    # A small core module may be covered by "the other small modules below the clients".
    core_by_phrase = {p for p in parts if p.endswith(".py")} - {
        "definitions.py",
        "settings.py",
        "vacuum.py",
        "stream_progress.py",
        "run_launcher.py",
    }
    named = {p for p in parts if re.search(rf"(?<![\w/]){re.escape(p)}", block)}
    assert parts - named - core_by_phrase == set()
    assert "other small modules below the clients" in block


def tracked_names() -> set[str]:
    """Every tracked file's name and every folder on a tracked path, folders ending in '/'."""
    listed = subprocess.run(
        ["git", "ls-files"], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    names = set()
    for path in map(Path, listed):
        names.add(path.name)
        names.update(f"{folder}/" for folder in path.parent.parts)
    return names


def test_every_file_or_folder_the_layout_names_exists():
    names = set(re.findall(r"(?<![\w./-])([a-z][a-z0-9_]*(?:/|\.py))(?![\w])", layout_block()))
    assert len(names) >= 30
    assert names - tracked_names() == set()
