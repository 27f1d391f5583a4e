"""The Docker build context keeps secrets, data and local environments out of the image.

Reads docker/Dockerfile's COPY lines and .dockerignore with Docker's rules (patterns from the
context root, `**` across folders, later `!` exceptions win, a matched folder excludes its files).
"""

from __future__ import annotations

import re

from stock_lakehouse.settings import PROJECT_ROOT

DOCKERFILE = PROJECT_ROOT / "docker" / "Dockerfile"
NEVER_COPIED = [
    ".env",
    ".env.local",
    ".env.production",
    ".state/dagster/runs.db",
    ".state/services/kafka/meta.properties",
    ".venv/bin/python",
    ".venv-airflow/bin/airflow",
    ".cache/uv/wheels/x.whl",
    ".tmp_dagster_home_abc123/dagster.yaml",
    "stock_lakehouse/__pycache__/cli.cpython-311.pyc",
    ".pytest_cache/v/cache/lastfailed",
    "dbt_project/target/manifest.json",
    "dbt_project/logs/dbt.log",
    "dbt_project/.user.yml",
    "jars/lib/spark/delta-spark.jar",
    "bench/results/ingest.json",
    ".git/config",
]
COPIED = [
    ".env.example",
    "pyproject.toml",
    "Makefile",
    "stock_lakehouse/cli/app.py",
    "jars/pom.xml",
]


def _regex(pattern: str) -> re.Pattern[str]:
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out + r"\Z")


def rules(text: str) -> list[tuple[bool, re.Pattern[str]]]:
    parsed = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        parsed.append((negated, _regex(line.removeprefix("!").strip("/"))))
    return parsed


def ignored(path: str, parsed: list[tuple[bool, re.Pattern[str]]]) -> bool:
    """Docker's verdict: the last pattern that matches the path or one of its parent folders."""
    parts = path.split("/")
    candidates = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    verdict = False
    for negated, regex in parsed:
        if any(regex.match(c) for c in candidates):
            verdict = not negated
    return verdict


def copy_sources() -> list[str]:
    sources = []
    for line in DOCKERFILE.read_text().splitlines():
        words = line.split()
        if words and words[0].upper() in {"COPY", "ADD"}:
            args = [w for w in words[1:] if not w.startswith("--")]
            sources += args[:-1]
    return sources


def test_nothing_secret_or_local_reaches_the_image():
    parsed = rules((PROJECT_ROOT / ".dockerignore").read_text())
    sources = copy_sources()
    assert sources, "no COPY in the Dockerfile"
    for source in sources:
        if source in {".", "./"}:  # the whole context: the ignore rules decide
            leaks = [p for p in NEVER_COPIED if not ignored(p, parsed)]
            assert not leaks, f"would be copied into the image: {leaks}"
            missing = [p for p in COPIED if ignored(p, parsed)]
            assert not missing, f"the build needs these, but .dockerignore drops them: {missing}"
        else:
            assert not any(
                p == source or p.startswith(source.rstrip("/") + "/") for p in NEVER_COPIED
            ), f"COPY {source} copies something that must stay out"


def test_the_matcher_reads_docker_rules_as_docker_does():
    parsed = rules(".env\n.env.*\n!.env.example\n**/__pycache__/\n.state/\n")
    assert ignored(".env", parsed) and ignored(".env.prod", parsed)
    assert not ignored(".env.example", parsed)
    assert ignored("a/b/__pycache__/x.pyc", parsed) and ignored(".state/x/y", parsed)
    assert not ignored("src/.env", parsed)  # patterns start at the context root
    assert not ignored("stock_lakehouse/cli/app.py", parsed)
