"""What the store holds: messages, their event timeline, send attempts, the audit log.

Transport state and business state
----------------------------------

A message has two independent states. The *transport state* is the
gateway's own progress in moving the bytes; the gateway drives it and the
store enforces its transitions. The *business state* is what the other party
said about the document (accepted, rejected, paid, ...); it arrives in
whatever order agencies send it, so the store records it without judging the
order. Every change of either is an :class:`Event`, so each has its own
history in the timeline.

Outbound (supplier -> agency)::

    (intake) --> queued --claim--> sending --accepted--> sent --non-delivery--> failed
       |          |  ^                |  |                                       |
       |          |  |                |  +--retryable--> retrying --claim--> sending
       |          |  |                |                     |
       |          |  |                +--final/exhausted--> failed (dead letter)
       |          |  +----operator retry / reroute-------- failed, retrying, cancelled
       |          +--operator cancel--> cancelled <-- retrying, failed
       +--> rejected (our own checks refused it at intake; terminal)

    queued    -> sending*, cancelled
    sending   -> sent, retrying, failed, sending* (another worker, after the lease expired)
    retrying  -> sending*, queued, cancelled, failed
    sent      -> failed      (the transport reported non-delivery after accepting)
    failed    -> queued, cancelled
    cancelled -> queued
    rejected  -> (none)

Inbound (agency -> supplier)::

    (raw bytes persisted) --> received --> decoded --claim--> delivering --2xx--> delivered
                                 |  |         |                 |  |                  |
                                 |  |         |                 |  +--> retrying      |
                                 |  |         |                 +--> failed           |
                                 |  |         +--ERP fetched and acknowledged--> acknowledged
                                 |  +--> duplicate (same business document already here)
                                 +--> rejected (not detectable or not decodable)

    received     -> decoded, rejected, duplicate
    decoded      -> delivering*, acknowledged
    delivering   -> delivered, retrying, failed, acknowledged, delivering*
    retrying     -> delivering*, decoded, acknowledged, failed
    delivered    -> acknowledged
    failed       -> decoded, acknowledged
    rejected     -> received   (re-detect, e.g. after a format plugin was installed)
    duplicate, acknowledged -> (none)

``*`` marks the transitions only the claim methods make: a worker enters
``sending``/``delivering`` by claiming a due message, never by a plain
transition, so two workers cannot both believe they own a message. A claim
counts an attempt; leaving a claimed state clears the claim. Entering
``queued``, ``retrying`` or ``decoded`` makes the message due (at
``next_attempt_at``, default now) and needs an attempt left: a retry with
none left becomes ``failed``, an operator re-queue must raise
``max_attempts``. A claim whose lease expired is taken over by the next
claimer, or dead-lettered if its attempts are used up.

``failed`` is the dead letter in both directions: a final error, the attempt
budget spent, or a worker that kept dying while holding the message. It waits
for an operator and is never retried by itself. ``rejected`` is the verdict of
the gateway's own checks and is kept with the raw bytes; a rejection by the
other party is a *business* state.
"""

from __future__ import annotations

import enum
import os
import threading
import time
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import attrs

from gateway.channels import Accepted, FinalError, RetryableError, SendOutcome
from gateway.kinds import Direction

DEFAULT_MAX_ATTEMPTS = 8


class TransportState(enum.StrEnum):
    """How far the gateway got with moving the bytes (see the module docstring)."""

    # outbound
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    CANCELLED = "cancelled"
    # inbound
    RECEIVED = "received"
    DECODED = "decoded"
    DELIVERING = "delivering"
    DELIVERED = "delivered"
    ACKNOWLEDGED = "acknowledged"
    DUPLICATE = "duplicate"
    # both
    RETRYING = "retrying"
    FAILED = "failed"
    REJECTED = "rejected"


class BusinessState(enum.StrEnum):
    """Known business states. The field is a plain string: a channel may report others.

    The Peppol invoice response codes map onto the middle group (AB, IP, UQ,
    CA, RE, AP, PD); Digipoort reports delivery to the agency.
    """

    NONE = "none"
    DELIVERED_TO_AGENCY = "delivered-to-agency"
    ACKNOWLEDGED = "acknowledged"
    IN_PROCESS = "in-process"
    UNDER_QUERY = "under-query"
    CONDITIONALLY_ACCEPTED = "conditionally-accepted"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    PAID = "paid"


S = TransportState

TRANSITIONS: Mapping[Direction, Mapping[TransportState, frozenset[TransportState]]] = {
    Direction.OUTBOUND: {
        S.QUEUED: frozenset({S.SENDING, S.CANCELLED}),
        S.SENDING: frozenset({S.SENT, S.RETRYING, S.FAILED, S.SENDING}),
        S.RETRYING: frozenset({S.SENDING, S.QUEUED, S.CANCELLED, S.FAILED}),
        S.SENT: frozenset({S.FAILED}),
        S.FAILED: frozenset({S.QUEUED, S.CANCELLED}),
        S.CANCELLED: frozenset({S.QUEUED}),
        S.REJECTED: frozenset(),
    },
    Direction.INBOUND: {
        S.RECEIVED: frozenset({S.DECODED, S.REJECTED, S.DUPLICATE}),
        S.DECODED: frozenset({S.DELIVERING, S.ACKNOWLEDGED}),
        S.DELIVERING: frozenset(
            {S.DELIVERED, S.RETRYING, S.FAILED, S.ACKNOWLEDGED, S.DELIVERING}
        ),
        S.RETRYING: frozenset({S.DELIVERING, S.DECODED, S.ACKNOWLEDGED, S.FAILED}),
        S.DELIVERED: frozenset({S.ACKNOWLEDGED}),
        S.FAILED: frozenset({S.DECODED, S.ACKNOWLEDGED}),
        S.REJECTED: frozenset({S.RECEIVED}),
        S.DUPLICATE: frozenset(),
        S.ACKNOWLEDGED: frozenset(),
    },
}

INITIAL_STATES: Mapping[Direction, frozenset[TransportState]] = {
    Direction.OUTBOUND: frozenset({S.QUEUED, S.REJECTED}),
    Direction.INBOUND: frozenset({S.RECEIVED}),
}

# The state a claim puts a message in, and the states from which it can be claimed.
CLAIMED_STATE: Mapping[Direction, TransportState] = {
    Direction.OUTBOUND: S.SENDING,
    Direction.INBOUND: S.DELIVERING,
}
CLAIMABLE_STATES: Mapping[Direction, tuple[TransportState, ...]] = {
    Direction.OUTBOUND: (S.QUEUED, S.RETRYING),
    Direction.INBOUND: (S.DECODED, S.RETRYING),
}

# Not part of the unique business key: a document our checks refused may be
# corrected and submitted again under the same number, and an inbound repeat
# is kept next to the original it repeats.
NOT_LIVE_STATES: frozenset[TransportState] = frozenset({S.REJECTED, S.DUPLICATE})


def predecessors(direction: Direction, state: TransportState) -> frozenset[TransportState]:
    """The states from which ``state`` may be entered by a transition."""
    return frozenset(
        source for source, targets in TRANSITIONS[direction].items() if state in targets
    )


def utc_now() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """``value`` in UTC; a naive datetime is refused because its zone is a guess."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"datetime {value.isoformat()} has no time zone; the store needs UTC")
    return value.astimezone(UTC)


_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_id_lock = threading.Lock()
_last_id: tuple[int, int] = (0, 0)


def new_message_id() -> str:
    """A 26-character ULID: 48 bits of milliseconds, 80 random bits, Crockford base32.

    Sortable ids rather than uuid4: new rows land at the right edge of the
    primary-key b-tree instead of on a random page (fewer pages touched and,
    on PostgreSQL, less WAL), and id order is creation order, so listing
    newest-first and keyset pagination need the id alone. Within one process
    ids are strictly increasing, also within the same millisecond.
    """
    global _last_id
    with _id_lock:
        millis = time.time_ns() // 1_000_000
        last_millis, last_random = _last_id
        if millis <= last_millis:
            millis, random_part = last_millis, last_random + 1
            if random_part >= 1 << 80:  # 2**80 ids in one millisecond: wait for the next
                millis, random_part = last_millis + 1, int.from_bytes(os.urandom(10))
        else:
            random_part = int.from_bytes(os.urandom(10))
        _last_id = (millis, random_part)
    value = (millis << 80) | random_part
    return "".join(_CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))


def _strings(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(value)


def _aware(value: datetime | None) -> datetime | None:
    return None if value is None else as_utc(value)


def _aware_required(value: datetime) -> datetime:
    return as_utc(value)


@attrs.frozen
class MessageRecord:
    """One document in either direction, as stored.

    ``raw_payload`` is the document on the wire: for inbound the bytes as
    received (stored before anything else happens), for outbound the encoded
    document as handed to the channel (fixed once encoded, so every retry
    sends identical bytes). ``canonical_json`` is the canonical model: for
    outbound the JSON the ERP submitted, kept verbatim also when a check
    refuses it; for inbound the decoded document.

    ``transport_id`` is the id the message travels under, stable across
    retries; ``transport_ids`` is every id a transport ever gave for it.
    """

    id: str
    direction: Direction = attrs.field(converter=Direction)
    document_kind: str | None
    transport_state: TransportState = attrs.field(converter=TransportState)
    created_at: datetime = attrs.field(converter=_aware_required)
    updated_at: datetime = attrs.field(converter=_aware_required)
    business_state: str = BusinessState.NONE.value
    business_key: str | None = None
    agency_oin: str | None = None
    format_key: str | None = None
    channel: str | None = None
    raw_payload: bytes | None = None
    canonical_json: str | None = None
    attempts: int = 0
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    next_attempt_at: datetime | None = attrs.field(default=None, converter=_aware)
    transport_id: str | None = None
    transport_ids: tuple[str, ...] = attrs.field(default=(), converter=_strings)
    routing: dict[str, Any] | None = None
    validation: dict[str, Any] | None = None
    last_error: str | None = None
    claimed_by: str | None = None
    claim_expires_at: datetime | None = attrs.field(default=None, converter=_aware)

    @classmethod
    def new_outbound(
        cls,
        *,
        document_kind: str,
        business_key: str | None,
        agency_oin: str | None = None,
        canonical_json: str | None = None,
        raw_payload: bytes | None = None,
        format_key: str | None = None,
        channel: str | None = None,
        routing: dict[str, Any] | None = None,
        validation: dict[str, Any] | None = None,
        transport_state: TransportState = TransportState.QUEUED,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        next_attempt_at: datetime | None = None,
        last_error: str | None = None,
        now: datetime | None = None,
    ) -> MessageRecord:
        """A fresh outbound message with a new id, due now unless told otherwise."""
        now = as_utc(now) if now is not None else utc_now()
        due = (next_attempt_at or now) if transport_state is TransportState.QUEUED else None
        return cls(
            id=new_message_id(), direction=Direction.OUTBOUND, document_kind=document_kind,
            transport_state=transport_state, created_at=now, updated_at=now,
            business_key=business_key, agency_oin=agency_oin, canonical_json=canonical_json,
            raw_payload=raw_payload, format_key=format_key, channel=channel, routing=routing,
            validation=validation, max_attempts=max_attempts, next_attempt_at=due,
            last_error=last_error,
        )

    @classmethod
    def new_inbound(
        cls,
        *,
        channel: str,
        raw_payload: bytes,
        transport_id: str | None,
        agency_oin: str | None = None,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        now: datetime | None = None,
    ) -> MessageRecord:
        """Raw bytes just received: kind, format and business key come after detection.

        A blank ``transport_id`` (an empty ``<kenmerk/>``, a channel's "" for "no id")
        is no id: taken as one, every later blank delivery of the channel would be
        deduplicated against the first, a different document answered with its id.
        """
        now = as_utc(now) if now is not None else utc_now()
        if transport_id is not None and not transport_id.strip():
            transport_id = None
        return cls(
            id=new_message_id(), direction=Direction.INBOUND, document_kind=None,
            transport_state=TransportState.RECEIVED, created_at=now, updated_at=now,
            channel=channel, raw_payload=raw_payload, transport_id=transport_id,
            transport_ids=() if transport_id is None else (transport_id,),
            agency_oin=agency_oin, max_attempts=max_attempts,
        )


@attrs.frozen
class TimecardLine:
    """A line of an outbound invoice that names a timecard, kept with the invoice.

    So that the intake of a later invoice can count the hours billed on that
    timecard before. ``line`` is the line's position in the invoice (from 0);
    ``hours`` is its quantity, negative on a credit note, which takes them back.
    Whether the line is hours at all (not a meal) is for the reader to judge,
    against the timecard as it stands then: hence the unit.
    """

    line: int
    timecard_id: str
    invoice_number: str
    order_line: str | None
    unit_code: str
    hours: Decimal


@attrs.frozen
class BilledLine:
    """A :class:`TimecardLine` of a stored invoice, with the message that holds it."""

    message_id: str
    document_kind: str
    line: TimecardLine


# The outbound messages whose hours an agency will not pay: refused at intake, stopped
# by an operator (a retry puts it back), or refused by the agency itself. A dead
# letter still counts: an operator may retry it, and the agency then gets it.
NOT_BILLED_TRANSPORT_STATES: frozenset[TransportState] = frozenset({
    TransportState.REJECTED, TransportState.CANCELLED})
NOT_BILLED_BUSINESS_STATES: frozenset[BusinessState] = frozenset({BusinessState.REJECTED})


@attrs.frozen
class NewEvent:
    """What a caller says about a change; the store adds the message, sequence, time and states."""

    kind: str
    detail: Mapping[str, Any] = attrs.field(factory=dict)


@attrs.frozen
class Event:
    """One entry of a message's timeline.

    ``transport_state`` / ``business_state`` are the states the message
    entered with this event, None where the event left that state alone.
    """

    message_id: str
    seq: int
    at: datetime = attrs.field(converter=_aware_required)
    kind: str
    transport_state: TransportState | None
    business_state: str | None
    detail: dict[str, Any]


class AttemptOutcome(enum.StrEnum):
    ACCEPTED = "accepted"
    RETRYABLE = "retryable"
    FINAL = "final"
    # The gateway stopped while the transport had the message: it may have received it.
    # Not the transport's answer, and not counted against the message's budget.
    INTERRUPTED = "interrupted"


@attrs.frozen
class Attempt:
    """One try to send (outbound) or deliver (inbound) a message, numbered from 1."""

    message_id: str
    number: int
    started_at: datetime = attrs.field(converter=_aware_required)
    finished_at: datetime = attrs.field(converter=_aware_required)
    outcome: AttemptOutcome = attrs.field(converter=AttemptOutcome)
    code: str | None = None
    detail: str = ""
    transport_id: str | None = None

    @classmethod
    def from_outcome(
        cls,
        message_id: str,
        number: int,
        outcome: SendOutcome,
        *,
        started_at: datetime,
        finished_at: datetime,
    ) -> Attempt:
        """The attempt a channel's classified answer describes."""
        match outcome:
            case Accepted():
                return cls(message_id, number, started_at, finished_at,
                           AttemptOutcome.ACCEPTED, None, outcome.detail, outcome.transport_id)
            case RetryableError():
                return cls(message_id, number, started_at, finished_at,
                           AttemptOutcome.RETRYABLE, outcome.code, outcome.reason,
                           outcome.transport_id)
            case FinalError():
                return cls(message_id, number, started_at, finished_at,
                           AttemptOutcome.FINAL, outcome.code, outcome.reason,
                           outcome.transport_id)


@attrs.frozen
class AuditRecord:
    """One configuration change: who, when, what, why. ``seq`` is given by the store."""

    actor: str
    action: str
    at: datetime = attrs.field(factory=utc_now, converter=_aware_required)
    subject: str | None = None
    reason: str | None = None
    detail: dict[str, Any] = attrs.field(factory=dict)
    seq: int | None = None

    @classmethod
    def from_mapping(cls, record: Mapping[str, Any]) -> AuditRecord:
        """An entry of the JSON Lines audit file (gateway.config.audit) as a store record."""
        rest = dict(record)
        at = rest.pop("time", None)
        return cls(
            actor=str(rest.pop("actor", "unknown")), action=str(rest.pop("action", "unknown")),
            at=utc_now() if at is None else datetime.fromisoformat(str(at)),
            subject=rest.pop("subject", None), reason=rest.pop("reason", None), detail=rest,
        )


@attrs.frozen
class Lease:
    """Who holds the lease ``name`` and until when (by the database's clock).

    A lease stays in the table after it ran out, until another holder takes it.
    """

    name: str
    holder: str
    expires_at: datetime


@attrs.frozen
class Page:
    """One page of a listing, newest first; pass ``next_cursor`` to get the next one."""

    items: tuple[MessageRecord, ...]
    next_cursor: str | None
