"""The message store: outbox, inbox, timelines, attempts and the audit log.

``open_store(settings.database)`` gives a :class:`Store`; call ``migrate()``
before anything else. SQLite (one file, the embedded default) and PostgreSQL
(several gateway instances side by side) behave the same.

Database URLs::

    sqlite:////var/lib/wissel/gateway.db                 an absolute path: four slashes
    sqlite:///relative/gateway.db                        relative to the working directory
    sqlite:////var/lib/wissel/gateway.db?synchronous=normal&busy_timeout=5000
    postgresql://user:password@host:5432/wissel         also postgres://, postgresql+asyncpg://
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qsl

from gateway.errors import redact_url
from gateway.store.base import Store
from gateway.store.errors import (
    ClaimLost,
    DuplicateBusinessKey,
    InvalidTransition,
    MessageNotFound,
    SchemaError,
    StoreError,
    TimelineMoved,
)
from gateway.store.model import (
    Attempt,
    AttemptOutcome,
    AuditRecord,
    BilledLine,
    BusinessState,
    Event,
    Lease,
    MessageRecord,
    NewEvent,
    Page,
    TimecardLine,
    TransportState,
    new_message_id,
)

__all__ = [
    "Attempt",
    "AttemptOutcome",
    "AuditRecord",
    "BilledLine",
    "BusinessState",
    "ClaimLost",
    "DuplicateBusinessKey",
    "Event",
    "InvalidTransition",
    "Lease",
    "MessageNotFound",
    "MessageRecord",
    "NewEvent",
    "Page",
    "SchemaError",
    "Store",
    "StoreError",
    "TimecardLine",
    "TimelineMoved",
    "TransportState",
    "new_message_id",
    "open_store",
]

SQLITE_OPTIONS = {"synchronous", "busy_timeout"}


def open_store(database_url: str) -> Store:
    """The store for ``database_url``; no connection to a server is made until first use."""
    scheme = database_url.partition(":")[0].lower()
    if scheme == "sqlite":
        return _open_sqlite(database_url)
    if scheme in ("postgresql", "postgres") or scheme.startswith("postgresql+"):
        from gateway.store.postgres import PostgresStore

        rest = database_url.partition(":")[2]
        return PostgresStore(f"postgresql:{rest}")
    raise StoreError(
        f"unsupported database URL {_scrub(database_url)!r}: use sqlite:///<file> "
        "or postgresql://user@host/database"
    )


def _open_sqlite(database_url: str) -> Store:
    from gateway.store.sqlite import DEFAULT_BUSY_TIMEOUT_MS, SqliteStore

    if not database_url.startswith("sqlite:///"):
        raise StoreError(
            f"a SQLite URL is sqlite:///<file> (four slashes for an absolute path), "
            f"got {database_url!r}"
        )
    location, _, query = database_url.removeprefix("sqlite:///").partition("?")
    if not location or location == ":memory:":
        raise StoreError(
            "a SQLite database needs a file: several connections share it, "
            f"got {database_url!r}"
        )
    options = dict(parse_qsl(query, keep_blank_values=True))
    unknown = set(options) - SQLITE_OPTIONS
    if unknown:
        raise StoreError(
            f"unknown SQLite option(s) {', '.join(sorted(unknown))} in {database_url!r}; "
            f"known: {', '.join(sorted(SQLITE_OPTIONS))}"
        )
    try:
        busy = int(options.get("busy_timeout", DEFAULT_BUSY_TIMEOUT_MS))
    except ValueError:
        raise StoreError(f"busy_timeout must be milliseconds in {database_url!r}") from None
    return SqliteStore(Path(location), synchronous=options.get("synchronous", "full"),
                       busy_timeout_ms=busy)


def _scrub(url: str) -> str:
    return redact_url(url)
