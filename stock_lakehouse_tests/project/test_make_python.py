"""`make setup` takes Python 3.11, 3.12 or 3.13: the newest that runs, or the one PYTHON names,
and refuses anything else in one line."""

from __future__ import annotations

import subprocess
import sys

from stock_lakehouse.settings import PROJECT_ROOT

PRINT_PYTHON = "print-python: ; @echo $(PYTHON)"


def make(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "-s", "--no-print-directory", *args],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_default_python_runs_and_is_a_supported_version():
    chosen = make("--eval", PRINT_PYTHON, "print-python").stdout.strip()
    version = subprocess.run(
        [chosen, "-c", "import sys; print(*sys.version_info[:2])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert (3, 11) <= (int(version[0]), int(version[1])) <= (3, 13)


def test_python_names_the_interpreter_and_a_wrong_one_is_refused_in_one_line():
    assert make(
        "--eval", PRINT_PYTHON, "print-python", f"PYTHON={sys.executable}"
    ).stdout.strip() == (sys.executable)
    refused = make("check-tools", "PYTHON=/nonexistent/python3.12")
    assert refused.returncode != 0
    [line] = [line for line in refused.stdout.splitlines() if line.startswith("error:")]
    assert "/nonexistent/python3.12 is not a Python 3.11, 3.12 or 3.13 that runs" in line
