"""The store interface both backends implement, and the rules they share.

A backend provides storage primitives (insert, claim, apply a planned change,
read); the rules of what may change, and how, live here once: the transport
state machine, the claim guard, the retry budget, the event each change
writes. A backend applies a :class:`Plan` inside one transaction that has
first locked the message row, so the check and the write cannot be
interleaved with another worker's.
"""

from __future__ import annotations

import abc
import collections
import enum
import json
import re
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from types import TracebackType
from typing import Any, ClassVar, Self

import attrs

from gateway.kinds import Direction
from gateway.store.errors import ClaimLost, InvalidTransition, StoreError, TimelineMoved
from gateway.store.model import (
    CLAIMABLE_STATES,
    CLAIMED_STATE,
    INITIAL_STATES,
    TRANSITIONS,
    Attempt,
    AuditRecord,
    BilledLine,
    Event,
    Lease,
    MessageRecord,
    NewEvent,
    Page,
    TimecardLine,
    TransportState,
    as_utc,
    utc_now,
)

MAX_PAGE = 1000

# Columns a transition may set. Everything else is the store's own bookkeeping
# (states, claims, attempts, timestamps) or fixed at creation (id, direction).
UPDATABLE_FIELDS = frozenset({
    "business_key", "agency_oin", "document_kind", "format_key", "channel", "raw_payload",
    "canonical_json", "routing", "validation", "last_error", "transport_id",
    "next_attempt_at", "max_attempts", "status_followed",
})
PAYLOAD_FIELDS = frozenset({"raw_payload", "canonical_json"})
# Columns whose stored value reads back as the very value a plan wrote (strings,
# ids, UTC times), so the message after a change can be built without reading
# it again. JSON and payload columns are not among them: what is stored is their
# serialised form (a tuple comes back a list, a Decimal a string).
SETTLED_COLUMNS = frozenset({
    "transport_state", "business_state", "claimed_by", "claim_expires_at", "next_attempt_at",
    "last_error", "transport_id", "transport_ids", "updated_at", "last_event_seq",
    "status_followed",
})
# Columns the store keeps for itself, not on MessageRecord. ``status_followed``: whether
# the channel's poller still asks about a sent message (:meth:`Store.waiting_for_status`);
# a final status clears it, a send sets it. The timeline says the same to a person.
BOOKKEEPING_COLUMNS = frozenset({"last_event_seq", "status_followed"})


@attrs.frozen
class Change:
    """What a caller asked for, before the store has looked at the message."""

    event: NewEvent | None
    transport_state: TransportState | None = None
    business_state: str | None = None
    expect_claimed_by: str | None = None
    # The sequence number of the latest event the caller saw: the change applies only
    # if the timeline has not grown since (compare-and-set on the whole message).
    expect_last_event: int | None = None
    fields: Mapping[str, Any] = attrs.field(factory=dict)
    attempt: Attempt | None = None
    # When set and the message has used all its attempts, a move to
    # ``retrying`` becomes a dead letter with this event instead.
    exhausted_event: NewEvent | None = None
    # A move to the state the message is already in is a no-op, not an error.
    idempotent: bool = False
    # The attempt the message was claimed for does not count against its budget:
    # the gateway cut it off, the transport did not refuse it.
    give_back_attempt: bool = False


@attrs.frozen
class Plan:
    """What to write for a change: message and payload columns, one event, one attempt."""

    columns: dict[str, Any]
    payload: dict[str, Any]
    event: Event | None
    attempt: Attempt | None
    new_transport_ids: tuple[str, ...]
    channel: str

    @property
    def noop(self) -> bool:
        return not self.columns and self.event is None and self.attempt is None


NOOP = Plan({}, {}, None, None, (), "")


def text_safe(value: Any) -> Any:
    """``value`` with NUL characters replaced: PostgreSQL text and jsonb cannot hold them,
    SQLite can, and both backends must store the same things."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd") if "\x00" in value else value
    if isinstance(value, Mapping):
        return {text_safe(k): text_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [text_safe(v) for v in value]
    return value


def plan_change(
    change: Change, current: MessageRecord, last_seq: int, now: datetime
) -> Plan:
    """Check ``change`` against the message as it is now and say what to write.

    Raises ClaimLost, InvalidTransition or StoreError; the caller holds the
    row lock, so what is checked here is what gets written.
    """
    direction = current.direction
    if change.expect_claimed_by is not None and current.claimed_by != change.expect_claimed_by:
        raise ClaimLost(current.id, change.expect_claimed_by, current.claimed_by)
    if change.expect_last_event is not None and last_seq != change.expect_last_event:
        raise TimelineMoved(current.id, change.expect_last_event, last_seq)
    if change.attempt is not None and change.attempt.message_id != current.id:
        raise StoreError(
            f"attempt of message {change.attempt.message_id} recorded on message {current.id}"
        )
    target = change.transport_state
    if change.idempotent and target is current.transport_state:
        return NOOP
    event = change.event
    if event is not None:
        event = NewEvent(event.kind, text_safe(event.detail))
    fields = dict(change.fields)
    if fields.get("last_error"):
        fields["last_error"] = text_safe(fields["last_error"])
    unknown = set(fields) - UPDATABLE_FIELDS
    if unknown:
        raise StoreError(f"these fields cannot be set by a transition: {sorted(unknown)}")
    check_indexed(current.id, [
        *((name, fields[name]) for name in INDEXED_FIELDS if name in fields),
        ("business_state", change.business_state),
        ("transport_id", None if change.attempt is None else change.attempt.transport_id),
    ])
    if (
        change.exhausted_event is not None
        and target is TransportState.RETRYING
        and current.attempts >= current.max_attempts
    ):
        reason = exhausted_reason(current.attempts, current.max_attempts, fields.get("last_error"))
        target = TransportState.FAILED
        event = NewEvent(change.exhausted_event.kind,
                         {**change.exhausted_event.detail, "reason": reason})
        fields.pop("next_attempt_at", None)
        fields["last_error"] = reason

    columns: dict[str, Any] = {}
    if target is not None:
        if target is CLAIMED_STATE[direction]:
            raise InvalidTransition(current.id, current.transport_state, target,
                                    "only a claim puts a message in that state")
        allowed = TRANSITIONS[direction].get(current.transport_state, frozenset())
        if target not in allowed:
            raise InvalidTransition(current.id, current.transport_state, target)
        columns["transport_state"] = target.value
        if current.transport_state is CLAIMED_STATE[direction]:
            columns["claimed_by"] = None
            columns["claim_expires_at"] = None
        if change.give_back_attempt and current.transport_state is CLAIMED_STATE[direction]:
            # The budget grows rather than the count shrinks: attempt numbers stay in
            # order (the cut-off attempt may have reached the other side).
            fields["max_attempts"] = current.max_attempts + 1
        if target in CLAIMABLE_STATES[direction]:
            budget = int(fields.get("max_attempts", current.max_attempts))
            if current.attempts >= budget:
                # Claims do not look at the budget (that would cost an index), so
                # nothing enters the queue without an attempt left.
                raise InvalidTransition(
                    current.id, current.transport_state, target,
                    f"all {budget} attempts are used; raise max_attempts to try again",
                )
            columns["next_attempt_at"] = now
        else:
            columns["next_attempt_at"] = None
    if change.business_state is not None:
        if not change.business_state.strip():
            raise StoreError("a business state cannot be empty")
        columns["business_state"] = change.business_state

    payload = {name: fields.pop(name) for name in PAYLOAD_FIELDS & set(fields)}
    given: list[str] = []  # every id this change names, known before or not
    for candidate in (
        fields.get("transport_id"), None if change.attempt is None else change.attempt.transport_id
    ):
        if candidate and candidate not in given:
            given.append(candidate)
    new_ids = [tid for tid in given if tid not in current.transport_ids]
    if "next_attempt_at" in fields and fields["next_attempt_at"] is not None:
        fields["next_attempt_at"] = as_utc(fields["next_attempt_at"])
    if "max_attempts" in fields and int(fields["max_attempts"]) < 1:
        raise StoreError("max_attempts must be at least 1")
    if not isinstance(fields.get("status_followed", False), bool):
        raise StoreError(f"status_followed is true or false, got {fields['status_followed']!r}")
    columns.update(fields)
    if target is TransportState.SENT:
        # A send starts a new status story (a new kenmerk, or the old process asked
        # about again): whatever ended the asking about the previous one does not hold.
        columns["status_followed"] = True
    if new_ids:
        columns["transport_ids"] = (*current.transport_ids, *new_ids)
    if given and current.transport_id is None and "transport_id" not in columns:
        columns["transport_id"] = given[0]

    new_event = None
    if event is not None:
        new_event = Event(
            message_id=current.id, seq=last_seq + 1, at=now, kind=event.kind,
            transport_state=target, business_state=change.business_state,
            detail=dict(event.detail),
        )
        columns["last_event_seq"] = last_seq + 1
    if not columns and not payload and new_event is None and change.attempt is None:
        return NOOP
    columns["updated_at"] = now
    channel = fields.get("channel") or current.channel or ""
    attempt = change.attempt
    if attempt is not None:
        attempt = attrs.evolve(attempt, code=text_safe(attempt.code),
                               detail=text_safe(attempt.detail))
    # A message travelling under no id (a reroute cleared it) may be given one it had
    # under another channel (Peppol, the portal and e-mail derive theirs from the
    # message id): transport_refs is per channel, so the new channel's pair must be
    # written too, or its statuses find nothing. Otherwise only new ids are.
    refs = given if current.transport_id is None else new_ids
    return Plan(columns, payload, new_event, attempt, tuple(refs), channel)


def settled(current: MessageRecord, plan: Plan) -> MessageRecord | None:
    """The message as ``plan`` leaves it, or None when only reading it again can tell.

    ``current`` must carry its payloads: the result is what reading the message
    after the write would give.
    """
    if plan.payload or not SETTLED_COLUMNS.issuperset(plan.columns):
        return None
    changes = {name: value for name, value in plan.columns.items()
               if name not in BOOKKEEPING_COLUMNS}
    return attrs.evolve(current, **changes)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal | enum.Enum):
        return str(value.value) if isinstance(value, enum.Enum) else str(value)
    raise StoreError(f"cannot store a {type(value).__name__} as JSON: {value!r}")


# One encoder for every call: json.dumps with options builds a new one each time.
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=_json_default)


def to_json(value: Any) -> str:
    """JSON for the store: times as ISO 8601, decimals and enums as their text."""
    return _ENCODER.encode(value)


def initial_events(record: MessageRecord, events: Sequence[NewEvent]) -> list[Event]:
    """The first events of a new message; the first one carries its initial states."""
    return [
        Event(
            message_id=record.id, seq=seq, at=record.created_at, kind=note.kind,
            transport_state=record.transport_state if seq == 1 else None,
            # The same NUL replacement plan_change gives every later event: a channel's
            # file name or metadata may carry one, and PostgreSQL jsonb would refuse the
            # whole insert (the received bytes with it).
            business_state=None, detail=text_safe(dict(note.detail)),
        )
        for seq, note in enumerate(events, start=1)
    ]


# Text columns in an index, with their names for a person. PostgreSQL refuses an index
# entry above a third of a page (2704 bytes; less for a wider index), SQLite does not: a
# bound well under that makes both refuse the same values, with a message that says why.
INDEXED_FIELDS = {
    "business_key": "business key", "transport_id": "transport id", "agency_oin": "agency OIN",
    "channel": "channel", "business_state": "business state", "timecard_id": "timecard id",
}
MAX_INDEXED_BYTES = 1000
# Above every character a key can hold: a prefix's keys lie in [prefix, prefix + PREFIX_END).
PREFIX_END = "\U0010ffff"
# overdue_outbound() counts no further: past it, how many more wait changes nothing to do.
OVERDUE_CAP = 1000


# One scan in C rather than a loop over characters: it runs on every transition.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def storable(text: str) -> bool:
    """Whether both backends keep ``text``: PostgreSQL takes no NUL, no encoder a lone
    surrogate."""
    return _UNSTORABLE.search(text) is None


def check_limit(limit: int) -> None:
    """Refuse a negative limit: SQLite reads one as "no limit", PostgreSQL refuses it
    without naming the argument."""
    if limit < 0:
        raise StoreError(f"limit must be 0 or more, got {limit}")


def check_indexed(message_id: str, values: Iterable[tuple[str, Any]]) -> None:
    """Refuse a value of an indexed text column longer than MAX_INDEXED_BYTES in UTF-8.

    ``values`` are (column name, value) pairs; a column may come more than once.
    """
    for name, value in values:
        if not isinstance(value, str):
            continue
        if not storable(value):
            # PostgreSQL text takes no NUL and no encoder a lone surrogate; SQLite would
            # keep a NUL, and then find by a key the other backend never stores.
            raise StoreError(f"message {message_id}: its {INDEXED_FIELDS[name]} holds a NUL "
                             "character or a lone surrogate, which cannot be stored")
        if len(value) * 4 <= MAX_INDEXED_BYTES:
            continue  # four bytes per character at most: short text needs no encoding
        size = len(value.encode("utf-8"))
        if size > MAX_INDEXED_BYTES:
            raise StoreError(
                f"message {message_id}: its {INDEXED_FIELDS[name]} is {size} bytes; "
                f"at most {MAX_INDEXED_BYTES} can be stored")


def check_new(record: MessageRecord, direction: Direction) -> None:
    if record.direction is not direction:
        raise StoreError(f"message {record.id} is {record.direction}, expected {direction}")
    check_indexed(record.id, [
        ("business_key", record.business_key), ("transport_id", record.transport_id),
        ("agency_oin", record.agency_oin), ("channel", record.channel),
        ("business_state", record.business_state),
        *(("transport_id", tid) for tid in record.transport_ids),
    ])
    if record.transport_state not in INITIAL_STATES[direction]:
        allowed = ", ".join(sorted(INITIAL_STATES[direction]))
        raise InvalidTransition(record.id, "(new)", record.transport_state,
                                f"a new {direction} message starts in {allowed}")
    if record.claimed_by is not None or record.attempts:
        raise StoreError(f"a new message cannot be claimed or attempted ({record.id})")
    if record.max_attempts < 1:
        raise StoreError("max_attempts must be at least 1")
    if direction is Direction.INBOUND and record.raw_payload is None:
        raise StoreError("an inbound message is stored with its raw bytes")
    if (direction is Direction.INBOUND and record.transport_id is not None
            and not record.transport_id.strip()):
        # The backends' duplicate lookups disagree on "" (SQLite ignores it, PostgreSQL
        # matches it) while the unique index counts it: refused before either is asked.
        # MessageRecord.new_inbound makes a blank id None.
        raise StoreError(f"message {record.id}: a blank transport id; give None for no id")


def audit_lines_to_import(
    records: Sequence[AuditRecord], rows: Iterable[Sequence[Any]], file: str,
    stored_at: Callable[[datetime], Any],
) -> list[AuditRecord]:
    """Those of ``records`` (audit file lines) that the audit log does not hold yet.

    ``rows`` are the log's imported records as (line_sha256, file, line, at,
    actor, action, subject, reason), ``at`` as the backend stores it
    (``stored_at`` turns a record's time into that form).
    """
    rows = list(rows)
    # By sha256, not line number: a rotated or truncated file starts at line 1 again.
    # Counted: the same bytes twice (one switch recorded twice within a clock tick, a
    # line an operator copied) are two records, so the n-th line with a sha256 is new
    # while the log holds fewer than n with it. ``records`` must hold every line of the
    # file with such a sha256, the ones already copied too, in the file's order.
    known = collections.Counter(row[0] for row in rows if row[0] is not None)
    # Copied before lines carried their sha256: known by file and line number, and by
    # when, who, what and why, which a line of a later, rotated file does not share.
    older = {tuple(row[2:]) for row in rows if row[0] is None and row[1] == file}
    seen: collections.Counter[str] = collections.Counter()
    todo: list[AuditRecord] = []
    for record in records:
        if (record.detail["line"], stored_at(record.at), record.actor, record.action,
                record.subject, record.reason) in older:
            continue
        digest = record.detail["line_sha256"]
        seen[digest] += 1
        if seen[digest] > known[digest]:
            todo.append(record)
    return todo


def claim_event(record: MessageRecord, worker_id: str, previous_owner: str | None) -> NewEvent:
    detail: dict[str, Any] = {"worker": worker_id, "attempt": record.attempts}
    if record.claim_expires_at is not None:
        detail["lease_until"] = record.claim_expires_at.isoformat()
    if previous_owner is not None:
        detail["taken_over_from"] = previous_owner
    kind = "send-attempt" if record.direction is Direction.OUTBOUND else "deliver"
    return NewEvent(kind, detail)


def lease_expired_note(previous_owner: str, attempt: int, expired_at: datetime) -> str:
    return (f"{previous_owner} did not finish attempt {attempt} before its claim expired "
            f"at {expired_at.isoformat()}")


def _check_lease(name: str, holder: str | None = None) -> None:
    if not name.strip():
        raise StoreError("a lease needs a name")
    if holder is not None and not holder.strip():
        raise StoreError(f"lease {name!r}: a holder needs an id")


MAX_LEASE_NOTE = 1000
"""Characters of a lease's note: what one holder tells the next (a moment, a position),
not a place to keep data."""


def _check_lease_note(name: str, note: str) -> None:
    if not isinstance(note, str):
        raise StoreError(f"lease {name!r}: a note is text, got {type(note).__name__}")
    if not note.strip():
        raise StoreError(f"lease {name!r}: a note needs text (there is no empty note)")
    if "\x00" in note:
        # PostgreSQL text cannot hold it; refused on SQLite too, so both act alike.
        raise StoreError(f"lease {name!r}: a note cannot hold a NUL character")
    if len(note) > MAX_LEASE_NOTE:
        raise StoreError(f"lease {name!r}: a note is at most {MAX_LEASE_NOTE} characters, "
                         f"got {len(note)}")


def exhausted_reason(attempts: int, max_attempts: int, last_error: str | None) -> str:
    reason = f"gave up after {attempts} of {max_attempts} attempts"
    return f"{reason}: {last_error}" if last_error else reason


class Store(abc.ABC):
    """Messages, their timelines and attempts, and the configuration audit log.

    Every method is safe to call from many tasks at once, and from several
    processes sharing one database. Call :meth:`migrate` once at start.
    """

    backend: ClassVar[str]

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # -- lifecycle -------------------------------------------------------

    @abc.abstractmethod
    async def migrate(self) -> int:
        """Apply the migrations this database lacks, in one transaction; return the version.

        Idempotent. Raises SchemaError when the database is newer than this
        code or an applied migration differs from the one shipped.
        """

    @abc.abstractmethod
    async def close(self) -> None:
        """Release connections and threads. Idempotent."""

    # -- creating messages ----------------------------------------------

    async def add_outbound(
        self, record: MessageRecord, events: Sequence[NewEvent] = (), *,
        timecard_lines: Sequence[TimecardLine] = (),
    ) -> tuple[MessageRecord, bool]:
        """Store a new outbound message, idempotent by business key.

        If a live outbound message with ``record.business_key`` exists, that
        message is returned with ``created`` False and nothing is written:
        also when two gateway instances add the same key at the same moment.
        ``timecard_lines``: an invoice's lines naming a timecard, written with
        the message or not at all (:meth:`billed_on_timecard` reads them).
        """
        check_new(record, Direction.OUTBOUND)
        if timecard_lines:
            if not record.agency_oin or record.transport_state is TransportState.REJECTED:
                raise StoreError(f"message {record.id}: only an invoice stored for an agency, "
                                 "and not rejected, bills hours on a timecard")
            check_indexed(record.id, [("timecard_id", line.timecard_id)
                                      for line in timecard_lines])
            if len({line.line for line in timecard_lines}) != len(timecard_lines):
                raise StoreError(f"message {record.id}: a line is given twice")
            timecard_lines = [attrs.evolve(
                line, invoice_number=text_safe(line.invoice_number),
                order_line=text_safe(line.order_line), unit_code=text_safe(line.unit_code))
                for line in timecard_lines]
        if record.transport_state not in CLAIMABLE_STATES[Direction.OUTBOUND]:
            record = attrs.evolve(record, next_attempt_at=None)
        elif record.next_attempt_at is None:
            record = attrs.evolve(record, next_attempt_at=record.created_at)
        return await self._insert(record, initial_events(record, events), list(timecard_lines))

    async def add_inbound_raw(
        self, record: MessageRecord, events: Sequence[NewEvent] = ()
    ) -> tuple[MessageRecord, bool]:
        """Store received bytes before anything else, deduplicated by (channel, transport id).

        A document the same channel delivered before under the same
        transport id returns the stored message with ``created`` False. The
        caller may acknowledge to the sender once this returned.
        """
        check_new(record, Direction.INBOUND)
        return await self._insert(record, initial_events(record, events), ())

    # -- reading --------------------------------------------------------

    @abc.abstractmethod
    async def get(self, message_id: str) -> MessageRecord | None: ...

    @abc.abstractmethod
    async def find_by_business_key(
        self, direction: Direction, business_key: str
    ) -> MessageRecord | None:
        """The live message with this key (not rejected, not a duplicate), if any."""

    @abc.abstractmethod
    async def find_by_business_key_prefix(
        self, direction: Direction, prefix: str, limit: int = MAX_PAGE,
    ) -> list[MessageRecord]:
        """Up to ``limit`` live messages whose key starts with ``prefix``, oldest first.

        The versions of one document stored under keys of their own: a corrected
        timecard's key is the original's with a mark and a digest added.
        """

    @abc.abstractmethod
    async def has_live_key(
        self, direction: Direction, keys: Sequence[str], prefixes: Sequence[str] = (),
    ) -> bool:
        """Whether a live message has one of ``keys``, or a key starting with a ``prefix``.

        One indexed look-up that reads no message: intake asks it of every invoice
        naming an order (was the order received?), so it must cost next to nothing.
        """

    @abc.abstractmethod
    async def billed_on_timecard(
        self, agency_oin: str, timecard_id: str, *, besides: str | None = None,
    ) -> list[BilledLine]:
        """The lines of stored outbound invoices and credit notes billing on the timecard
        ``timecard_id`` of ``agency_oin``, oldest message first, lines in their order.

        Only of messages whose hours stand: not in NOT_BILLED_TRANSPORT_STATES nor
        NOT_BILLED_BUSINESS_STATES (see gateway/store/model.py). ``besides``: not
        the message with this business key, the one being submitted again.
        """

    @abc.abstractmethod
    async def find_by_transport_id(
        self, channel: str, transport_id: str, direction: Direction | None = None
    ) -> MessageRecord | None:
        """The message a channel knows by ``transport_id`` (any id it ever gave)."""

    @abc.abstractmethod
    async def waiting_for_status(
        self, channel: str, business_state: str, limit: int, after: str | None = None,
    ) -> list[MessageRecord]:
        """Up to ``limit`` sent messages of ``channel`` in ``business_state``, oldest first.

        Not those whose latest send got a final status (a transition with
        ``status_followed=False``): nobody asks about them any more. With
        ``after``, only messages whose id sorts after it (ids sort by
        creation): the next page of a poller going round them all. Without
        their payloads: a channel's status poller needs only their ids.
        """

    @abc.abstractmethod
    async def events(self, message_id: str) -> list[Event]:
        """The timeline of a message, oldest first."""

    @abc.abstractmethod
    async def attempts(self, message_id: str) -> list[Attempt]:
        """Send or delivery attempts, by number."""

    async def list_messages(
        self,
        *,
        direction: Direction | None = None,
        transport_state: TransportState | str | None = None,
        business_state: str | None = None,
        agency_oin: str | None = None,
        business_key: str | None = None,
        number: str | None = None,
        kind: str | None = None,
        channel: str | None = None,
        created_from: datetime | None = None,
        created_to: datetime | None = None,
        limit: int = 50,
        cursor: str | None = None,
        oldest_first: bool = False,
    ) -> Page:
        """Messages matching every given filter, newest first, ``limit`` (<= 1000) at a time.

        ``number`` is the document's own number in its business key, in either
        direction: the ``number`` column (migrations ``*_message_number.sql`` say
        how it is taken from the key), indexed with the id.
        ``created_from`` is inclusive, ``created_to`` exclusive. Keyset
        pagination: pages stay stable while new messages arrive. ``oldest_first``
        turns the order round, for a reader that works through them as they came.
        """
        if not 1 <= limit <= MAX_PAGE:
            raise StoreError(f"limit must be between 1 and {MAX_PAGE}, got {limit}")
        filters: dict[str, Any] = {
            "direction": None if direction is None else Direction(direction).value,
            "transport_state": (
                None if transport_state is None else TransportState(transport_state).value
            ),
            "business_state": business_state, "agency_oin": agency_oin,
            "business_key": business_key, "document_kind": kind, "channel": channel,
        }
        rows = await self._list(
            {k: v for k, v in filters.items() if v is not None},
            None if created_from is None else as_utc(created_from),
            None if created_to is None else as_utc(created_to),
            limit + 1, cursor, oldest_first, number,
        )
        items = tuple(rows[:limit])
        return Page(items, items[-1].id if len(rows) > limit else None)

    @abc.abstractmethod
    async def count_by_state(self) -> dict[str, dict[str, int]]:
        """``{direction: {transport state: count}}`` over all messages."""

    async def count_waiting_by_channel(self, channels: Collection[str]) -> dict[str, int]:
        """``{channel: count}`` of the outbound messages of ``channels`` waiting to be claimed.

        Waiting: queued or retrying, due now or later; what :meth:`claim_due`
        takes once due. Channels with none waiting are left out. For the
        channels an instance has configured but not running, whose messages
        its claims skip. One query, over the claims' partial index: it reads
        the backlog, not every message ever sent.
        """
        if not channels:
            return {}
        return await self._count_waiting(sorted(set(channels)))

    async def overdue_outbound(
        self, due_before: datetime, *, skip_channels: Collection[str] = (),
        cap: int = OVERDUE_CAP,
    ) -> tuple[int, datetime | None]:
        """Outbound messages due since before ``due_before`` that nobody has claimed.

        Returns how many (counted up to ``cap``: more reads as ``cap``) and when
        the oldest of them fell due. Messages of ``skip_channels`` (channels
        this instance knows to be idle, counted apart) are left out. Read over
        the claims' partial index, oldest first, never more than ``cap`` rows.
        """
        return await self._overdue(due_before, sorted(set(skip_channels)), cap)

    # -- working on messages --------------------------------------------

    async def claim_due(
        self, worker_id: str, limit: int, lease: timedelta, now: datetime | None = None,
        *, skip_channels: Collection[str] = (),
    ) -> list[MessageRecord]:
        """Claim up to ``limit`` outbound messages that are due, for ``lease``.

        Due: queued or retrying with ``next_attempt_at <= now``, or sending
        under a claim whose lease expired (its worker died). Each claim moves
        the message to ``sending``, counts an attempt and writes an event. A
        message whose attempts are all used is dead-lettered instead. Two
        workers, in one process or several, never get the same message.
        ``skip_channels``: not messages routed to these, channels the claiming
        instance has configured but not running; they wait for an instance that
        runs theirs.
        """
        return await self._claim(Direction.OUTBOUND, worker_id, limit, lease, now,
                                 skip_channels)

    async def claim_deliverable(
        self, worker_id: str, limit: int, lease: timedelta, now: datetime | None = None
    ) -> list[MessageRecord]:
        """Like :meth:`claim_due` for inbound messages to deliver to the ERP (decoded/retrying)."""
        return await self._claim(Direction.INBOUND, worker_id, limit, lease, now, ())

    async def _claim(
        self, direction: Direction, worker_id: str, limit: int, lease: timedelta,
        now: datetime | None, skip_channels: Collection[str],
    ) -> list[MessageRecord]:
        if limit < 1:
            raise StoreError("limit must be at least 1")
        if lease <= timedelta(0):
            raise StoreError("a lease must be positive")
        if not worker_id:
            raise StoreError("a worker needs an id")
        return await self._claim_rows(
            direction, worker_id, limit, lease, utc_now() if now is None else as_utc(now),
            sorted(set(skip_channels)),
        )

    async def extend_claim(
        self, message_id: str, worker_id: str, lease: timedelta, now: datetime | None = None
    ) -> MessageRecord:
        """Push the lease of a claim ``worker_id`` holds to ``now + lease`` (slow transports)."""
        now = utc_now() if now is None else as_utc(now)
        return await self._extend(message_id, worker_id, now + lease, now)

    async def expire_claims(self, prefix: str, now: datetime | None = None) -> int:
        """Let every claim of a worker whose id starts with ``prefix`` expire at ``now``.

        For a process that knows the holders of those claims are gone: a
        gateway restarted on its data directory after ``kill -9`` takes its
        claims over at once, not a lease later (see
        :class:`gateway.pipeline.turns.HolderName`). The messages are then
        taken over as any expired claim is, by the next claim, with the attempt
        counted and the previous owner named on the timeline. Returns how
        many claims expired; an empty prefix (every claim) is refused.
        """
        if not isinstance(prefix, str) or not prefix.strip():
            raise StoreError("expiring claims needs the prefix of their workers' ids")
        return await self._expire_claims(prefix, utc_now() if now is None else as_utc(now))

    async def transition(
        self,
        message_id: str,
        *,
        event: NewEvent | str,
        transport_state: TransportState | None = None,
        business_state: str | None = None,
        expect_claimed_by: str | None = None,
        expect_last_event: int | None = None,
        attempt: Attempt | None = None,
        now: datetime | None = None,
        **fields: Any,
    ) -> MessageRecord:
        """Change states and fields of a message and append ``event`` to its timeline.

        ``expect_claimed_by``: apply only while that worker holds the claim,
        else raise ClaimLost (its lease expired and another worker took over).
        ``expect_last_event``: apply only while the latest event on the message's
        timeline is the one with this sequence number (the ``seq`` of the last of
        :meth:`events` when the caller decided), else raise TimelineMoved: for a
        decision read from the timeline that another instance may be taking at
        the same moment. A transport state outside the state machine raises
        InvalidTransition.
        ``attempt``, if given, is recorded in the same transaction.
        ``status_followed=False`` takes a sent message off :meth:`waiting_for_status`
        (the status desk, for a final status); entering ``sent`` puts it back.
        """
        note = NewEvent(event) if isinstance(event, str) else event
        change = Change(
            event=note, transport_state=transport_state, business_state=business_state,
            expect_claimed_by=expect_claimed_by, expect_last_event=expect_last_event,
            fields=fields, attempt=attempt,
        )
        return await self._apply(message_id, change, now)

    async def record_attempt(
        self, attempt: Attempt, *, expect_claimed_by: str | None = None,
        now: datetime | None = None,
    ) -> MessageRecord:
        """Record an attempt (and any transport id it produced) without changing states."""
        change = Change(event=None, expect_claimed_by=expect_claimed_by, attempt=attempt)
        return await self._apply(attempt.message_id, change, now)

    async def schedule_retry(
        self,
        message_id: str,
        next_attempt_at: datetime,
        error: str,
        *,
        expect_claimed_by: str | None = None,
        attempt: Attempt | None = None,
        now: datetime | None = None,
    ) -> MessageRecord:
        """Move to ``retrying`` until ``next_attempt_at``; dead-letter if no attempts are left.

        Check the returned record's transport state: ``failed`` means the
        budget was spent and the message now waits for an operator.
        """
        retry = NewEvent("retry-scheduled", {
            "error": error, "next_attempt_at": as_utc(next_attempt_at).isoformat(),
        })
        change = Change(
            event=retry, transport_state=TransportState.RETRYING,
            expect_claimed_by=expect_claimed_by, attempt=attempt,
            fields={"next_attempt_at": next_attempt_at, "last_error": error},
            exhausted_event=NewEvent("dead-lettered", {"exhausted": True}),
        )
        return await self._apply(message_id, change, now)

    async def release(
        self, message_id: str, reason: str, *, expect_claimed_by: str,
        attempt: Attempt | None = None, now: datetime | None = None,
    ) -> MessageRecord:
        """Give a claimed message back, due at once, its attempt not counted against the budget.

        For a gateway that stops while it holds the claim: the attempt was
        cut off by us, not refused by the transport, so a restart must not
        spend the message's budget (on its last attempt it would be
        dead-lettered). ``max_attempts`` grows by one, so attempt numbers
        stay in order. ``attempt`` (outcome ``interrupted``) is recorded with
        it when the transport had the message: it may have received it.
        """
        when = now or utc_now()
        change = Change(
            event=NewEvent("released", {"reason": reason}),
            transport_state=TransportState.RETRYING, expect_claimed_by=expect_claimed_by,
            fields={"next_attempt_at": when, "last_error": reason}, give_back_attempt=True,
            attempt=attempt,
        )
        return await self._apply(message_id, change, when)

    async def dead_letter(
        self,
        message_id: str,
        reason: str,
        *,
        expect_claimed_by: str | None = None,
        attempt: Attempt | None = None,
        now: datetime | None = None,
    ) -> MessageRecord:
        """Move to ``failed``, the dead letter, with the reason for the operator."""
        change = Change(
            event=NewEvent("dead-lettered", {"reason": reason}),
            transport_state=TransportState.FAILED, expect_claimed_by=expect_claimed_by,
            attempt=attempt, fields={"last_error": reason},
        )
        return await self._apply(message_id, change, now)

    async def acknowledge(
        self, message_id: str, *, detail: Mapping[str, Any] | None = None,
        now: datetime | None = None,
    ) -> MessageRecord:
        """The ERP confirmed an inbound message. Acknowledging twice is harmless."""
        change = Change(
            event=NewEvent("acknowledged", dict(detail or {})),
            transport_state=TransportState.ACKNOWLEDGED, idempotent=True,
        )
        return await self._apply(message_id, change, now)

    async def change_audited(
        self, message_id: str, changes: Sequence[Change], audit: AuditRecord, *,
        now: datetime | None = None,
    ) -> MessageRecord:
        """Apply ``changes`` one after the other and append ``audit``, in one transaction.

        For an operator's action: the message changes and the audit log says who
        changed it and why, or neither happens (an audit entry the database
        refuses leaves the message as it was). Each change is checked, as
        :meth:`transition` checks one, against the message as the change before
        it left it, under the row lock; the first failing one raises and nothing
        is written. Text in the audit entry has NUL characters replaced, as
        events have: PostgreSQL cannot store them.
        """
        if not changes:
            raise StoreError("an audited change needs at least one change")
        safe = attrs.evolve(
            audit, actor=text_safe(audit.actor), action=text_safe(audit.action),
            subject=text_safe(audit.subject), reason=text_safe(audit.reason),
            detail=text_safe(dict(audit.detail)),
        )
        return await self._apply_audited(message_id, list(changes), safe, now)

    # -- wake-ups across instances --------------------------------------

    @abc.abstractmethod
    async def notify_queued(self, directions: Collection[Direction]) -> None:
        """Tell the other instances on the database that work of ``directions`` waits.

        A hint, never the only way work is found: an instance that misses it
        (not listening, its connection lost) claims the work at its next poll.
        Call it after the work is committed, and only for work this instance's
        own workers will not see (an intake instance's); one call may stand for
        many messages, so a caller sending one per message pays a statement per
        message for nothing. On SQLite it does nothing: the other processes on
        the file find the work by polling.
        """

    @abc.abstractmethod
    async def listen_queued(self, wake: Callable[[Direction], None]) -> None:
        """Call ``wake`` with the direction of every :meth:`notify_queued`, until cancelled.

        For an instance whose workers should start at once on work another
        instance stored. Errors do not end it: it listens again after a lost
        connection, and meanwhile the workers' polling finds the work. After
        each (re)start of listening it wakes both directions, for what was
        notified while nobody listened. On SQLite it returns at once: there
        is nothing to listen to, and cross-process wake-ups stay on polling.
        """

    # -- leases ---------------------------------------------------------

    async def hold_lease(self, name: str, holder: str, ttl: timedelta) -> bool:
        """Take or renew the lease ``name`` for ``holder`` until ``ttl`` from now; whether held.

        Taken when nobody holds it, when its holder let it expire, or renewed
        when ``holder`` holds it already; otherwise False and nothing changes.
        One atomic statement, so of instances asking at the same moment one
        gets it. Expiry is by the database's clock (PostgreSQL), or by the one
        machine's whose processes share a SQLite file: the instances' own
        clocks need not agree. For turns at work every instance on the
        database would otherwise do at once (a channel's status polling).
        """
        _check_lease(name, holder)
        if ttl <= timedelta(0):
            raise StoreError(f"lease {name!r}: the time to live must be positive, got {ttl}")
        return await self._hold_lease(name, holder, ttl)

    async def release_lease(self, name: str, holder: str) -> bool:
        """Give up the lease ``name`` if ``holder`` holds it (expired or not); whether it did.

        Another instance may take it at once, instead of after its expiry.
        """
        _check_lease(name, holder)
        return await self._release_lease(name, holder)

    async def leases(self, prefix: str = "") -> list[Lease]:
        """The leases whose name starts with ``prefix``, by name: for an operator to see who
        holds which turn. One that ran out is listed until another holder takes it."""
        # Sorted here: PostgreSQL's collation may order names otherwise than SQLite.
        leases = [lease for lease in await self._leases() if lease.name.startswith(prefix)]
        return sorted(leases, key=lambda lease: lease.name)

    async def lease_note(self, name: str) -> str | None:
        """The note the holders of the lease ``name`` left (:meth:`leave_lease_note`), if any.

        Notes are kept apart from the leases: a release or expiry leaves the
        note for the next holder, who may never have seen the one before.
        """
        _check_lease(name)
        return await self._lease_note(name)

    async def leave_lease_note(self, name: str, holder: str, note: str) -> bool:
        """Replace the note of the lease ``name`` with ``note`` if ``holder`` holds the lease
        now (not expired); whether it did.

        Holding and writing are checked in one statement: a holder whose lease
        another took meanwhile cannot move the note after the new holder's.
        """
        _check_lease(name, holder)
        _check_lease_note(name, note)
        return await self._leave_lease_note(name, holder, note)

    # -- audit log ------------------------------------------------------

    @abc.abstractmethod
    async def append_audit(self, record: AuditRecord) -> AuditRecord:
        """Append a configuration change; returns it with its sequence number."""

    @abc.abstractmethod
    async def import_audit(self, records: Sequence[AuditRecord], *, source: str,
                           file: str) -> int:
        """Append those of ``records`` (lines of ``file``) that are not in the log yet.

        Each record's detail holds ``source``, ``file``, its ``line`` there,
        counted from 1, and ``line_sha256``, the sha256 of the line: the
        n-th line with a sha256 is in the log if n records of ``source`` have
        it (identical lines are as many records), so a rotated or truncated
        file is copied from its first line on; give every line of a sha256
        that has a new one, in the file's order. (Records copied
        before lines carried a sha256 are matched by file, line and all their
        columns but detail.) The log is read and the new records appended in one
        transaction that excludes every other import: gateway instances
        following one file copy each of its lines once. Returns how many
        were appended.
        """

    @abc.abstractmethod
    async def audit_log(self, limit: int = 100, before: int | None = None) -> list[AuditRecord]:
        """The latest ``limit`` audit records (those older than seq ``before``), newest first."""

    # -- what a backend provides ----------------------------------------

    @abc.abstractmethod
    async def _insert(
        self, record: MessageRecord, events: list[Event],
        timecard_lines: Sequence[TimecardLine] = (),
    ) -> tuple[MessageRecord, bool]:
        """Insert unless a live message with the same business key (or, inbound, the same
        channel and transport id) exists; return that one then. ``timecard_lines`` are
        written with the message only."""

    @abc.abstractmethod
    async def _apply(
        self, message_id: str, change: Change, now: datetime | None
    ) -> MessageRecord:
        """Lock the row, :func:`plan_change`, write the plan, return the updated message."""

    @abc.abstractmethod
    async def _apply_audited(
        self, message_id: str, changes: list[Change], audit: AuditRecord, now: datetime | None
    ) -> MessageRecord:
        """:meth:`_apply` for each of ``changes`` and the audit insert, in one transaction."""

    @abc.abstractmethod
    async def _claim_rows(
        self, direction: Direction, worker_id: str, limit: int, lease: timedelta,
        now: datetime, skip_channels: list[str],
    ) -> list[MessageRecord]:
        """Claim as :meth:`claim_due` says; none routed to ``skip_channels``."""

    @abc.abstractmethod
    async def _count_waiting(self, channels: list[str]) -> dict[str, int]:
        """:meth:`count_waiting_by_channel` for one or more channels."""

    @abc.abstractmethod
    async def _overdue(self, due_before: datetime, skip_channels: list[str],
                       cap: int) -> tuple[int, datetime | None]:
        """:meth:`overdue_outbound` in one statement."""

    @abc.abstractmethod
    async def _extend(
        self, message_id: str, worker_id: str, until: datetime, now: datetime
    ) -> MessageRecord: ...

    @abc.abstractmethod
    async def _expire_claims(self, prefix: str, now: datetime) -> int:
        """:meth:`expire_claims` in one statement: leases later than ``now`` end at ``now``."""

    @abc.abstractmethod
    async def _list(
        self, equal: dict[str, Any], created_from: datetime | None,
        created_to: datetime | None, limit: int, cursor: str | None, oldest_first: bool,
        number: str | None = None,
    ) -> list[MessageRecord]: ...

    @abc.abstractmethod
    async def _hold_lease(self, name: str, holder: str, ttl: timedelta) -> bool:
        """:meth:`hold_lease` in one statement, times by the database's clock."""

    @abc.abstractmethod
    async def _release_lease(self, name: str, holder: str) -> bool: ...

    @abc.abstractmethod
    async def _leases(self) -> list[Lease]:
        """Every lease (a handful: one per channel and purpose)."""

    @abc.abstractmethod
    async def _lease_note(self, name: str) -> str | None: ...

    @abc.abstractmethod
    async def _leave_lease_note(self, name: str, holder: str, note: str) -> bool:
        """:meth:`leave_lease_note` in one statement, expiry by the database's clock."""
