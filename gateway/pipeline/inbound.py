"""Inbound: the sink every channel hands received documents to.

The raw bytes are stored before anything looks at them, so a channel may
acknowledge to its sender as soon as the sink returned, and a document the
gateway cannot read is kept (``rejected``) for an operator rather than lost.
Then: detect the format, decode, and deduplicate twice: by (channel,
transport id), the same delivery repeated, and by business key (agency,
kind, number), the same document delivered again under another transport
id, which is marked ``duplicate`` and points at the first. A ``decoded``
message waits for delivery to the ERP.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import attrs

from gateway.business.proposals import received_state
from gateway.channels import InboundDocument
from gateway.errors import GatewayError
from gateway.formats import Decoded
from gateway.instruments import TRACEPARENT, current_traceparent, stage
from gateway.kinds import Direction, DocumentKind
from gateway.model import TimeCard, kind_of
from gateway.model.common import Attachment
from gateway.model.json import dumps, loads, record_from_json, record_to_json
from gateway.pipeline.errors import DocumentTooLarge
from gateway.pipeline.keys import (
    CORRECTION,
    STATUS,
    agency_party,
    inbound_key,
    key_number,
    party_oin,
)
from gateway.pipeline.references import timecard_records
from gateway.registry import Registry
from gateway.store import (
    DuplicateBusinessKey,
    InvalidTransition,
    MessageRecord,
    NewEvent,
    Store,
    TransportState,
)
from gateway.store.model import DEFAULT_MAX_ATTEMPTS, utc_now

log = logging.getLogger(__name__)

ATTACHMENTS = "attachments"
"""The ``received`` event's entry for the files a channel carried beside the document."""

MAX_INBOUND_BYTES = 50 * 1024 * 1024
STUCK_AFTER = timedelta(minutes=1)
"""A message ``received`` this long is no longer being processed by the call that stored it."""
RECOVER_EVERY = 60.0
UNKNOWN_AGENCY_WINDOW = timedelta(hours=24)
"""How long /health names an OIN outside the directory after its last document."""
UNKNOWN_AGENCY_CAP = 100
"""OINs outside the directory tracked at once: the OIN is the sender's text, unchecked."""


@attrs.define
class UnknownAgency:
    documents: int
    first: datetime
    last: datetime


class UnknownAgencies:
    """Documents decoded lately that name an agency the directory does not have, per OIN.

    Kept in memory, so that /health, polled often, costs no query: an OIN is
    named until a window has passed since its last document, or until the
    directory has it. Per instance, and from its start.
    """

    def __init__(self) -> None:
        self._seen: dict[str, UnknownAgency] = {}

    def note(self, oin: str, at: datetime) -> None:
        self._forget_before(at - UNKNOWN_AGENCY_WINDOW)
        seen = self._seen.get(oin)
        if seen is not None:
            seen.documents += 1
            seen.last = at
            return
        if len(self._seen) >= UNKNOWN_AGENCY_CAP:
            del self._seen[min(self._seen, key=lambda each: self._seen[each].last)]
        self._seen[oin] = UnknownAgency(documents=1, first=at, last=at)

    def lately(self, known: Callable[[str], bool]) -> dict[str, UnknownAgency]:
        """Per OIN still not in the directory, its documents within the window."""
        self._forget_before(utc_now() - UNKNOWN_AGENCY_WINDOW)
        return {oin: seen for oin, seen in sorted(self._seen.items()) if not known(oin)}

    def _forget_before(self, cut: datetime) -> None:
        for oin in [oin for oin, seen in self._seen.items() if seen.last < cut]:
            del self._seen[oin]


class InboundPipeline:
    def __init__(
        self, store: Store, registry: Registry, *, max_bytes: int = MAX_INBOUND_BYTES,
        max_attempts: int | Callable[[], int] = DEFAULT_MAX_ATTEMPTS,
        on_decoded: Callable[[MessageRecord], None] | None = None,
        agency_known: Callable[[str], bool] | None = None,
    ) -> None:
        self.store = store
        self.registry = registry
        self.max_bytes = max_bytes
        # The budget of delivery attempts to the ERP ([erp] max_attempts), asked for
        # each document when a callable, so a reloaded configuration applies at once.
        self.max_attempts = max_attempts
        # Lets the delivery worker start at once instead of at its next poll.
        self.on_decoded = on_decoded
        # Whether the agency directory has an OIN, asked for each document so that a
        # reloaded directory applies at once; None takes every OIN as known.
        self.agency_known = agency_known
        self.unknown_agencies = UnknownAgencies()

    async def receive(self, document: InboundDocument) -> str:
        """Persist, then process; returns the message id. Refuses only oversized input.

        A repeat of a delivery returns the first message's id. A delivery
        that was stored but not processed (the gateway stopped in between) is
        processed now.
        """
        if len(document.data) > self.max_bytes:
            raise DocumentTooLarge(
                f"{len(document.data)} bytes from channel {document.channel}; the limit is "
                f"{self.max_bytes}")
        received: dict[str, Any] = {"bytes": len(document.data)}
        for name in ("sender", "filename"):
            if getattr(document, name):
                received[name] = getattr(document, name)
        if document.metadata:
            received["metadata"] = dict(document.metadata)
        if document.attachments:
            # Kept with the raw bytes in one write: the channel acknowledges them too.
            received[ATTACHMENTS] = [record_to_json(each) for each in document.attachments]
        record = MessageRecord.new_inbound(
            channel=document.channel, raw_payload=document.data,
            transport_id=document.transport_id,
            max_attempts=self.max_attempts() if callable(self.max_attempts) else self.max_attempts)
        stored, created = await self.store.add_inbound_raw(
            record, [NewEvent("received", received)])
        if not created:
            if stored.raw_payload is None:  # read back without its bytes: compare with them
                stored = await self.store.get(stored.id) or stored
            if stored.raw_payload is not None and stored.raw_payload != document.data:
                return await self._conflicting(document, stored, record, received)
            log.info("inbound delivery repeated", extra={
                "message_id": stored.id, "channel": document.channel})
            if stored.transport_state is not TransportState.RECEIVED:
                return stored.id
        try:
            await self.process(stored)
        except InvalidTransition:
            # Another delivery of the same bytes (a repeat, or the first one when this
            # is the repeat) processed them meanwhile: stored and processed either way.
            current = await self.store.get(stored.id)
            if current is None or current.transport_state is TransportState.RECEIVED:
                raise
        return stored.id

    async def _conflicting(
        self, document: InboundDocument, first: MessageRecord, record: MessageRecord,
        received: dict[str, Any],
    ) -> str:
        """Keep bytes that came under a transport id the channel gave other bytes before.

        Not a repeat (answering with the first message's id would drop these
        bytes after the channel acknowledged them) and not silently a new
        document either: the sender reused an id, or something replayed it. They
        are stored under the id plus their digest, so a repeat of this very
        delivery is still one message, and rejected for an operator, whose retry
        reads them as a document of their own.
        """
        digest = hashlib.sha256(document.data).hexdigest()[:16]
        other = attrs.evolve(record, transport_id=f"{document.transport_id}#bytes:{digest}",
                             transport_ids=(f"{document.transport_id}#bytes:{digest}",))
        log.warning("transport id delivered again with other bytes", extra={
            "message_id": first.id, "channel": document.channel})
        stored, _ = await self.store.add_inbound_raw(other, [NewEvent("received", {
            **received, "transport_id": document.transport_id, "conflicts_with": first.id})])
        if stored.transport_state is TransportState.RECEIVED:
            # A repeat of this delivery may reject it meanwhile: rejected either way.
            with contextlib.suppress(InvalidTransition):
                await self._reject(
                    stored, "receive",
                    f"channel {document.channel} delivered transport id "
                    f"{document.transport_id!r} before with other bytes (message {first.id}); "
                    "kept for an operator: a retry reads this one as a document of its own")
        return stored.id

    async def recover(self, older_than: timedelta = STUCK_AFTER) -> int:
        """Process the messages left ``received`` for longer than ``older_than``; how many.

        Their bytes were stored but the gateway stopped before processing
        them, or processing failed on the store. A channel that acknowledged
        already (or a folder file moved away) never hands them over again, so
        without this they would wait unseen. A message another instance or a
        repeat delivery processes meanwhile is left to it.
        """
        before = utc_now() - older_than
        done = 0
        cursor = None
        while True:
            page = await self.store.list_messages(
                direction=Direction.INBOUND, transport_state=TransportState.RECEIVED,
                created_to=before, limit=100, cursor=cursor)
            for listed in page.items:
                record = await self.store.get(listed.id)  # with its payload
                if record is None or record.transport_state is not TransportState.RECEIVED:
                    continue
                log.info("processing a message left received", extra={"message_id": record.id})
                try:
                    await self.process(record)
                except InvalidTransition:
                    pass  # processed meanwhile
                except GatewayError as exc:  # this one fails again: the others still get a turn
                    log.warning("a message left received still cannot be processed: %s", exc,
                                extra={"message_id": record.id})
                    continue
                done += 1
            if page.next_cursor is None:
                return done
            cursor = page.next_cursor

    async def process(self, record: MessageRecord) -> MessageRecord:
        """Detect, decode and deduplicate a ``received`` message."""
        with stage("decode", channel=record.channel) as decoding:
            decoding.note(message_id=record.id)
            result = await self._process(record)
            decoding.set(kind=result.document_kind, format=result.format_key)
            # The buyer OIN an inbound document states is the sender's text, unchecked and
            # not from the directory: on the span only, never a metric label.
            decoding.note(agency_oin=result.agency_oin)
            decoding.outcome = result.transport_state.value
            return result

    async def _process(self, record: MessageRecord) -> MessageRecord:
        data = record.raw_payload or b""
        try:
            detected = await asyncio.to_thread(self.registry.detect, data)
            fmt = detected.format
        except Exception as exc:  # hostile or unknown input is normal input: reject, keep
            return await self._reject(record, "detect", _describe(exc))
        try:
            decoded = await asyncio.to_thread(fmt.decode, data)
            if not isinstance(decoded, Decoded):  # a plugin bug: say so, not an AttributeError
                raise GatewayError(
                    f"decode gave {type(decoded).__name__}, not a gateway.formats.Decoded: "
                    f"a bug in its plugin ({self.registry.owner('format', fmt.key)})")
            document = decoded.document
            warnings = list(decoded.warnings)
            carried = await self._carried_attachments(record)
            if carried and hasattr(document, "attachments"):
                document = attrs.evolve(document, attachments=(*document.attachments, *carried))
            elif carried:
                warnings.append(f"{len(carried)} file(s) came beside the document, which has no "
                                "place for attachments; they are kept on its 'received' event")
            kind = kind_of(document)
            number = key_number(document)
            agency_oin = party_oin(agency_party(document))
            canonical = dumps(document, indent=None)
        except Exception as exc:
            return await self._reject(record, "decode", f"{fmt.key}: {_describe(exc)}")
        if agency_oin is None:
            return await self._reject(
                record, "decode",
                f"{fmt.key}: the {kind.value} names no OIN for its buyer; cannot tell which "
                "agency sent it")
        if "\x00" in number:
            # No PostgreSQL text column holds NUL: refused here, where it is named, not by a
            # failed write that would leave the message ``received`` for good.
            return await self._reject(
                record, "decode", f"{fmt.key}: the {kind.value} number {number!r} holds a NUL "
                "character")
        key = inbound_key(agency_oin, kind, number)
        fields: dict[str, Any] = {
            "document_kind": kind.value, "format_key": fmt.key, "agency_oin": agency_oin,
            "canonical_json": canonical, "business_key": key,
        }
        detail: dict[str, Any] = {"format": fmt.key, "kind": kind.value, "warnings": warnings}
        traceparent = current_traceparent()
        if traceparent is not None:  # the delivery to the ERP links back to this decode
            detail[TRACEPARENT] = traceparent
        original = await self.store.find_by_business_key(Direction.INBOUND, key)
        if (isinstance(document, TimeCard) and document.corrects is None
                and original is not None and original.id != record.id):
            key, original = await self._timecard_turn(agency_oin, document, canonical,
                                                      original)
            fields["business_key"] = key
        unknown = (original is None or original.id == record.id) and not self._known(agency_oin)
        if unknown:
            # Taken all the same: the document is real, only the directory lacks its sender.
            warnings.append(f"the agency with OIN {agency_oin} is not in the agency directory; "
                            "add it, so that answers to it can be routed")
        if original is None or original.id == record.id:
            try:
                decoded_record = await self.store.transition(
                    record.id, event=NewEvent("decoded", detail),
                    transport_state=TransportState.DECODED,
                    business_state=received_state(document), **fields)
            except DuplicateBusinessKey:
                # Another delivery of the same document got there a moment earlier.
                original = await self.store.find_by_business_key(Direction.INBOUND, key)
                if original is None:
                    raise
            else:
                if unknown:
                    self.unknown_agencies.note(agency_oin, utc_now())
                    log.warning("inbound document from an agency not in the directory", extra={
                        "message_id": record.id, "agency_oin": agency_oin})
                if self.on_decoded is not None:
                    self.on_decoded(decoded_record)
                return decoded_record
        detail["original"] = original.id
        if not _same_content(canonical, original.canonical_json):
            # Held back all the same (the key says it is that document), but an operator
            # must be able to tell a changed version the ERP has not seen from a repeat.
            detail["differs"] = True
            warnings.append(f"the content differs from that of {original.id}, the first "
                            "document under this number; it is not delivered to the ERP")
            log.warning("inbound duplicate differs from its original", extra={
                "message_id": record.id, "original": original.id})
        else:
            log.info("inbound document is a duplicate", extra={
                "message_id": record.id, "original": original.id})
        return await self.store.transition(
            record.id, event=NewEvent("duplicate", detail),
            transport_state=TransportState.DUPLICATE, **fields)

    async def _timecard_turn(
        self, agency_oin: str, card: TimeCard, canonical: str, matched: MessageRecord,
    ) -> tuple[str, MessageRecord | None]:
        """The key of a timecard sent again unmarked, and the stored version it repeats.

        Its key (the id, or the id with its status) matches ``matched``, an
        earlier version. It repeats the timecard as it stands if it has that
        status (the latest of the versions sent unmarked: the first one, its
        withdrawals and approvals given again), or ``matched`` if it is that
        very document (one sent again late); otherwise it is a turn of its own:
        an approval given again after a withdrawal, or withdrawn again after
        that, which would else pass for a repeat of the first approval or
        withdrawal and never reach the ERP or the intake check of invoices. A
        turn's key is numbered by the versions before it, so the same turn
        delivered again finds it as the timecard that stands, and is one document.
        """
        root = inbound_key(agency_oin, DocumentKind.TIMECARD, card.id)
        versions = await timecard_records(self.store, agency_oin, card.id)
        unmarked = [found for found in versions
                    if not (found.business_key or "").startswith(f"{root}:{CORRECTION}:")]
        standing = unmarked[-1] if unmarked else matched
        stood = loads(standing.canonical_json) if standing.canonical_json else None
        if not isinstance(stood, TimeCard) or stood.status is card.status:
            return standing.business_key or root, standing
        if _same_content(canonical, matched.canonical_json):
            return matched.business_key or root, matched
        return f"{root}:{STATUS}:{card.status.value}:{len(versions) + 1}", None

    def _known(self, agency_oin: str) -> bool:
        return self.agency_known is None or self.agency_known(agency_oin)

    async def _carried_attachments(self, record: MessageRecord) -> tuple[Attachment, ...]:
        """The files the channel handed over beside the document, as stored on receipt."""
        for event in await self.store.events(record.id):
            if event.kind == "received":
                return tuple(
                    record_from_json(Attachment, each, f"{ATTACHMENTS}[{index}]")
                    for index, each in enumerate(event.detail.get(ATTACHMENTS, ())))
        return ()

    async def _reject(self, record: MessageRecord, stage: str, reason: str) -> MessageRecord:
        log.warning("inbound document rejected at %s: %s", stage, reason,
                    extra={"message_id": record.id, "stage": stage, "channel": record.channel})
        return await self.store.transition(
            record.id, event=NewEvent("rejected", {"stage": stage, "reason": reason}),
            transport_state=TransportState.REJECTED, last_error=f"{stage}: {reason}")


async def keep_recovering(pipeline: InboundPipeline, interval: float = RECOVER_EVERY) -> None:
    """:meth:`InboundPipeline.recover` at start and every ``interval`` seconds, until cancelled."""
    while True:
        try:
            await pipeline.recover()
        except GatewayError as exc:  # the store is down: next time
            log.warning("messages left received could not be processed now: %s", exc)
        await asyncio.sleep(interval)


def _same_content(canonical: str, original: str | None) -> bool:
    """Whether two canonical JSON texts hold the same document (compared parsed: a
    database may give the text back formatted otherwise)."""
    if original is None:
        return True  # nothing to compare with: no claim that it differs
    try:
        return bool(json.loads(canonical) == json.loads(original))
    except ValueError:
        return canonical == original


def _describe(exc: Exception) -> str:
    if isinstance(exc, GatewayError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"
