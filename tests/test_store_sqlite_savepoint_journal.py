"""The SQLite writer keeps each write's savepoint journal in memory.

Every write runs in a savepoint of the batch's transaction, and SQLite keeps
the pages a savepoint changes in a journal until it is released. Past 64 KiB
that journal went to a temporary file (``etilqs_*``, unlinked at once): a file
created and some 35 page writes per invoice, for a journal read only when a
write fails. A rollback to the savepoint must undo the same as before.
Migrations, which may rewrite every row of a table, keep their journals in files.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from gateway.store.sqlite import SqliteStore

ROWS = 300
"""Rows of 1 KB: some 80 pages, past the 64 KiB a journal keeps in memory by default."""


def open_files() -> list[str]:
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            found.append(os.readlink(f"/proc/self/fd/{fd}"))
        except OSError:
            continue  # closed meanwhile (the listing's own descriptor)
    return found


def fill(conn: sqlite3.Connection) -> None:
    conn.execute("CREATE TABLE scratch (n integer PRIMARY KEY, body blob)")
    conn.executemany("INSERT INTO scratch VALUES (?, ?)",
                     [(n, b"a" * 1000) for n in range(ROWS)])


def rewrite(conn: sqlite3.Connection) -> list[str]:
    conn.execute("UPDATE scratch SET body = ?", (b"b" * 1000,))
    return [name for name in open_files() if "etilqs_" in name]


def rewrite_and_fail(conn: sqlite3.Connection) -> None:
    conn.execute("UPDATE scratch SET body = ?", (b"c" * 1000,))
    raise ValueError("this write fails after changing every row")


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc")
async def test_a_large_write_opens_no_temporary_journal_file(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "gateway.db")
    try:
        await store.migrate()  # which keeps its journals in files, and then no longer
        await store._writer.run(fill)
        temporary = await store._writer.run(rewrite)
    finally:
        await store.close()
    assert temporary == [], f"the savepoint journal went to a file: {temporary}"


async def test_a_failed_write_is_still_undone_to_its_savepoint(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "gateway.db")
    try:
        await store._writer.run(fill)
        await store._writer.run(rewrite)
        with pytest.raises(ValueError, match="fails after changing"):
            await store._writer.run(rewrite_and_fail)
        bodies = await store._writer.run(
            lambda conn: conn.execute("SELECT DISTINCT body FROM scratch").fetchall())
    finally:
        await store.close()
    assert bodies == [(b"b" * 1000,)]
