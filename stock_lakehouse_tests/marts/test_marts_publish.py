"""Readers of the published marts never meet dbt's write lock, and see whole versions only."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pytest

from stock_lakehouse.marts.publish import publish

HOLD_WRITE_LOCK = textwrap.dedent(
    """
    import sys, duckdb
    con = duckdb.connect(sys.argv[1])          # a writer, like dbt during a run
    con.execute("insert into prices values ('v2')")
    print("locked", flush=True)
    sys.stdin.readline()                        # hold the file until told to finish
    con.close()
    """
)


def version_in(db: Path) -> list[str]:
    with duckdb.connect(str(db), read_only=True) as con:
        return [row[0] for row in con.execute("select v from prices order by v").fetchall()]


def test_readers_see_the_last_published_marts_while_a_writer_holds_the_build_db(tmp_path):
    build, published = tmp_path / "build" / "marts.duckdb", tmp_path / "marts.duckdb"
    build.parent.mkdir()
    with duckdb.connect(str(build)) as con:
        con.execute("create table prices (v varchar); insert into prices values ('v1')")
    publish(build, published)
    assert version_in(published) == ["v1"]

    writer = subprocess.Popen(
        [sys.executable, "-c", HOLD_WRITE_LOCK, str(build)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert writer.stdout.readline().strip() == "locked"
        # The build database is locked: a reader of it would fail...
        with pytest.raises(duckdb.IOException):
            duckdb.connect(str(build), read_only=True)
        # ...while the published marts stay readable.
        reader = duckdb.connect(str(published), read_only=True)
        assert version_in(published) == ["v1"]
        writer.communicate("done\n", timeout=30)
        assert writer.returncode == 0
    finally:
        if writer.poll() is None:
            writer.kill()
            writer.wait(timeout=10)

    publish(build, published)
    # A reader that opened the old file keeps a consistent view of it until it disconnects. (In
    # one process DuckDB shares a database instance per path: while any connection to the old
    # file is open, new connections get the old instance too. Readers should not hold them.)
    assert [r[0] for r in reader.execute("select v from prices").fetchall()] == ["v1"]
    reader.close()
    assert version_in(published) == ["v1", "v2"]
    assert not list(tmp_path.glob(".marts.duckdb.*.tmp")), "publish left a staging copy behind"
