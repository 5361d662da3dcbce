"""The server backend: PostgreSQL through an asyncpg connection pool.

Several gateway instances share one database. What keeps them apart is the
database, not the instances: a unique index makes adding a business key
twice impossible (``INSERT ... ON CONFLICT DO NOTHING``, then read the
winner), a change locks its message row (``SELECT ... FOR UPDATE``) before
checking it, and claiming selects due rows ``FOR UPDATE SKIP LOCKED`` and
marks them claimed in the same transaction, so concurrent claimers step
around each other's rows instead of waiting or doubling up. Migrations run
under a transaction-scoped advisory lock, so instances starting together
apply them once.

Durability is the server's: a commit returns after the WAL is flushed
(``synchronous_commit=on``, the default), which survives a crash of the
gateway, the server and the machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import time
from collections.abc import Awaitable, Callable, Collection, Coroutine, Sequence
from datetime import datetime, timedelta
from typing import Any, ParamSpec, TypeVar, cast

import asyncpg
import attrs

from gateway.errors import redact_url, redact_urls
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
    SchemaError,
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

log = logging.getLogger(__name__)

# pg_advisory_xact_lock key for migrations: 'wissel' in ASCII, any fixed number would do.
MIGRATION_LOCK = 0x77697373656C
# pg_advisory_xact_lock key for copying audit file lines into the table.
AUDIT_IMPORT_LOCK = MIGRATION_LOCK + 1

MESSAGE_COLUMNS = (
    "id", "direction", "business_key", "agency_oin", "document_kind", "format_key", "channel",
    "transport_state", "business_state", "attempts", "max_attempts", "next_attempt_at",
    "transport_id", "transport_ids", "routing", "validation", "last_error", "created_at",
    "updated_at", "claimed_by", "claim_expires_at",
)
_COLS = ", ".join(f"m.{c}" for c in MESSAGE_COLUMNS)
SELECT_FULL = (
    f"SELECT {_COLS}, p.raw_payload, p.canonical_json FROM messages m "
    "LEFT JOIN payloads p ON p.message_id = m.id"
)
_CLAIMED_COLS = ", ".join(f"c.{c}" for c in MESSAGE_COLUMNS)
SELECT_FULL_SEQ = (
    f"SELECT {_COLS}, p.raw_payload, p.canonical_json, m.last_event_seq FROM messages m "
    "LEFT JOIN payloads p ON p.message_id = m.id"
)
# Implies the predicate of the partial index messages_waiting, so the planner can use it.
WAITING_FOR_STATUS = (
    f"SELECT {_COLS} FROM messages m WHERE m.direction = 'outbound' "
    "AND m.transport_state = 'sent' AND m.status_followed AND m.channel = $1 "
    "AND m.business_state = $2 AND m.id > $3 ORDER BY m.id LIMIT $4"
)
# Taken when free, expired or ours: the upsert's WHERE leaves someone else's live lease
# alone, and then RETURNING gives no row. now() is the server's clock, one for every instance.
HOLD_LEASE = (
    "INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, now() + $3::interval) "
    "ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, "
    "expires_at = EXCLUDED.expires_at "
    "WHERE leases.holder = EXCLUDED.holder OR leases.expires_at <= now() RETURNING holder"
)
# Written only when the holder's lease is live: the SELECT gives no row otherwise.
LEAVE_LEASE_NOTE = (
    "INSERT INTO lease_notes (name, note, holder, written_at) "
    "SELECT name, $3, holder, now() FROM leases "
    "WHERE name = $1 AND holder = $2 AND expires_at > now() "
    "ON CONFLICT (name) DO UPDATE SET note = EXCLUDED.note, holder = EXCLUDED.holder, "
    "written_at = EXCLUDED.written_at RETURNING name"
)
# The NOTIFY channel for work one instance stored and another should take at once. One
# name serves: notifications stay inside their database, and every instance on it works
# the same queues. The payload is the direction alone: it says which workers to wake;
# which messages, their claim reads from the queue anyway, so naming them would only
# make each notification longer and keep PostgreSQL from folding repeats together.
QUEUED_CHANNEL = "wissel_queued"
# The listening connection's application_name: an operator finds it in pg_stat_activity.
LISTEN_APPLICATION = "wissel-listen"
# How long a listening connection may hear nothing before it is asked for a SELECT 1: one
# cut without a word (a firewall dropping it) would otherwise be listened on for good.
LISTEN_CHECK = 30.0
# Waits before listening again after a lost connection: doubled each failure, up to the cap.
LISTEN_RETRY_FIRST = 0.25
LISTEN_RETRY_CAP = 30.0
# A connection that listened this long before it was lost counts as a recovery: the next
# loss waits LISTEN_RETRY_FIRST again and is logged again. One cut sooner (a server or a
# proxy ending every session straight after LISTEN) goes on with the doubled waits, quietly.
LISTEN_STEADY = 60.0
# At most this many claimed rows kept for their claimer's next change (see _claimed): a
# claim whose change comes elsewhere (its lease ran out) is forgotten in turn.
CLAIMED_KEPT = 1024
LIST_FILTERS = frozenset({
    "direction", "transport_state", "business_state", "agency_oin", "business_key",
    "document_kind", "channel",
})
NOT_LIVE = ", ".join(f"'{s.value}'" for s in sorted(NOT_LIVE_STATES))
BUSINESS_KEY_INDEX = "messages_business_key_live"

_N = len(MESSAGE_COLUMNS)
# One statement, so one round trip and one commit, for message, payload, events
# and transport ids. ON CONFLICT without a target: a clash on the live business
# key or on the inbound transport id both mean "it is already here", and then
# none of the other inserts happen.
INSERT_MESSAGE = f"""
WITH m AS (
    INSERT INTO messages ({", ".join(MESSAGE_COLUMNS)}, last_event_seq)
    VALUES ({", ".join(f"${n}" for n in range(1, _N + 2))})
    ON CONFLICT DO NOTHING RETURNING id
), p AS (
    INSERT INTO payloads SELECT id, ${_N + 2}, ${_N + 3} FROM m
), e AS (
    INSERT INTO events
    SELECT m.id, s.seq, s.at, s.kind, s.transport_state, s.business_state, s.detail::jsonb
    FROM m, unnest(${_N + 4}::integer[], ${_N + 5}::timestamptz[], ${_N + 6}::text[],
                   ${_N + 7}::text[], ${_N + 8}::text[], ${_N + 9}::text[])
         AS s(seq, at, kind, transport_state, business_state, detail)
), r AS (
    INSERT INTO transport_refs SELECT ${_N + 10}, t, m.id FROM m, unnest(${_N + 11}::text[]) AS t
    ON CONFLICT DO NOTHING
)
SELECT id FROM m
"""
# INSERT_MESSAGE for an invoice billing on timecards: its lines in the same statement,
# so a message is never stored without them (nor they without it).
INSERT_INVOICE = INSERT_MESSAGE.replace("\nSELECT id FROM m\n", f"""
, t AS (
    INSERT INTO invoice_timecards
    SELECT m.id, s.line, ${_N + 12}, s.timecard_id, s.invoice_number, s.order_line,
           s.unit_code, s.hours
    FROM m, unnest(${_N + 13}::integer[], ${_N + 14}::text[], ${_N + 15}::text[],
                   ${_N + 16}::text[], ${_N + 17}::text[], ${_N + 18}::numeric[])
         AS s(line, timecard_id, invoice_number, order_line, unit_code, hours)
)
SELECT id FROM m
""")
BILLED_ON_TIMECARD = f"""
SELECT m.id, m.document_kind, t.line, t.invoice_number, t.order_line, t.unit_code, t.hours
FROM invoice_timecards t JOIN messages m ON m.id = t.message_id
WHERE t.agency_oin = $1 AND t.timecard_id = $2
  AND m.transport_state NOT IN ({", ".join(f"'{s.value}'" for s in
                                           sorted(NOT_BILLED_TRANSPORT_STATES))})
  AND m.business_state NOT IN ({", ".join(f"'{s.value}'" for s in
                                          sorted(NOT_BILLED_BUSINESS_STATES))})
  AND m.business_key IS DISTINCT FROM $3
ORDER BY m.id, t.line
"""


# Many events in one statement and one round trip: a column array per field.
INSERT_EVENTS = """
INSERT INTO events
SELECT s.message_id, s.seq, s.at, s.kind, s.transport_state, s.business_state, s.detail::jsonb
FROM unnest($1::text[], $2::integer[], $3::timestamptz[], $4::text[], $5::text[], $6::text[],
            $7::text[]) AS s(message_id, seq, at, kind, transport_state, business_state, detail)
"""
ATTEMPTS_KEY = "attempts_pkey"


# Not the channels the claiming instance has but does not run ('{}': none skipped).
CHANNEL_FILTER = "NOT COALESCE(channel = ANY(${n}::text[]), false)"



def _starts_with(column: str, prefix: str) -> str:
    """SQL: ``column`` starts with the text ``prefix`` (a parameter or a column).

    A byte range, which messages_business_key_bytes serves (migration 0008), then
    starts_with: under the database's own collation a range is no prefix, and
    starts_with alone reads every row.
    """
    return (f'{column} COLLATE "C" >= {prefix} AND {column} COLLATE "C" < '
            f"{prefix} || chr({ord(PREFIX_END)}) AND starts_with({column}, {prefix})")
@functools.cache
def _claim_sql(direction: Direction) -> str:
    """Claim due messages unless a claim has expired (``stale``: take the long way then).

    Always one row at least: with nothing claimed, its message columns are NULL.
    The rows to claim are picked in a MATERIALIZED CTE, evaluated once: as an
    ``IN (subquery)`` the planner may rescan a LIMIT ... SKIP LOCKED subquery
    and claim more rows than asked for.
    The events are those :func:`claim_event` makes for a claim nobody held
    before (tests compare them with SQLite's, which uses it).
    """
    states = ", ".join(f"'{s.value}'" for s in CLAIMABLE_STATES[direction])
    claimed = CLAIMED_STATE[direction].value
    kind = "send-attempt" if direction is Direction.OUTBOUND else "deliver"
    return f"""
WITH stale AS (
    SELECT EXISTS (SELECT 1 FROM messages WHERE claimed_by IS NOT NULL
                   AND direction = '{direction.value}' AND claim_expires_at <= $3
                   AND {CHANNEL_FILTER.format(n=6)}) AS found
), due AS MATERIALIZED (
    SELECT id FROM messages WHERE direction = '{direction.value}'
        AND transport_state IN ({states}) AND next_attempt_at <= $3
        AND {CHANNEL_FILTER.format(n=6)}
        AND NOT (SELECT found FROM stale)
        ORDER BY next_attempt_at LIMIT $4 FOR UPDATE SKIP LOCKED
), c AS (
    UPDATE messages SET transport_state = '{claimed}', claimed_by = $1, claim_expires_at = $2,
        attempts = attempts + 1, next_attempt_at = NULL, updated_at = $3,
        last_event_seq = last_event_seq + 1
    FROM due WHERE messages.id = due.id
    RETURNING messages.*
), e AS (
    INSERT INTO events
    SELECT c.id, c.last_event_seq, $3, '{kind}', '{claimed}', NULL,
           jsonb_build_object('worker', $1::text, 'attempt', c.attempts, 'lease_until', $5::text)
    FROM c
)
SELECT s.found AS stale, {_CLAIMED_COLS}, c.last_event_seq, p.raw_payload, p.canonical_json
FROM stale s LEFT JOIN (c LEFT JOIN payloads p ON p.message_id = c.id) ON true
"""


def _event_columns(events: Sequence[Event]) -> tuple[list[Any], ...]:
    return (
        [e.message_id for e in events], [e.seq for e in events], [e.at for e in events],
        [e.kind for e in events],
        [None if e.transport_state is None else e.transport_state.value for e in events],
        [e.business_state for e in events], [to_json(e.detail) for e in events],
    )


def _without_secrets(text: str, dsn: str) -> str:
    """``text`` with the passwords ``dsn`` holds replaced by ``***``: a parser's error about
    a malformed URL may quote a piece of it, and a password in a piece is no URL to redact.

    A password with a URL delimiter in it may have been cut anywhere by the parser,
    so that its pieces cannot be found: then the parser's text is left out.
    """
    head = dsn.partition("://")[2].partition("?")[0].partition("/")[0]
    credentials = head.rpartition("@")[0] if "@" in head else ""
    secrets = [credentials.partition(":")[2]]
    secrets += [value for name, _, value in (
        part.partition("=") for part in dsn.partition("?")[2].split("&"))
        if name.lower() in ("password", "sslpassword")]
    secrets = [secret for secret in secrets if secret]
    if any(set(secret) & set("@:/?#&=[]") for secret in secrets):
        return "it is malformed (check the user, host, port and parameters)"
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, "***")
    return redact_urls(text)


def redact(dsn: str) -> str:
    """The DSN without its password, for messages and logs."""
    return redact_url(dsn)


def _record(row: Any, *, payloads: bool = True) -> MessageRecord:
    return MessageRecord(
        id=row["id"], direction=row["direction"], business_key=row["business_key"],
        agency_oin=row["agency_oin"], document_kind=row["document_kind"],
        format_key=row["format_key"], channel=row["channel"],
        transport_state=row["transport_state"], business_state=row["business_state"],
        attempts=row["attempts"], max_attempts=row["max_attempts"],
        next_attempt_at=row["next_attempt_at"], transport_id=row["transport_id"],
        transport_ids=tuple(row["transport_ids"]), routing=row["routing"],
        validation=row["validation"], last_error=row["last_error"],
        created_at=row["created_at"], updated_at=row["updated_at"],
        claimed_by=row["claimed_by"], claim_expires_at=row["claim_expires_at"],
        raw_payload=row["raw_payload"] if payloads else None,
        canonical_json=row["canonical_json"] if payloads else None,
    )


def _holds_nul(args: Sequence[Any]) -> bool:
    """Whether a lookup names text with a NUL: PostgreSQL refuses it as an argument, and no
    stored value holds one (writes replace or refuse it), so it finds nothing, as on SQLite."""
    return any(isinstance(a, str) and "\x00" in a for a in args)


def _value(value: Any) -> Any:
    if isinstance(value, TransportState | Direction):
        return value.value
    if isinstance(value, tuple):
        return list(value)
    return value


P = ParamSpec("P")
R = TypeVar("R")


def _translated(method: Callable[P, Awaitable[R]]) -> Callable[P, Coroutine[Any, Any, R]]:
    """Driver and server errors reach callers as StoreError, as SQLite's do."""

    @functools.wraps(method)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await method(*args, **kwargs)
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
            raise StoreError(f"PostgreSQL: {type(exc).__name__}: {exc}") from exc

    return wrapper


async def _init_connection(conn: Any) -> None:
    await conn.set_type_codec("jsonb", encoder=to_json, decoder=json.loads,
                              schema="pg_catalog")


async def _keep_session(conn: Any) -> None:
    """What the pool does to a connection it gets back: nothing beyond asyncpg's rollback.

    asyncpg's default reset query (RESET ALL, UNLISTEN, CLOSE ALL, unlock all)
    is a round trip on every release; the store leaves no session state to
    undo (no SET, LISTEN, cursor or session lock: migrations take a
    transaction-scoped lock), and asyncpg rolls back an open transaction
    before this is called.
    """


class PostgresStore(Store):
    """The store in a PostgreSQL database (see the module docstring)."""

    backend = "postgres"

    def __init__(self, dsn: str, *, min_pool: int = 1, max_pool: int = 16) -> None:
        self.dsn = dsn
        self._where = redact(dsn)
        self._min_pool = min_pool
        self._max_pool = max_pool
        self._pool: Any = None
        self._lock = asyncio.Lock()
        self._closed = False
        # The connections listen_queued() holds outside the pool: close() ends them too.
        self._listening: set[Any] = set()
        # Rows this store claimed, as the claim left them, by message id: the claimer's
        # next change (the attempt's outcome) plans from it instead of reading the row
        # and its payloads back. The write still lands only on a row that is as remembered.
        self._claimed: dict[str, Any] = {}

    async def _get_pool(self) -> Any:
        if self._pool is None:
            async with self._lock:
                if self._closed:
                    raise StoreError(f"the store {self._where} is closed")
                if self._pool is None:
                    try:
                        self._pool = await asyncpg.create_pool(
                            self.dsn, min_size=self._min_pool, max_size=self._max_pool,
                            init=_init_connection, reset=_keep_session,
                        )
                    except (OSError, asyncpg.PostgresError) as exc:
                        raise StoreError(f"cannot connect to {self._where}: {exc}") from None
                    except (ValueError, asyncpg.InterfaceError) as exc:
                        # A malformed URL (a port that is no number, an unknown sslmode):
                        # asyncpg names neither the database nor the part at fault.
                        raise StoreError(
                            f"the database URL {self._where} cannot be used: "
                            f"{_without_secrets(str(exc), self.dsn)}") from None
        return self._pool

    async def close(self) -> None:
        self._closed = True
        for conn in list(self._listening):
            conn.terminate()
        async with self._lock:
            if self._pool is not None:
                await self._pool.close()
                self._pool = None

    # -- migrations -----------------------------------------------------

    @_translated
    async def migrate(self) -> int:
        shipped = migrations.load("postgres")
        pool = await self._get_pool()
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK)
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY,"
                " name text NOT NULL, checksum text NOT NULL, applied_at timestamptz NOT NULL)"
            )
            applied = {
                r["version"]: r["checksum"]
                for r in await conn.fetch("SELECT version, checksum FROM schema_migrations")
            }
            todo = migrations.check_history("postgres", applied, shipped, self._where)
            for migration in todo:
                try:
                    await conn.execute(migration.sql)
                except asyncpg.PostgresError as exc:
                    raise SchemaError(
                        f"migration {migration.version:04d} ({migration.name}) failed on "
                        f"{self._where}: {exc}"
                    ) from None
                await conn.execute(
                    "INSERT INTO schema_migrations VALUES ($1, $2, $3, $4)",
                    migration.version, migration.name, migration.checksum, utc_now(),
                )
            return max([*applied, *(m.version for m in todo)], default=0)

    # -- inserts --------------------------------------------------------

    @_translated
    async def _insert(
        self, record: MessageRecord, events: list[Event],
        timecard_lines: Sequence[TimecardLine] = (),
    ) -> tuple[MessageRecord, bool]:
        values = [_value(getattr(record, c)) for c in MESSAGE_COLUMNS]
        event_rows = (
            [e.seq for e in events], [e.at for e in events], [e.kind for e in events],
            [None if e.transport_state is None else e.transport_state.value for e in events],
            [e.business_state for e in events], [to_json(e.detail) for e in events],
        )
        sql = INSERT_INVOICE if timecard_lines else INSERT_MESSAGE
        billed: list[Any] = []
        if timecard_lines:
            billed = [
                record.agency_oin, [t.line for t in timecard_lines],
                [t.timecard_id for t in timecard_lines],
                [t.invoice_number for t in timecard_lines],
                [t.order_line for t in timecard_lines], [t.unit_code for t in timecard_lines],
                [t.hours for t in timecard_lines],
            ]
        pool = await self._get_pool()
        async with pool.acquire() as conn:
            for _ in range(3):
                inserted = await conn.fetchval(
                    sql, *values, len(events), record.raw_payload,
                    record.canonical_json, *event_rows, record.channel or "",
                    list(record.transport_ids), *billed,
                )
                if inserted is not None:
                    return record, True
                existing = await self._existing(conn, record)
                if existing is not None:
                    return existing, False
                # The row we clashed with left the unique index (it was rejected)
                # before we could read it: try again.
            raise StoreError(f"message {record.id} clashes with an existing row")

    @staticmethod
    async def _existing(conn: Any, record: MessageRecord) -> MessageRecord | None:
        if record.business_key is not None and record.transport_state not in NOT_LIVE_STATES:
            row = await conn.fetchrow(
                f"{SELECT_FULL} WHERE m.direction = $1 AND m.business_key = $2 "
                f"AND m.transport_state NOT IN ({NOT_LIVE})",
                record.direction.value, record.business_key,
            )
            if row is not None:
                return _record(row)
        if record.direction is Direction.INBOUND and record.transport_id is not None:
            row = await conn.fetchrow(
                f"{SELECT_FULL} WHERE m.direction = 'inbound' AND m.channel = $1 "
                "AND m.transport_id = $2",
                record.channel, record.transport_id,
            )
            if row is not None:
                return _record(row)
        if await conn.fetchval("SELECT 1 FROM messages WHERE id = $1", record.id):
            raise StoreError(f"a message with id {record.id} exists already")
        return None

    @staticmethod
    async def _insert_events(conn: Any, events: Sequence[Event]) -> None:
        if events:
            await conn.execute(INSERT_EVENTS, *_event_columns(events))

    # -- changes --------------------------------------------------------

    @_translated
    async def _apply(
        self, message_id: str, change: Change, now: datetime | None
    ) -> MessageRecord:
        when = now or utc_now()
        pool = await self._get_pool()
        async with pool.acquire() as conn:
            # First without a transaction: read, plan, and write in one statement that
            # finds the row only if nothing changed it since the read. Two round trips
            # instead of four (BEGIN, SELECT ... FOR UPDATE, write, COMMIT); one when
            # the claimer changes the row it claimed here.
            row = self._claimed.pop(message_id, None)
            if row is None or row["claimed_by"] != change.expect_claimed_by:
                row = await conn.fetchrow(f"{SELECT_FULL_SEQ} WHERE m.id = $1", message_id)
            if row is None:
                raise MessageNotFound(message_id)
            current = _record(row)
            try:
                plan = plan_change(change, current, row["last_event_seq"], when)
            except StoreError:
                plan = None  # refused as read: decided again under the lock, as always
            if plan is not None and plan.noop:
                return current
            answer = None if plan is None else settled(current, plan)
            if plan is not None and answer is not None and await self._write_plan(
                conn, current, plan, unchanged_since=row,
            ):
                return answer
        # Changed meanwhile, refused, or an answer that needs reading back: under the lock.
        async with pool.acquire() as conn, conn.transaction():
            # The payloads come along: the answer carries them, and reading them now
            # saves reading the whole message again after the write.
            row = await conn.fetchrow(
                f"{SELECT_FULL_SEQ} WHERE m.id = $1 FOR UPDATE OF m", message_id,
            )
            if row is None:
                raise MessageNotFound(message_id)
            current = _record(row)
            plan = plan_change(change, current, row["last_event_seq"], when)
            if plan.noop:
                return current
            await self._write_plan(conn, current, plan)
            return settled(current, plan) or await self._load(conn, message_id)

    async def _write_plan(
        self, conn: Any, current: MessageRecord, plan: Plan, *, unchanged_since: Any = None,
    ) -> bool:
        """Every write of a plan in one statement, so one round trip; False if none was made.

        With ``unchanged_since`` (the message row the plan was made from) the
        statement writes only if the row still has the sequence number, update
        time, lease and transport ids it was read with: every write to a message
        changes one of those, so the plan holds as if the row had been locked.
        """
        args: list[Any] = [current.id]

        def arg(value: Any) -> str:
            args.append(value)
            return f"${len(args)}"

        columns = {**plan.columns, "updated_at": plan.columns.get("updated_at", utc_now())}
        sets = ", ".join(f"{n} = {arg(_value(v))}" for n, v in columns.items())
        where = "id = $1"
        if unchanged_since is not None:
            row = unchanged_since
            where += (
                f" AND last_event_seq = {arg(row['last_event_seq'])}"
                f" AND updated_at = {arg(row['updated_at'])}"
                f" AND claim_expires_at IS NOT DISTINCT FROM {arg(row['claim_expires_at'])}"
                f" AND transport_ids = {arg(row['transport_ids'])}"
            )
        # The other writes hang on the message update (FROM m): no row, no writes.
        parts = [f"m AS (UPDATE messages SET {sets} WHERE {where} RETURNING id)"]
        if plan.payload:
            psets = ", ".join(f"{n} = {arg(v)}" for n, v in plan.payload.items())
            parts.append(f"p AS (UPDATE payloads SET {psets} FROM m "
                         "WHERE payloads.message_id = m.id)")
        if plan.event is not None:
            e = plan.event
            state = None if e.transport_state is None else e.transport_state.value
            parts.append(
                f"e AS (INSERT INTO events SELECT m.id, {arg(e.seq)}::integer, "
                f"{arg(e.at)}::timestamptz, {arg(e.kind)}::text, {arg(state)}::text, "
                f"{arg(e.business_state)}::text, {arg(e.detail)}::jsonb FROM m)"
            )
        a = plan.attempt
        if a is not None:
            parts.append(
                f"a AS (INSERT INTO attempts SELECT m.id, {arg(a.number)}::integer, "
                f"{arg(a.started_at)}::timestamptz, {arg(a.finished_at)}::timestamptz, "
                f"{arg(a.outcome.value)}::text, {arg(a.code)}::text, {arg(a.detail)}::text, "
                f"{arg(a.transport_id)}::text FROM m)"
            )
        if plan.new_transport_ids:
            parts.append(
                f"r AS (INSERT INTO transport_refs SELECT {arg(plan.channel)}::text, t, m.id "
                f"FROM m, unnest({arg(list(plan.new_transport_ids))}::text[]) AS t "
                "ON CONFLICT DO NOTHING)"
            )
        try:
            written: int = await conn.fetchval(
                f"WITH {', '.join(parts)} SELECT count(*) FROM m", *args)
        except asyncpg.UniqueViolationError as exc:
            constraint = getattr(exc, "constraint_name", None)
            if constraint == BUSINESS_KEY_INDEX:
                key = plan.columns.get("business_key", current.business_key)
                raise DuplicateBusinessKey(current.direction, str(key)) from None
            if constraint == ATTEMPTS_KEY and a is not None:
                raise StoreError(
                    f"attempt {a.number} of message {a.message_id} is already recorded"
                ) from None
            raise
        return written == 1

    @staticmethod
    async def _load(conn: Any, message_id: str) -> MessageRecord:
        row = await conn.fetchrow(f"{SELECT_FULL} WHERE m.id = $1", message_id)
        if row is None:
            raise MessageNotFound(message_id)
        return _record(row)

    @_translated
    async def _extend(
        self, message_id: str, worker_id: str, until: datetime, now: datetime
    ) -> MessageRecord:
        self._claimed.pop(message_id, None)  # its lease is about to change
        pool = await self._get_pool()
        async with pool.acquire() as conn, conn.transaction():
            owner = await conn.fetchrow(
                "SELECT claimed_by FROM messages WHERE id = $1 FOR UPDATE", message_id
            )
            if owner is None:
                raise MessageNotFound(message_id)
            if owner["claimed_by"] != worker_id:
                raise ClaimLost(message_id, worker_id, owner["claimed_by"])
            await conn.execute(
                "UPDATE messages SET claim_expires_at = $2, updated_at = $3 WHERE id = $1",
                message_id, until, now,
            )
            return await self._load(conn, message_id)

    @_translated
    async def _expire_claims(self, prefix: str, now: datetime) -> int:
        pool = await self._get_pool()
        async with pool.acquire() as conn:
            # left(), not LIKE: a host name may hold the pattern characters % and _.
            done = await conn.execute(
                "UPDATE messages SET claim_expires_at = $1, updated_at = $1 "
                "WHERE claimed_by IS NOT NULL AND claim_expires_at > $1 "
                "AND left(claimed_by, $2) = $3",
                now, len(prefix), prefix,
            )
        return int(done.rsplit(" ", 1)[-1])

    # -- claims ---------------------------------------------------------

    @_translated
    async def _claim_rows(
        self, direction: Direction, worker_id: str, limit: int, lease: timedelta,
        now: datetime, skip_channels: list[str],
    ) -> list[MessageRecord]:
        until = now + lease
        pool = await self._get_pool()
        async with pool.acquire() as conn:
            # Usually no claim has expired: then one statement, one round trip and one
            # commit claims, writes the claim events and reads the payloads.
            fast = await conn.fetch(_claim_sql(direction), worker_id, until, now, limit,
                                    until.isoformat(), skip_channels)
            if not fast[0]["stale"]:
                rows = [r for r in fast if r["id"] is not None]
                for row in rows:
                    self._claimed[row["id"]] = row
                while len(self._claimed) > CLAIMED_KEPT:
                    del self._claimed[next(iter(self._claimed))]
                return [_record(r) for r in rows]
        states = ", ".join(f"'{s.value}'" for s in CLAIMABLE_STATES[direction])
        due = f"direction = '{direction.value}' AND transport_state IN ({states})"
        held = f"claimed_by IS NOT NULL AND direction = '{direction.value}'"
        claimed = CLAIMED_STATE[direction].value
        async with pool.acquire() as conn, conn.transaction():
            claimed_ids: list[tuple[str, int, str | None]] = []
            events: list[Event] = []
            # Claims whose worker died: taken over first, they have waited longest.
            stale = await conn.fetch(
                "SELECT id, claimed_by, claim_expires_at, attempts, max_attempts "
                f"FROM messages WHERE {held} AND claim_expires_at <= $1 "
                f"AND {CHANNEL_FILTER.format(n=3)} "
                "ORDER BY claim_expires_at LIMIT $2 FOR UPDATE SKIP LOCKED",
                now, limit, skip_channels,
            )
            for row in stale:
                note = lease_expired_note(row["claimed_by"], row["attempts"],
                                          row["claim_expires_at"])
                if row["attempts"] >= row["max_attempts"]:
                    events.append(await self._dead_letter_stale(
                        conn, row["id"], row["attempts"], row["max_attempts"], note, now))
                    continue
                seq = await conn.fetchval(
                    "UPDATE messages SET claimed_by = $2, claim_expires_at = $3, "
                    "attempts = attempts + 1, last_error = $4, updated_at = $5, "
                    "last_event_seq = last_event_seq + 1 WHERE id = $1 "
                    "RETURNING last_event_seq",
                    row["id"], worker_id, until, note, now,
                )
                claimed_ids.append((row["id"], seq, row["claimed_by"]))
            records: dict[str, MessageRecord] = {}
            if claimed_ids:
                loaded = await conn.fetch(f"{SELECT_FULL} WHERE m.id = ANY($1::text[])",
                                          [message_id for message_id, _, _ in claimed_ids])
                records = {row["id"]: _record(row) for row in loaded}
            room = limit - len(claimed_ids)
            if room > 0:
                # Claimed and read back with the payloads in one statement.
                rows = await conn.fetch(
                    f"WITH due AS MATERIALIZED (SELECT id FROM messages WHERE {due} "
                    f"AND next_attempt_at <= $3 AND {CHANNEL_FILTER.format(n=5)} "
                    "ORDER BY next_attempt_at LIMIT $4 FOR UPDATE SKIP LOCKED), "
                    f"c AS (UPDATE messages SET transport_state = '{claimed}', "
                    "claimed_by = $1, claim_expires_at = $2, attempts = attempts + 1, "
                    "next_attempt_at = NULL, updated_at = $3, "
                    "last_event_seq = last_event_seq + 1 "
                    "FROM due WHERE messages.id = due.id RETURNING messages.*) "
                    f"SELECT {_CLAIMED_COLS}, "
                    "c.last_event_seq, p.raw_payload, p.canonical_json FROM c "
                    "LEFT JOIN payloads p ON p.message_id = c.id",
                    worker_id, until, now, room, skip_channels,
                )
                for r in rows:
                    claimed_ids.append((r["id"], r["last_event_seq"], None))
                    records[r["id"]] = _record(r)
            for message_id, seq, owner in claimed_ids:
                record = records[message_id]
                claim = claim_event(record, worker_id, owner)
                events.append(Event(message_id, seq, now, claim.kind, record.transport_state,
                                    None, dict(claim.detail)))
            await self._insert_events(conn, events)
            return [records[message_id] for message_id, _, _ in claimed_ids]

    @staticmethod
    async def _dead_letter_stale(
        conn: Any, message_id: str, attempts: int, max_attempts: int, note: str,
        now: datetime,
    ) -> Event:
        """A claim expired with no attempts left: the operator gets it, not another worker."""
        reason = exhausted_reason(attempts, max_attempts, note)
        seq = await conn.fetchval(
            "UPDATE messages SET transport_state = 'failed', claimed_by = NULL, "
            "claim_expires_at = NULL, next_attempt_at = NULL, last_error = $2, "
            "updated_at = $3, last_event_seq = last_event_seq + 1 WHERE id = $1 "
            "RETURNING last_event_seq",
            message_id, reason, now,
        )
        return Event(message_id, seq, now, "dead-lettered", TransportState.FAILED, None,
                     {"reason": reason, "exhausted": True})

    # -- reads ----------------------------------------------------------

    async def _fetchrow(self, sql: str, *args: Any) -> Any:
        pool = await self._get_pool()
        if _holds_nul(args):
            return None
        return await pool.fetchrow(sql, *args)

    async def _fetch(self, sql: str, *args: Any) -> list[Any]:
        pool = await self._get_pool()
        if _holds_nul(args):
            return []
        return cast(list[Any], await pool.fetch(sql, *args))

    @_translated
    async def get(self, message_id: str) -> MessageRecord | None:
        row = await self._fetchrow(f"{SELECT_FULL} WHERE m.id = $1", message_id)
        return None if row is None else _record(row)

    @_translated
    async def find_by_business_key(
        self, direction: Direction, business_key: str
    ) -> MessageRecord | None:
        row = await self._fetchrow(
            f"{SELECT_FULL} WHERE m.direction = $1 AND m.business_key = $2 "
            f"AND m.transport_state NOT IN ({NOT_LIVE})",
            Direction(direction).value, business_key,
        )
        return None if row is None else _record(row)

    @_translated
    async def has_live_key(
        self, direction: Direction, keys: Sequence[str], prefixes: Sequence[str] = (),
    ) -> bool:
        # Text with a NUL is no stored key, and an error as an argument.
        keys = [key for key in keys if "\x00" not in key]
        prefixes = [prefix for prefix in prefixes if "\x00" not in prefix]
        if not keys and not prefixes:
            return False
        live = f"direction = $1 AND transport_state NOT IN ({NOT_LIVE})"
        row = await self._fetchrow(
            f"SELECT EXISTS (SELECT 1 FROM messages WHERE {live} "
            "AND business_key = ANY($2::text[])) OR EXISTS (SELECT 1 FROM unnest($3::text[]) "
            f"AS p, LATERAL (SELECT 1 FROM messages WHERE {live} AND "
            f"{_starts_with('business_key', 'p')} LIMIT 1) AS found)",
            Direction(direction).value, list(keys), list(prefixes),
        )
        return bool(row is not None and row[0])

    @_translated
    async def billed_on_timecard(
        self, agency_oin: str, timecard_id: str, *, besides: str | None = None,
    ) -> list[BilledLine]:
        rows = await self._fetch(BILLED_ON_TIMECARD, agency_oin, timecard_id, besides)
        return [BilledLine(row["id"], row["document_kind"], TimecardLine(
            line=row["line"], timecard_id=timecard_id, invoice_number=row["invoice_number"],
            order_line=row["order_line"], unit_code=row["unit_code"], hours=row["hours"]))
            for row in rows]

    @_translated
    async def find_by_business_key_prefix(
        self, direction: Direction, prefix: str, limit: int = MAX_PAGE,
    ) -> list[MessageRecord]:
        check_limit(limit)
        rows = await self._fetch(
            f"{SELECT_FULL} WHERE m.direction = $1 AND {_starts_with('m.business_key', '$2')} "
            f"AND m.transport_state NOT IN ({NOT_LIVE}) ORDER BY m.id LIMIT $3",
            Direction(direction).value, prefix, limit,
        )
        return [_record(row) for row in rows]

    @_translated
    async def find_by_transport_id(
        self, channel: str, transport_id: str, direction: Direction | None = None
    ) -> MessageRecord | None:
        sql = (f"{SELECT_FULL} JOIN transport_refs r ON r.message_id = m.id "
               "WHERE r.channel = $1 AND r.transport_id = $2")
        args: list[Any] = [channel, transport_id]
        if direction is not None:
            sql += " AND m.direction = $3"
            args.append(Direction(direction).value)
        row = await self._fetchrow(sql + " ORDER BY m.id DESC LIMIT 1", *args)
        return None if row is None else _record(row)

    @_translated
    async def waiting_for_status(
        self, channel: str, business_state: str, limit: int, after: str | None = None,
    ) -> list[MessageRecord]:
        check_limit(limit)
        rows = await self._fetch(WAITING_FOR_STATUS, channel, business_state, after or "", limit)
        return [_record(row, payloads=False) for row in rows]

    @_translated
    async def events(self, message_id: str) -> list[Event]:
        rows = await self._fetch(
            "SELECT message_id, seq, at, kind, transport_state, business_state, detail "
            "FROM events WHERE message_id = $1 ORDER BY seq",
            message_id,
        )
        return [
            Event(message_id=r["message_id"], seq=r["seq"], at=r["at"], kind=r["kind"],
                  transport_state=None if r["transport_state"] is None
                  else TransportState(r["transport_state"]),
                  business_state=r["business_state"], detail=r["detail"])
            for r in rows
        ]

    @_translated
    async def attempts(self, message_id: str) -> list[Attempt]:
        rows = await self._fetch(
            "SELECT message_id, number, started_at, finished_at, outcome, code, detail, "
            "transport_id FROM attempts WHERE message_id = $1 ORDER BY number",
            message_id,
        )
        return [Attempt(*r) for r in rows]

    @_translated
    async def _list(
        self, equal: dict[str, Any], created_from: datetime | None,
        created_to: datetime | None, limit: int, cursor: str | None, oldest_first: bool,
        number: str | None = None,
    ) -> list[MessageRecord]:
        clauses: list[str] = []
        args: list[Any] = []

        def arg(value: Any) -> str:
            args.append(value)
            return f"${len(args)}"

        for name, value in equal.items():
            assert name in LIST_FILTERS
            clauses.append(f"m.{name} = {arg(value)}")
        if number is not None:
            clauses.append(f"m.number = {arg(number)}")
        if created_from is not None:
            clauses.append(f"m.created_at >= {arg(created_from)}")
        if created_to is not None:
            clauses.append(f"m.created_at < {arg(created_to)}")
        if cursor is not None:
            clauses.append(f"m.id {'>' if oldest_first else '<'} {arg(cursor)}")
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        order = "ASC" if oldest_first else "DESC"
        rows = await self._fetch(
            f"{SELECT_FULL}{where} ORDER BY m.id {order} LIMIT {arg(limit)}", *args
        )
        return [_record(row) for row in rows]

    @_translated
    async def count_by_state(self) -> dict[str, dict[str, int]]:
        counts: dict[str, dict[str, int]] = {}
        for row in await self._fetch(
            "SELECT direction, transport_state, count(*) AS n FROM messages GROUP BY 1, 2"
        ):
            counts.setdefault(row["direction"], {})[row["transport_state"]] = row["n"]
        return counts

    @_translated
    async def _count_waiting(self, channels: list[str]) -> dict[str, int]:
        states = ", ".join(f"'{s.value}'" for s in CLAIMABLE_STATES[Direction.OUTBOUND])
        # The predicate of the partial index messages_due_outbound, so it can be used.
        rows = await self._fetch(
            "SELECT channel, count(*) AS n FROM messages WHERE direction = 'outbound' "
            f"AND transport_state IN ({states}) AND channel = ANY($1::text[]) GROUP BY channel",
            channels,
        )
        return {row["channel"]: row["n"] for row in rows}

    async def _overdue(self, due_before: datetime, skip_channels: list[str],
                       cap: int) -> tuple[int, datetime | None]:
        states = ", ".join(f"'{s.value}'" for s in CLAIMABLE_STATES[Direction.OUTBOUND])
        # The predicate of messages_due_outbound, oldest first: at most cap rows are read.
        row = await self._fetchrow(
            "SELECT count(*) AS n, min(next_attempt_at) AS oldest FROM (SELECT "
            "next_attempt_at FROM messages WHERE direction = 'outbound' "
            f"AND transport_state IN ({states}) AND next_attempt_at <= $1 "
            f"AND {CHANNEL_FILTER.format(n=2)} ORDER BY next_attempt_at LIMIT $3) AS due",
            due_before, skip_channels, cap,
        )
        return row["n"], row["oldest"]

    # -- wake-ups across instances --------------------------------------

    @_translated
    async def notify_queued(self, directions: Collection[Direction]) -> None:
        payloads = sorted({Direction(d).value for d in directions})
        if not payloads:
            return
        pool = await self._get_pool()
        # Outside any transaction: the work it announces is committed already.
        await pool.execute("SELECT pg_notify($1, d) FROM unnest($2::text[]) AS d",
                           QUEUED_CHANNEL, payloads)

    async def listen_queued(self, wake: Callable[[Direction], None]) -> None:
        retry = LISTEN_RETRY_FIRST
        said = False  # the outage is logged already: its further failures only at debug
        while True:
            began = time.monotonic()
            try:
                await self._listen(wake)
            except Exception as exc:
                problem = f"cannot listen: {type(exc).__name__}: {exc}"
            else:
                problem = "the listening connection was lost"
                if time.monotonic() - began >= LISTEN_STEADY:
                    retry, said = LISTEN_RETRY_FIRST, False
            if self._closed:  # close() ended the connection: nothing was lost
                return
            if said:
                log.debug("%s: %s", self._where, problem)
            else:
                log.warning("%s: %s; trying again in %.2f s, finding the work other "
                            "instances store by polling meanwhile", self._where, problem, retry)
                said = True
            await asyncio.sleep(retry)
            retry = min(retry * 2, LISTEN_RETRY_CAP)

    async def _listen(self, wake: Callable[[Direction], None]) -> None:
        """Listen on a connection of its own until it is lost; raises if listening cannot start.

        Not a pool connection: LISTEN belongs to a session, and a pooled
        connection serves other work between statements.
        """
        lost = asyncio.Event()

        def heard(_conn: Any, _pid: int, _channel: str, payload: str) -> None:
            try:
                directions = [Direction(payload)]
            except ValueError:
                # Another version's payload: waking both costs one claim round each.
                directions = list(Direction)
            for direction in directions:
                wake(direction)

        conn = await asyncpg.connect(self.dsn, server_settings={
            "application_name": LISTEN_APPLICATION})
        self._listening.add(conn)
        try:
            if self._closed:  # closed before or while this connected
                return
            conn.add_termination_listener(lambda _conn: lost.set())
            await conn.add_listener(QUEUED_CHANNEL, heard)
            log.info("%s: listening for work other instances store", self._where)
            # What was notified while nobody listened (before the start, or while the
            # connection was down) is taken now rather than at the next poll.
            for direction in Direction:
                wake(direction)
            while not lost.is_set():
                try:
                    await asyncio.wait_for(lost.wait(), LISTEN_CHECK)
                except TimeoutError:
                    try:
                        await conn.fetchval("SELECT 1", timeout=LISTEN_CHECK)
                    except Exception:
                        return  # lost without a word: listen again
        finally:
            self._listening.discard(conn)
            with contextlib.suppress(Exception):  # lost already, most likely
                await conn.close(timeout=2)

    # -- leases ---------------------------------------------------------

    @_translated
    async def _hold_lease(self, name: str, holder: str, ttl: timedelta) -> bool:
        return await self._fetchrow(HOLD_LEASE, name, holder, ttl) is not None

    @_translated
    async def _release_lease(self, name: str, holder: str) -> bool:
        pool = await self._get_pool()
        status: str = await pool.execute(
            "DELETE FROM leases WHERE name = $1 AND holder = $2", name, holder)
        return status != "DELETE 0"

    @_translated
    async def _leases(self) -> list[Lease]:
        rows = await self._fetch("SELECT name, holder, expires_at FROM leases")
        return [Lease(row["name"], row["holder"], row["expires_at"]) for row in rows]

    @_translated
    async def _lease_note(self, name: str) -> str | None:
        row = await self._fetchrow("SELECT note FROM lease_notes WHERE name = $1", name)
        return None if row is None else str(row["note"])

    @_translated
    async def _leave_lease_note(self, name: str, holder: str, note: str) -> bool:
        return await self._fetchrow(LEAVE_LEASE_NOTE, name, holder, note) is not None

    # -- audit log ------------------------------------------------------

    @_translated
    async def append_audit(self, record: AuditRecord) -> AuditRecord:
        pool = await self._get_pool()
        seq = await pool.fetchval(
            "INSERT INTO audit_log (at, actor, action, subject, reason, detail) "
            "VALUES ($1, $2, $3, $4, $5, $6) RETURNING seq",
            record.at, record.actor, record.action, record.subject, record.reason,
            record.detail,
        )
        return attrs.evolve(record, seq=seq)

    @_translated
    async def _apply_audited(
        self, message_id: str, changes: list[Change], audit: AuditRecord, now: datetime | None
    ) -> MessageRecord:
        when = now or utc_now()
        self._claimed.pop(message_id, None)  # the row is about to change
        pool = await self._get_pool()
        async with pool.acquire() as conn, conn.transaction():
            # Whatever raises below (a refused change, a refused audit insert) rolls the
            # whole transaction back: the message changes only with its audit entry.
            for change in changes:
                row = await conn.fetchrow(
                    f"{SELECT_FULL_SEQ} WHERE m.id = $1 FOR UPDATE OF m", message_id)
                if row is None:
                    raise MessageNotFound(message_id)
                current = _record(row)
                plan = plan_change(change, current, row["last_event_seq"], when)
                if not plan.noop:
                    await self._write_plan(conn, current, plan)
            await conn.execute(
                "INSERT INTO audit_log (at, actor, action, subject, reason, detail) "
                "VALUES ($1, $2, $3, $4, $5, $6)",
                audit.at, audit.actor, audit.action, audit.subject, audit.reason, audit.detail,
            )
            return await self._load(conn, message_id)

    @_translated
    async def import_audit(self, records: Sequence[AuditRecord], *, source: str,
                           file: str) -> int:
        pool = await self._get_pool()
        async with pool.acquire() as conn, conn.transaction():
            # Held to the commit: another instance's import waits, then sees these lines.
            await conn.execute("SELECT pg_advisory_xact_lock($1)", AUDIT_IMPORT_LOCK)
            rows = await conn.fetch(
                "SELECT detail->>'line_sha256', detail->>'file', (detail->>'line')::bigint, "
                "at, actor, action, subject, reason FROM audit_log "
                "WHERE detail->>'source' = $1", source)
            todo = audit_lines_to_import(records, rows, file, lambda at: at)
            if todo:
                await conn.executemany(
                    "INSERT INTO audit_log (at, actor, action, subject, reason, detail) "
                    "VALUES ($1, $2, $3, $4, $5, $6)",
                    [(r.at, r.actor, r.action, r.subject, r.reason, r.detail) for r in todo])
            return len(todo)

    @_translated
    async def audit_log(self, limit: int = 100, before: int | None = None) -> list[AuditRecord]:
        check_limit(limit)
        rows = await self._fetch(
            "SELECT seq, at, actor, action, subject, reason, detail FROM audit_log "
            "WHERE seq < $2 ORDER BY seq DESC LIMIT $1",
            limit, before if before is not None else 2**62,
        )
        return [
            AuditRecord(seq=r["seq"], at=r["at"], actor=r["actor"], action=r["action"],
                        subject=r["subject"], reason=r["reason"], detail=r["detail"])
            for r in rows
        ]
