"""The embedded backend: one SQLite file in WAL mode.

All writes go through one writer thread that commits whatever is queued as
one transaction (group commit); reads use a small pool of read-only
connections (see :mod:`gateway.store.sqlite_threads`). The stdlib ``sqlite3``
is used directly rather than aiosqlite: aiosqlite also runs a thread per
connection, but commits each call on its own, which leaves group commit out.

Several processes may share the file: ``BEGIN IMMEDIATE`` takes SQLite's
write lock before the first read of a write transaction (waiting up to
``busy_timeout``), so a claim's select and update can never interleave with
another process's.

Durability: ``synchronous=FULL`` by default. In WAL mode NORMAL already
survives a killed process (a commit is in the WAL file, i.e. in the
operating system, before it returns), but a power cut or kernel crash may
lose the last commits; FULL syncs the WAL on each commit and survives those
too. "Persist before you acknowledge" is a promise to a sender that will not
send again, so the default is the one that keeps it on power loss; group
commit keeps its cost to one sync per batch (see bench/store.py).
``?synchronous=normal`` trades that for speed on machines where a lost
second of acknowledged messages after a power cut is acceptable.
"""

from __future__ import annotations

import asyncio
import enum
import json
import sqlite3
from collections.abc import Callable, Collection, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import attrs

from gateway.kinds import Direction
from gateway.store import migrations
from gateway.store.base import (
    MAX_PAGE,
    PREFIX_END,
    Change,
    Plan,
    Store,
    audit_lines_to_import,
    check_limit,
    claim_event,
    exhausted_reason,
    lease_expired_note,
    plan_change,
    settled,
    to_json,
)
from gateway.store.errors import (
    ClaimLost,
    DuplicateBusinessKey,
    MessageNotFound,
    StoreError,
)
from gateway.store.model import (
    CLAIMABLE_STATES,
    CLAIMED_STATE,
    NOT_BILLED_BUSINESS_STATES,
    NOT_BILLED_TRANSPORT_STATES,
    NOT_LIVE_STATES,
    Attempt,
    AuditRecord,
    BilledLine,
    Event,
    Lease,
    MessageRecord,
    TimecardLine,
    TransportState,
    utc_now,
)
from gateway.store.sqlite_threads import Readers, Writer, WriteTurn

T = TypeVar("T")

SYNCHRONOUS_MODES = ("full", "normal", "extra")
DEFAULT_BUSY_TIMEOUT_MS = 10_000
# A 10 KB document per message: 16 MiB of page cache per connection holds the
# hot part of the indexes without letting a big backlog grow the process.
CACHE_KIB = 16_000
WRITES_TEMP_STORE = "MEMORY"
"""Where the writer keeps its savepoints' journals (see SqliteStore.__init__)."""

MESSAGE_COLUMNS = (
    "id", "direction", "business_key", "agency_oin", "document_kind", "format_key", "channel",
    "transport_state", "business_state", "attempts", "max_attempts", "next_attempt_at",
    "transport_id", "transport_ids", "routing", "validation", "last_error", "created_at",
    "updated_at", "claimed_by", "claim_expires_at",
)
_N = len(MESSAGE_COLUMNS)
_COLS = ", ".join(f"m.{c}" for c in MESSAGE_COLUMNS)
SELECT_FULL = (
    f"SELECT {_COLS}, p.raw_payload, p.canonical_json FROM messages m "
    "LEFT JOIN payloads p ON p.message_id = m.id"
)
SELECT_FULL_SEQ = (
    f"SELECT {_COLS}, p.raw_payload, p.canonical_json, m.last_event_seq FROM messages m "
    "LEFT JOIN payloads p ON p.message_id = m.id"
)
INSERT_MESSAGE = (
    f"INSERT INTO messages ({', '.join(MESSAGE_COLUMNS)}, last_event_seq) "
    f"VALUES ({', '.join('?' * (_N + 1))}) ON CONFLICT DO NOTHING"
)
INSERT_EVENT = "INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?)"
INSERT_TIMECARD_LINE = "INSERT INTO invoice_timecards VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
BILLED_ON_TIMECARD = (
    "SELECT m.id, m.document_kind, t.line, t.invoice_number, t.order_line, t.unit_code, "
    "t.hours FROM invoice_timecards t JOIN messages m ON m.id = t.message_id "
    "WHERE t.agency_oin = ?1 AND t.timecard_id = ?2 AND m.transport_state NOT IN ("
    + ", ".join(f"'{s.value}'" for s in sorted(NOT_BILLED_TRANSPORT_STATES))
    + ") AND m.business_state NOT IN ("
    + ", ".join(f"'{s.value}'" for s in sorted(NOT_BILLED_BUSINESS_STATES))
    + ") AND m.business_key IS NOT ?3 ORDER BY m.id, t.line"
)
# Written as the partial index messages_waiting is, so SQLite can use it.
WAITING_FOR_STATUS = (
    f"SELECT {_COLS} FROM messages m WHERE m.direction = 'outbound' "
    "AND m.transport_state = 'sent' AND m.status_followed = 1 AND m.channel = ? "
    "AND m.business_state = ? AND m.id > ? ORDER BY m.id LIMIT ?"
)
# Taken when free, expired or ours: the upsert's WHERE leaves someone else's live lease
# alone, and then RETURNING gives no row.
HOLD_LEASE = (
    "INSERT INTO leases (name, holder, expires_at) VALUES (?, ?, ?) ON CONFLICT (name) "
    "DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at "
    "WHERE leases.holder = excluded.holder OR leases.expires_at <= ? RETURNING holder"
)
# Written only when the holder's lease is live: the SELECT gives no row otherwise. (The
# WHERE also keeps SQLite from reading ON CONFLICT as a join's ON.)
LEAVE_LEASE_NOTE = (
    "INSERT INTO lease_notes (name, note, holder, written_at) "
    "SELECT name, ?, holder, ? FROM leases WHERE name = ? AND holder = ? AND expires_at > ? "
    "ON CONFLICT (name) DO UPDATE SET note = excluded.note, holder = excluded.holder, "
    "written_at = excluded.written_at RETURNING name"
)
TIME_COLUMNS = frozenset({"next_attempt_at", "created_at", "updated_at", "claim_expires_at"})
JSON_COLUMNS = frozenset({"routing", "validation"})
LIST_FILTERS = frozenset({
    "direction", "transport_state", "business_state", "agency_oin", "business_key",
    "document_kind", "channel",
})
NOT_LIVE = ", ".join(f"'{s.value}'" for s in sorted(NOT_LIVE_STATES))


def _ts(value: datetime) -> str:
    """UTC text 'YYYY-MM-DDTHH:MM:SS.ffffffZ', fixed width so that text order is time order.

    Built with isoformat, a third of strftime's cost; the text is the same.
    """
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return value.isoformat(timespec="microseconds")[:-6] + "Z"  # "+00:00" becomes "Z"


def _dt(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _encode(name: str, value: Any) -> Any:
    if value is None:
        return None
    if name in TIME_COLUMNS:
        return _ts(value)
    if name in JSON_COLUMNS:
        return to_json(value)
    if name == "transport_ids":
        return to_json(list(value))
    if isinstance(value, enum.Enum):
        return value.value
    return value


def _row(record: MessageRecord, last_event_seq: int) -> tuple[Any, ...]:
    """The values of INSERT_MESSAGE for a new message."""
    r = record
    created = _ts(r.created_at)
    # A new message is usually created, updated and due at one instant: format it once.
    updated = created if r.updated_at == r.created_at else _ts(r.updated_at)
    due = r.next_attempt_at
    return (
        r.id, r.direction.value, r.business_key, r.agency_oin, r.document_kind, r.format_key,
        r.channel, r.transport_state.value, r.business_state, r.attempts, r.max_attempts,
        None if due is None else created if due == r.created_at else _ts(due), r.transport_id,
        to_json(list(r.transport_ids)), _encode("routing", r.routing),
        _encode("validation", r.validation), r.last_error, created, updated, r.claimed_by,
        _encode("claim_expires_at", r.claim_expires_at), last_event_seq,
    )


def _record(row: Sequence[Any], raw: bytes | None = None, canonical: str | None = None
            ) -> MessageRecord:
    return MessageRecord(
        id=row[0], direction=row[1], business_key=row[2], agency_oin=row[3],
        document_kind=row[4], format_key=row[5], channel=row[6], transport_state=row[7],
        business_state=row[8], attempts=row[9], max_attempts=row[10],
        next_attempt_at=_dt(row[11]), transport_id=row[12],
        transport_ids=tuple(json.loads(row[13])),
        routing=None if row[14] is None else json.loads(row[14]),
        validation=None if row[15] is None else json.loads(row[15]),
        last_error=row[16], created_at=_at(row[17]), updated_at=_at(row[18]),
        claimed_by=row[19], claim_expires_at=_dt(row[20]), raw_payload=raw,
        canonical_json=canonical,
    )


def _full(row: Sequence[Any]) -> MessageRecord:
    return _record(row, row[_N], row[_N + 1])


def _event(row: Sequence[Any]) -> Event:
    return Event(
        message_id=row[0], seq=row[1], at=_at(row[2]), kind=row[3],
        transport_state=None if row[4] is None else TransportState(row[4]),
        business_state=row[5], detail=json.loads(row[6]),
    )


def _is_business_key_clash(exc: sqlite3.IntegrityError) -> bool:
    return "messages.direction, messages.business_key" in str(exc)


class SqliteStore(Store):
    """The store in one SQLite file (see the module docstring for the design)."""

    backend = "sqlite"

    def __init__(
        self,
        path: Path,
        *,
        synchronous: str = "full",
        busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS,
        readers: int = 2,
    ) -> None:
        if synchronous.lower() not in SYNCHRONOUS_MODES:
            raise StoreError(
                f"synchronous must be one of {', '.join(SYNCHRONOUS_MODES)}, got {synchronous!r}"
            )
        self.path = path
        self.synchronous = synchronous.upper()
        self.busy_timeout_ms = busy_timeout_ms
        self._where = str(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            writer = self._connect()
            mode = writer.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open the database {path}: {exc}") from None
        if mode != "wal":
            writer.close()
            raise StoreError(f"the database {path} cannot use WAL mode (got {mode})")
        # Bounds the WAL file after a burst; it is reused, not regrown, afterwards.
        writer.execute("PRAGMA journal_size_limit = 67108864")
        # Each write runs in a savepoint (see Writer), whose journal keeps the pages it
        # changes until it is released. Past 64 KiB SQLite moves that journal to a temp
        # file: a create, an unlink and some 35 page writes per invoice, for a journal
        # read only on a rollback and dropped at the release. In memory it holds one
        # job's pages at a time. (Migrations, which may rewrite every row, keep files.)
        writer.execute(f"PRAGMA temp_store = {WRITES_TEMP_STORE}")
        try:
            turn = WriteTurn(path)
        except OSError as exc:
            writer.close()
            raise StoreError(f"cannot open the writers' lock file beside {path}: {exc}") from None
        self._writer = Writer(writer, self._where, turn)
        self._readers = Readers(lambda: self._connect(read_only=True), readers)
        self._closed = False

    def _connect(self, *, read_only: bool = False) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False,
            timeout=self.busy_timeout_ms / 1000,
        )
        conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_ms)}")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute(f"PRAGMA synchronous = {self.synchronous}")
        conn.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
        if read_only:
            conn.execute("PRAGMA query_only = ON")
        return conn

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        await asyncio.to_thread(self._writer.stop)
        await asyncio.to_thread(self._readers.stop)

    async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        if self._closed:
            raise StoreError(f"the store {self._where} is closed")
        try:
            return await self._readers.run(fn)
        except (sqlite3.Error, UnicodeEncodeError) as exc:
            # UnicodeEncodeError: a lone surrogate in an argument, a StoreError on PostgreSQL.
            raise StoreError(f"{self._where}: {exc}") from None

    # -- migrations -----------------------------------------------------

    async def migrate(self) -> int:
        shipped = migrations.load("sqlite")

        def run(conn: sqlite3.Connection) -> int:
            # A migration's statement may rewrite a whole table, and its statement
            # journal grow with it: on disk, as SQLite keeps it by default.
            conn.execute("PRAGMA temp_store = FILE")
            try:
                return migrate_in(conn)
            finally:
                conn.execute(f"PRAGMA temp_store = {WRITES_TEMP_STORE}")

        def migrate_in(conn: sqlite3.Connection) -> int:
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.execute(
                    "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY,"
                    " name TEXT NOT NULL, checksum TEXT NOT NULL, applied_at TEXT NOT NULL)"
                )
                applied = dict(conn.execute("SELECT version, checksum FROM schema_migrations"))
                todo = migrations.check_history("sqlite", applied, shipped, self._where)
                for migration in todo:
                    for statement in migrations.statements(migration.sql):
                        conn.execute(statement)
                    conn.execute(
                        "INSERT INTO schema_migrations VALUES (?, ?, ?, ?)",
                        (migration.version, migration.name, migration.checksum, _ts(utc_now())),
                    )
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            return max([*applied, *(m.version for m in todo)], default=0)

        return await self._writer.run(run, alone=True)

    # -- inserts --------------------------------------------------------

    async def _insert(
        self, record: MessageRecord, events: list[Event],
        timecard_lines: Sequence[TimecardLine] = (),
    ) -> tuple[MessageRecord, bool]:
        def run(conn: sqlite3.Connection) -> tuple[MessageRecord, bool]:
            # A clash on the live business key or the inbound transport id means "it
            # is already here": then nothing is written, and inside BEGIN IMMEDIATE
            # nobody can remove that message before it is read.
            if conn.execute(INSERT_MESSAGE, _row(record, len(events))).rowcount == 0:
                existing = self._existing(conn, record)
                if existing is None:
                    raise StoreError(f"a message with id {record.id} exists already")
                return existing, False
            conn.execute("INSERT INTO payloads VALUES (?, ?, ?)",
                         (record.id, record.raw_payload, record.canonical_json))
            self._insert_events(conn, events)
            if record.transport_ids:
                conn.executemany(
                    "INSERT OR IGNORE INTO transport_refs VALUES (?, ?, ?)",
                    [(record.channel or "", tid, record.id) for tid in record.transport_ids],
                )
            if timecard_lines:
                conn.executemany(INSERT_TIMECARD_LINE, [
                    (record.id, t.line, record.agency_oin, t.timecard_id, t.invoice_number,
                     t.order_line, t.unit_code, str(t.hours)) for t in timecard_lines])
            return record, True

        return await self._writer.run(run)

    @staticmethod
    def _existing(conn: sqlite3.Connection, record: MessageRecord) -> MessageRecord | None:
        found = None
        if record.business_key is not None and record.transport_state not in NOT_LIVE_STATES:
            found = conn.execute(
                "SELECT id FROM messages WHERE direction = ? AND business_key = ? "
                f"AND transport_state NOT IN ({NOT_LIVE})",
                (record.direction.value, record.business_key),
            ).fetchone()
        if found is None and record.direction is Direction.INBOUND and record.transport_id:
            found = conn.execute(
                "SELECT id FROM messages WHERE direction = 'inbound' AND channel = ? "
                "AND transport_id = ?",
                (record.channel, record.transport_id),
            ).fetchone()
        return None if found is None else SqliteStore._load(conn, found[0])

    @staticmethod
    def _insert_events(conn: sqlite3.Connection, events: Iterable[Event]) -> None:
        rows = []
        at: datetime | None = None
        stamp = ""
        for e in events:
            if e.at != at:  # the events of one change share their time: format it once
                at, stamp = e.at, _ts(e.at)
            rows.append((e.message_id, e.seq, stamp, e.kind,
                         None if e.transport_state is None else e.transport_state.value,
                         e.business_state, to_json(e.detail)))
        if len(rows) == 1:
            conn.execute(INSERT_EVENT, rows[0])
        else:
            conn.executemany(INSERT_EVENT, rows)

    # -- changes --------------------------------------------------------

    async def _apply(
        self, message_id: str, change: Change, now: datetime | None
    ) -> MessageRecord:
        def run(conn: sqlite3.Connection) -> MessageRecord:
            # The payloads come along: the answer carries them, and reading them now
            # saves reading the whole message again after the write.
            row = conn.execute(f"{SELECT_FULL_SEQ} WHERE m.id = ?", (message_id,)).fetchone()
            if row is None:
                raise MessageNotFound(message_id)
            current = _full(row)
            plan = plan_change(change, current, row[_N + 2], now or utc_now())
            if plan.noop:
                return current
            self._write_plan(conn, current, plan)
            return settled(current, plan) or self._load(conn, message_id)

        return await self._writer.run(run)

    def _write_plan(self, conn: sqlite3.Connection, current: MessageRecord, plan: Plan) -> None:
        if plan.columns:
            names = list(plan.columns)
            try:
                conn.execute(
                    f"UPDATE messages SET {', '.join(f'{n} = ?' for n in names)} WHERE id = ?",
                    (*(_encode(n, plan.columns[n]) for n in names), current.id),
                )
            except sqlite3.IntegrityError as exc:
                if _is_business_key_clash(exc):
                    key = plan.columns.get("business_key", current.business_key)
                    raise DuplicateBusinessKey(current.direction, str(key)) from None
                raise
        if plan.payload:
            names = list(plan.payload)
            conn.execute(
                f"UPDATE payloads SET {', '.join(f'{n} = ?' for n in names)} "
                "WHERE message_id = ?",
                (*(plan.payload[n] for n in names), current.id),
            )
        if plan.event is not None:
            self._insert_events(conn, [plan.event])
        if plan.attempt is not None:
            self._insert_attempt(conn, plan.attempt)
        if plan.new_transport_ids:
            conn.executemany(
                "INSERT OR IGNORE INTO transport_refs VALUES (?, ?, ?)",
                [(plan.channel, tid, current.id) for tid in plan.new_transport_ids],
            )

    @staticmethod
    def _insert_attempt(conn: sqlite3.Connection, a: Attempt) -> None:
        try:
            conn.execute(
                "INSERT INTO attempts VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (a.message_id, a.number, _ts(a.started_at), _ts(a.finished_at),
                 a.outcome.value, a.code, a.detail, a.transport_id),
            )
        except sqlite3.IntegrityError:
            raise StoreError(
                f"attempt {a.number} of message {a.message_id} is already recorded"
            ) from None

    @staticmethod
    def _load(conn: sqlite3.Connection, message_id: str) -> MessageRecord:
        row = conn.execute(f"{SELECT_FULL} WHERE m.id = ?", (message_id,)).fetchone()
        if row is None:
            raise MessageNotFound(message_id)
        return _full(row)

    async def _extend(
        self, message_id: str, worker_id: str, until: datetime, now: datetime
    ) -> MessageRecord:
        def run(conn: sqlite3.Connection) -> MessageRecord:
            current = self._load(conn, message_id)
            if current.claimed_by != worker_id:
                raise ClaimLost(message_id, worker_id, current.claimed_by)
            conn.execute(
                "UPDATE messages SET claim_expires_at = ?, updated_at = ? WHERE id = ?",
                (_ts(until), _ts(now), message_id),
            )
            return self._load(conn, message_id)

        return await self._writer.run(run)

    async def _expire_claims(self, prefix: str, now: datetime) -> int:
        stamp = _ts(now)

        def run(conn: sqlite3.Connection) -> int:
            # substr, not LIKE: a host name may hold the pattern characters % and _.
            return conn.execute(
                "UPDATE messages INDEXED BY messages_claims SET claim_expires_at = ?, "
                "updated_at = ? WHERE claimed_by IS NOT NULL AND claim_expires_at > ? "
                "AND substr(claimed_by, 1, ?) = ?",
                (stamp, stamp, stamp, len(prefix), prefix),
            ).rowcount

        return await self._writer.run(run)

    # -- claims ---------------------------------------------------------

    async def _claim_rows(
        self, direction: Direction, worker_id: str, limit: int, lease: timedelta,
        now: datetime, skip_channels: list[str],
    ) -> list[MessageRecord]:
        states = ", ".join(f"'{s.value}'" for s in CLAIMABLE_STATES[direction])
        # Written as the partial indexes are, so SQLite can use them.
        due = f"direction = '{direction.value}' AND transport_state IN ({states})"
        held = f"claimed_by IS NOT NULL AND direction = '{direction.value}'"
        due_index = f"messages_due_{direction.value}"
        claimed = CLAIMED_STATE[direction].value
        until = now + lease
        stamp, until_stamp = _ts(now), _ts(until)
        # Not the channels the claiming instance has but does not run.
        ours = ("" if not skip_channels else " AND (channel IS NULL OR channel NOT IN "
                f"({', '.join('?' * len(skip_channels))}))")
        named = tuple(skip_channels)

        def run(conn: sqlite3.Connection) -> list[MessageRecord]:
            claimed_ids: list[tuple[str, int, str | None]] = []
            events: list[Event] = []
            # Claims whose worker died: taken over first, they have waited longest.
            # INDEXED BY: the planner, without statistics, would rather walk
            # messages_state and sort the whole backlog.
            stale = conn.execute(
                "SELECT id, claimed_by, claim_expires_at, attempts, max_attempts "
                f"FROM messages INDEXED BY messages_claims WHERE {held} "
                f"AND claim_expires_at <= ?{ours} ORDER BY claim_expires_at LIMIT ?",
                (stamp, *named, limit),
            ).fetchall()
            for message_id, owner, expired, attempts, max_attempts in stale:
                note = lease_expired_note(owner, attempts, datetime.fromisoformat(expired))
                if attempts >= max_attempts:
                    events.append(self._dead_letter_stale(conn, message_id, attempts,
                                                          max_attempts, note, now))
                    continue
                (seq,) = conn.execute(
                    "UPDATE messages SET claimed_by = ?, claim_expires_at = ?, "
                    "attempts = attempts + 1, last_error = ?, updated_at = ?, "
                    "last_event_seq = last_event_seq + 1 WHERE id = ? RETURNING last_event_seq",
                    (worker_id, until_stamp, note, stamp, message_id),
                ).fetchone()
                claimed_ids.append((message_id, seq, owner))
            room = limit - len(claimed_ids)
            if room > 0:
                rows = conn.execute(
                    f"UPDATE messages SET transport_state = '{claimed}', claimed_by = ?, "
                    "claim_expires_at = ?, attempts = attempts + 1, next_attempt_at = NULL, "
                    "updated_at = ?, last_event_seq = last_event_seq + 1 "
                    f"WHERE id IN (SELECT id FROM messages INDEXED BY {due_index} "
                    f"WHERE {due} AND next_attempt_at <= ?{ours} ORDER BY next_attempt_at "
                    "LIMIT ?) RETURNING id, last_event_seq",
                    (worker_id, until_stamp, stamp, stamp, *named, room),
                ).fetchall()
                claimed_ids.extend((message_id, seq, None) for message_id, seq in rows)
            records = self._load_many(conn, [message_id for message_id, _, _ in claimed_ids])
            for message_id, seq, owner in claimed_ids:
                record = records[message_id]
                claim = claim_event(record, worker_id, owner)
                events.append(Event(message_id, seq, now, claim.kind, record.transport_state,
                                    None, dict(claim.detail)))
            self._insert_events(conn, events)
            return [records[message_id] for message_id, _, _ in claimed_ids]

        return await self._writer.run(run)

    @staticmethod
    def _dead_letter_stale(
        conn: sqlite3.Connection, message_id: str, attempts: int, max_attempts: int,
        note: str, now: datetime,
    ) -> Event:
        """A claim expired with no attempts left: the operator gets it, not another worker."""
        reason = exhausted_reason(attempts, max_attempts, note)
        (seq,) = conn.execute(
            "UPDATE messages SET transport_state = 'failed', claimed_by = NULL, "
            "claim_expires_at = NULL, next_attempt_at = NULL, last_error = ?, "
            "updated_at = ?, last_event_seq = last_event_seq + 1 WHERE id = ? "
            "RETURNING last_event_seq",
            (reason, _ts(now), message_id),
        ).fetchone()
        return Event(message_id, seq, now, "dead-lettered", TransportState.FAILED, None,
                     {"reason": reason, "exhausted": True})

    @staticmethod
    def _load_many(conn: sqlite3.Connection, ids: list[str]) -> dict[str, MessageRecord]:
        found: dict[str, MessageRecord] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            rows = conn.execute(
                f"{SELECT_FULL} WHERE m.id IN ({', '.join('?' * len(chunk))})", chunk
            ).fetchall()
            found.update((row[0], _full(row)) for row in rows)
        return found

    # -- reads ----------------------------------------------------------

    async def get(self, message_id: str) -> MessageRecord | None:
        def run(conn: sqlite3.Connection) -> MessageRecord | None:
            row = conn.execute(f"{SELECT_FULL} WHERE m.id = ?", (message_id,)).fetchone()
            return None if row is None else _full(row)

        return await self._read(run)

    async def find_by_business_key(
        self, direction: Direction, business_key: str
    ) -> MessageRecord | None:
        def run(conn: sqlite3.Connection) -> MessageRecord | None:
            row = conn.execute(
                f"{SELECT_FULL} WHERE m.direction = ? AND m.business_key = ? "
                f"AND m.transport_state NOT IN ({NOT_LIVE})",
                (Direction(direction).value, business_key),
            ).fetchone()
            return None if row is None else _full(row)

        return await self._read(run)

    async def has_live_key(
        self, direction: Direction, keys: Sequence[str], prefixes: Sequence[str] = (),
    ) -> bool:
        if not keys and not prefixes:
            return False
        live = f"direction = ? AND transport_state NOT IN ({NOT_LIVE})"
        # One EXISTS per key and prefix: each an index look-up, the first found ends it.
        tests = [f"EXISTS (SELECT 1 FROM messages WHERE {live} AND business_key = ?)"
                 for _ in keys]
        tests += [f"EXISTS (SELECT 1 FROM messages WHERE {live} AND business_key >= ? "
                  "AND business_key < ?)" for _ in prefixes]
        value = Direction(direction).value
        args: list[str] = [arg for key in keys for arg in (value, key)]
        args += [arg for prefix in prefixes
                 for arg in (value, prefix, prefix + PREFIX_END)]
        sql = f"SELECT {' OR '.join(tests)}"

        def run(conn: sqlite3.Connection) -> bool:
            return bool(conn.execute(sql, args).fetchone()[0])

        return await self._read(run)

    async def billed_on_timecard(
        self, agency_oin: str, timecard_id: str, *, besides: str | None = None,
    ) -> list[BilledLine]:
        def run(conn: sqlite3.Connection) -> list[BilledLine]:
            rows = conn.execute(BILLED_ON_TIMECARD, (agency_oin, timecard_id, besides)).fetchall()
            return [BilledLine(row[0], row[1], TimecardLine(
                line=row[2], timecard_id=timecard_id, invoice_number=row[3], order_line=row[4],
                unit_code=row[5], hours=Decimal(row[6]))) for row in rows]

        return await self._read(run)

    async def find_by_business_key_prefix(
        self, direction: Direction, prefix: str, limit: int = MAX_PAGE,
    ) -> list[MessageRecord]:
        check_limit(limit)

        def run(conn: sqlite3.Connection) -> list[MessageRecord]:
            # A range, not LIKE: the key may hold % and _, and the range uses the index.
            rows = conn.execute(
                f"{SELECT_FULL} WHERE m.direction = ? AND m.business_key >= ? "
                f"AND m.business_key < ? AND m.transport_state NOT IN ({NOT_LIVE}) "
                "ORDER BY m.id LIMIT ?",
                (Direction(direction).value, prefix, prefix + PREFIX_END, limit),
            ).fetchall()
            return [_full(row) for row in rows]

        return await self._read(run)

    async def find_by_transport_id(
        self, channel: str, transport_id: str, direction: Direction | None = None
    ) -> MessageRecord | None:
        def run(conn: sqlite3.Connection) -> MessageRecord | None:
            sql = (f"{SELECT_FULL} JOIN transport_refs r ON r.message_id = m.id "
                   "WHERE r.channel = ? AND r.transport_id = ?")
            params: list[Any] = [channel, transport_id]
            if direction is not None:
                sql += " AND m.direction = ?"
                params.append(Direction(direction).value)
            row = conn.execute(sql + " ORDER BY m.id DESC LIMIT 1", params).fetchone()
            return None if row is None else _full(row)

        return await self._read(run)

    async def waiting_for_status(
        self, channel: str, business_state: str, limit: int, after: str | None = None,
    ) -> list[MessageRecord]:
        check_limit(limit)

        def run(conn: sqlite3.Connection) -> list[MessageRecord]:
            rows = conn.execute(
                WAITING_FOR_STATUS, (channel, business_state, after or "", limit),
            ).fetchall()
            return [_record(row) for row in rows]

        return await self._read(run)

    async def events(self, message_id: str) -> list[Event]:
        def run(conn: sqlite3.Connection) -> list[Event]:
            rows = conn.execute(
                "SELECT message_id, seq, at, kind, transport_state, business_state, detail "
                "FROM events WHERE message_id = ? ORDER BY seq",
                (message_id,),
            ).fetchall()
            return [_event(row) for row in rows]

        return await self._read(run)

    async def attempts(self, message_id: str) -> list[Attempt]:
        def run(conn: sqlite3.Connection) -> list[Attempt]:
            rows = conn.execute(
                "SELECT message_id, number, started_at, finished_at, outcome, code, detail, "
                "transport_id FROM attempts WHERE message_id = ? ORDER BY number",
                (message_id,),
            ).fetchall()
            return [
                Attempt(r[0], r[1], _at(r[2]), _at(r[3]), r[4], r[5], r[6], r[7])
                for r in rows
            ]

        return await self._read(run)

    async def _list(
        self, equal: dict[str, Any], created_from: datetime | None,
        created_to: datetime | None, limit: int, cursor: str | None, oldest_first: bool,
        number: str | None = None,
    ) -> list[MessageRecord]:
        clauses: list[str] = []
        params: list[Any] = []
        for name, value in equal.items():
            assert name in LIST_FILTERS
            clauses.append(f"m.{name} = ?")
            params.append(value)
        if number is not None:
            clauses.append("m.number = ?")
            params.append(number)
        if created_from is not None:
            clauses.append("m.created_at >= ?")
            params.append(_ts(created_from))
        if created_to is not None:
            clauses.append("m.created_at < ?")
            params.append(_ts(created_to))
        if cursor is not None:
            clauses.append("m.id > ?" if oldest_first else "m.id < ?")
            params.append(cursor)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        order = "ASC" if oldest_first else "DESC"

        def run(conn: sqlite3.Connection) -> list[MessageRecord]:
            rows = conn.execute(
                f"{SELECT_FULL}{where} ORDER BY m.id {order} LIMIT ?", (*params, limit)
            ).fetchall()
            return [_full(row) for row in rows]

        return await self._read(run)

    async def count_by_state(self) -> dict[str, dict[str, int]]:
        def run(conn: sqlite3.Connection) -> dict[str, dict[str, int]]:
            counts: dict[str, dict[str, int]] = {}
            for direction, state, count in conn.execute(
                "SELECT direction, transport_state, count(*) FROM messages GROUP BY 1, 2"
            ):
                counts.setdefault(direction, {})[state] = count
            return counts

        return await self._read(run)

    async def _count_waiting(self, channels: list[str]) -> dict[str, int]:
        states = ", ".join(f"'{s.value}'" for s in CLAIMABLE_STATES[Direction.OUTBOUND])
        # Written as the partial index is, so SQLite can use it; INDEXED BY keeps the
        # planner, without statistics, from walking messages_state over inbound too.
        sql = ("SELECT channel, count(*) FROM messages INDEXED BY messages_due_outbound "
               f"WHERE direction = 'outbound' AND transport_state IN ({states}) "
               f"AND channel IN ({', '.join('?' * len(channels))}) GROUP BY channel")

        def run(conn: sqlite3.Connection) -> dict[str, int]:
            return {channel: count for channel, count in conn.execute(sql, channels)}

        return await self._read(run)

    async def _overdue(self, due_before: datetime, skip_channels: list[str],
                       cap: int) -> tuple[int, datetime | None]:
        states = ", ".join(f"'{s.value}'" for s in CLAIMABLE_STATES[Direction.OUTBOUND])
        skipped = ("" if not skip_channels else " AND (channel IS NULL OR channel NOT IN "
                   f"({', '.join('?' * len(skip_channels))}))")
        # Oldest first over the partial index, as a claim reads it: at most cap rows.
        sql = ("SELECT count(*), min(next_attempt_at) FROM (SELECT next_attempt_at "
               "FROM messages INDEXED BY messages_due_outbound "
               f"WHERE direction = 'outbound' AND transport_state IN ({states}) "
               f"AND next_attempt_at <= ?{skipped} ORDER BY next_attempt_at LIMIT ?)")

        def run(conn: sqlite3.Connection) -> tuple[int, datetime | None]:
            count, oldest = conn.execute(sql, (_ts(due_before), *skip_channels, cap)).fetchone()
            return count, _dt(oldest)

        return await self._read(run)

    # -- wake-ups across instances --------------------------------------

    async def notify_queued(self, directions: Collection[Direction]) -> None:
        """Nothing: SQLite has no way to tell another process, which polls instead."""

    async def listen_queued(self, wake: Callable[[Direction], None]) -> None:
        """Returns at once: cross-process wake-ups on SQLite stay on polling."""

    # -- leases ---------------------------------------------------------

    async def _hold_lease(self, name: str, holder: str, ttl: timedelta) -> bool:
        def run(conn: sqlite3.Connection) -> bool:
            # The time of the write, not of the call: a batch may have waited for the lock.
            now = utc_now()
            row = conn.execute(HOLD_LEASE, (name, holder, _ts(now + ttl), _ts(now))).fetchone()
            return row is not None

        return await self._writer.run(run)

    async def _release_lease(self, name: str, holder: str) -> bool:
        def run(conn: sqlite3.Connection) -> bool:
            deleted = conn.execute("DELETE FROM leases WHERE name = ? AND holder = ?",
                                   (name, holder)).rowcount
            return bool(deleted)

        return await self._writer.run(run)

    async def _leases(self) -> list[Lease]:
        def run(conn: sqlite3.Connection) -> list[Lease]:
            rows = conn.execute("SELECT name, holder, expires_at FROM leases")
            return [Lease(name, holder, _at(until)) for name, holder, until in rows]

        return await self._read(run)

    async def _lease_note(self, name: str) -> str | None:
        def run(conn: sqlite3.Connection) -> str | None:
            row = conn.execute("SELECT note FROM lease_notes WHERE name = ?", (name,)).fetchone()
            return None if row is None else str(row[0])

        return await self._read(run)

    async def _leave_lease_note(self, name: str, holder: str, note: str) -> bool:
        def run(conn: sqlite3.Connection) -> bool:
            now = _ts(utc_now())
            row = conn.execute(LEAVE_LEASE_NOTE, (note, now, name, holder, now)).fetchone()
            return row is not None

        return await self._writer.run(run)

    # -- audit log ------------------------------------------------------

    async def append_audit(self, record: AuditRecord) -> AuditRecord:
        def run(conn: sqlite3.Connection) -> AuditRecord:
            (seq,) = conn.execute(
                "INSERT INTO audit_log (at, actor, action, subject, reason, detail) "
                "VALUES (?, ?, ?, ?, ?, ?) RETURNING seq",
                (_ts(record.at), record.actor, record.action, record.subject, record.reason,
                 to_json(record.detail)),
            ).fetchone()
            return attrs.evolve(record, seq=seq)

        return await self._writer.run(run)

    async def _apply_audited(
        self, message_id: str, changes: list[Change], audit: AuditRecord, now: datetime | None
    ) -> MessageRecord:
        when = now or utc_now()

        def run(conn: sqlite3.Connection) -> MessageRecord:
            # One writer job is one savepoint: whatever raises below (a refused change, a
            # refused audit insert) takes every write of this job back with it.
            for change in changes:
                row = conn.execute(f"{SELECT_FULL_SEQ} WHERE m.id = ?", (message_id,)).fetchone()
                if row is None:
                    raise MessageNotFound(message_id)
                current = _full(row)
                plan = plan_change(change, current, row[_N + 2], when)
                if not plan.noop:
                    self._write_plan(conn, current, plan)
            conn.execute(
                "INSERT INTO audit_log (at, actor, action, subject, reason, detail) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (_ts(audit.at), audit.actor, audit.action, audit.subject, audit.reason,
                 to_json(audit.detail)),
            )
            return self._load(conn, message_id)

        return await self._writer.run(run)

    async def import_audit(self, records: Sequence[AuditRecord], *, source: str,
                           file: str) -> int:
        def run(conn: sqlite3.Connection) -> int:
            # The writer holds SQLite's write lock (BEGIN IMMEDIATE) from this read on, so
            # another process's import of the file waits, then sees these lines.
            rows = conn.execute(
                "SELECT json_extract(detail, '$.line_sha256'), json_extract(detail, '$.file'), "
                "json_extract(detail, '$.line'), at, actor, action, subject, reason FROM audit_log "
                "WHERE json_extract(detail, '$.source') = ?", (source,)).fetchall()
            todo = audit_lines_to_import(records, rows, file, _ts)
            conn.executemany(
                "INSERT INTO audit_log (at, actor, action, subject, reason, detail) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [(_ts(r.at), r.actor, r.action, r.subject, r.reason, to_json(r.detail))
                 for r in todo])
            return len(todo)

        return await self._writer.run(run)

    async def audit_log(self, limit: int = 100, before: int | None = None) -> list[AuditRecord]:
        check_limit(limit)

        def run(conn: sqlite3.Connection) -> list[AuditRecord]:
            rows = conn.execute(
                "SELECT seq, at, actor, action, subject, reason, detail FROM audit_log "
                "WHERE seq < ? ORDER BY seq DESC LIMIT ?",
                (before if before is not None else 2**62, limit),
            ).fetchall()
            return [
                AuditRecord(seq=r[0], at=_at(r[1]), actor=r[2], action=r[3], subject=r[4],
                            reason=r[5], detail=json.loads(r[6]))
                for r in rows
            ]

        return await self._read(run)
