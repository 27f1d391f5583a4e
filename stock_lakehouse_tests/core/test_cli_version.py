"""`stock-lakehouse --version` names the installed build, for scripts and bug reports."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import version
from pathlib import Path


def test_version_prints_the_installed_version_and_exits_zero():
    cli = Path(sys.executable).with_name("stock-lakehouse")
    result = subprocess.run(
        [str(cli), "--version"], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"stock-lakehouse {version('stock-lakehouse')}"
