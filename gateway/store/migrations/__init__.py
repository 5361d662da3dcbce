"""Versioned schema migrations, one folder of SQL files per backend.

A file is ``NNNN_what.sql``; versions start at 1 and have no gaps. Once
released, a migration is never edited: the store records each applied
file's sha256 and refuses a database whose history differs from the code's.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
from importlib import resources

import attrs

from gateway.store.errors import SchemaError

_NAME = re.compile(r"(\d{4})_([a-z0-9_]+)\.sql")


@attrs.frozen
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode("utf-8")).hexdigest()


def load(backend: str) -> tuple[Migration, ...]:
    """The migrations shipped for ``backend`` ("sqlite" or "postgres"), oldest first."""
    folder = resources.files(__package__).joinpath(backend)
    found: list[Migration] = []
    for entry in folder.iterdir():
        match = _NAME.fullmatch(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    if [m.version for m in found] != list(range(1, len(found) + 1)):
        raise SchemaError(f"the {backend} migrations are not numbered 1..n without gaps")
    return tuple(found)


def check_history(
    backend: str, applied: dict[int, str], shipped: tuple[Migration, ...], where: str
) -> list[Migration]:
    """The migrations still to apply, given ``applied`` (version -> checksum).

    Raises SchemaError for a database migrated by newer code, or by a
    migration that differs from the one shipped under the same number.
    """
    latest = shipped[-1].version if shipped else 0
    newest = max(applied, default=0)
    if newest > latest:
        raise SchemaError(
            f"the database {where} has schema version {newest}, but this gateway knows "
            f"versions up to {latest}: run a gateway at least as new as the one that "
            "migrated it (or point this one at another database)"
        )
    for migration in shipped:
        checksum = applied.get(migration.version)
        if checksum is not None and checksum != migration.checksum:
            raise SchemaError(
                f"the database {where} applied migration {migration.version:04d} "
                f"({migration.name}) with different contents than this gateway ships: "
                "the schema was altered by hand or by a modified build"
            )
    return [m for m in shipped if m.version not in applied]


def statements(sql: str) -> list[str]:
    """Split a SQLite script into statements, trigger bodies kept whole.

    sqlite3's executescript would commit the open transaction first; one
    statement at a time keeps a migration inside the caller's transaction.
    """
    result: list[str] = []
    pending = ""
    for line in sql.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            statement = pending.strip()
            if _has_code(statement):
                result.append(statement)
            pending = ""
    if _has_code(pending):
        raise SchemaError(f"incomplete SQL statement at the end of a migration: {pending!r}")
    return result


def _has_code(text: str) -> bool:
    return any(
        line.strip() and not line.strip().startswith("--") for line in text.splitlines()
    )
