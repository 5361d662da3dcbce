"""Outbound intake: from the ERP's canonical JSON to a queued, encoded, validated message.

``submit`` returns only after the message is in the store, so whatever the
ERP is told has survived a crash. A document that fails a check is stored
too, as ``rejected`` with the reason and the JSON exactly as the ERP sent it
(a terminal state, outside the business-key uniqueness, so a corrected
document may reuse the number), and then :class:`DocumentRejected` is
raised. Nothing is stored half-way: either a complete queued message or a
complete rejected one.

A repeat (the business key of a live message) is found where the message
would be stored: the store returns the live message instead of adding one,
inside its write transaction. A repeat whose content would now be refused
is looked up before its rejection is stored, and is that message too. A
repeat is the same document again; another document under a stored number
raises :class:`NumberTaken` and stores nothing (see :func:`same_document`). So
the common case, a new document, costs no look-up of its own. Only the key of
a document this intake stored lately (an ERP that missed our answer sends
again) is looked up first, so that its repeat is answered without being
encoded and validated again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import weakref
from collections.abc import AsyncIterator, Callable, Mapping
from types import TracebackType
from typing import Any, NoReturn

import attrs
from opentelemetry import trace

from gateway.business.errors import ProposalNotSendable
from gateway.business.proposals import ensure_not_proposal
from gateway.config.model import DispatchTable, GatewayConfig
from gateway.errors import GatewayError
from gateway.formats import AnsweredUnknown, EncodeContext, Format
from gateway.identifiers import OIN, InvalidIdentifier
from gateway.instruments import TRACEPARENT, Stage, current_traceparent
from gateway.kinds import Direction, DocumentKind
from gateway.model import CanonicalDocument, Invoice, kind_of
from gateway.model.json import CanonicalJSONError, from_json, loads
from gateway.pipeline.context import answered_reference, configured_context
from gateway.pipeline.errors import DocumentRejected, DocumentTooLarge, NumberTaken
from gateway.pipeline.keys import (
    document_number,
    key_number,
    number_field,
    outbound_key,
    stated_oins,
)
from gateway.pipeline.references import check_references, timecard_lines
from gateway.pipeline.validating import DocumentValidator, validate_payload
from gateway.registry import Registry
from gateway.routing import RouteDecision, RoutingError, route
from gateway.store import MessageRecord, NewEvent, Store, TransportState
from gateway.store.base import MAX_INDEXED_BYTES
from gateway.store.model import DEFAULT_MAX_ATTEMPTS
from gateway.validation.report import ValidationReport

log = logging.getLogger(__name__)


def _intake_event(size: int) -> NewEvent:
    """The first event; it keeps the intake's trace so the send can link back to it."""
    detail: dict[str, Any] = {"bytes": size}
    traceparent = current_traceparent()
    if traceparent is not None:
        detail[TRACEPARENT] = traceparent
    return NewEvent("intake", detail)


class _Repeat(Exception):
    """The document repeats a live message: intake ends with that message, untouched."""

    def __init__(self, existing: MessageRecord) -> None:
        super().__init__(existing.id)
        self.existing = existing


class _OutboundStage(Stage):
    """A pipeline stage whose DocumentRejected is the outcome ``rejected``, not an error.

    A repeat found on the way is the outcome ``repeat``, and no error either; another
    document under a stored number is the outcome ``number-taken``.
    """

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> bool | None:
        if exc_type is not None and issubclass(exc_type, _Repeat):
            self.outcome = "repeat"
            super().__exit__(None, None, None)
            return None
        if exc_type is not None and issubclass(exc_type, DocumentRejected):
            self.outcome = "rejected"
        if exc_type is not None and issubclass(exc_type, NumberTaken):
            self.outcome = "number-taken"
        return super().__exit__(exc_type, exc, traceback)


def _stage(name: str, **attributes: Any) -> Stage:
    return _OutboundStage(name, {k: v for k, v in attributes.items() if v is not None})


MAX_DOCUMENT_BYTES = 20 * 1024 * 1024
# Up to this size (of the submitted JSON) a document is encoded on the event loop, in
# about a millisecond at most: under the GIL a thread would add no parallelism, only
# the cost of handing the work over and back.
INLINE_ENCODE_CHARS = 16 * 1024
UNKNOWN_KIND = "unknown"


@attrs.frozen
class OutboundSettings:
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    max_document_bytes: int = MAX_DOCUMENT_BYTES

    @classmethod
    def from_table(cls, table: DispatchTable) -> OutboundSettings:
        return cls(max_attempts=table.max_attempts)


@attrs.define
class _Progress:
    """What intake learnt so far: a rejection stores all of it, whatever step refused."""

    text: str | None
    raw: bytes | None
    kind: str
    agency_oin: str
    events: list[NewEvent] = attrs.field(factory=list)
    document: CanonicalDocument | None = None
    business_key: str | None = None
    decision: RouteDecision | None = None
    payload: bytes | None = None
    report: ValidationReport | None = None
    problem: str | None = None


RECENT_KEYS = 10_000
"""Business keys of the last this many stored submissions, whose repeats are looked up first.

About a megabyte. Intake looks up no other key before it encodes and
validates: a first submission is by far the common case, and the store finds
a repeat where it would store the message anyway."""


class _RecentKeys:
    """The business keys intake stored last, oldest forgotten first."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._keys: dict[str, None] = {}

    def __contains__(self, key: object) -> bool:
        return key in self._keys

    def add(self, key: str | None) -> None:
        if key is None:
            return
        self._keys.pop(key, None)
        self._keys[key] = None
        if len(self._keys) > self.size:
            del self._keys[next(iter(self._keys))]


async def _encode(fmt: Format, document: CanonicalDocument, context: EncodeContext,
                  size: int) -> bytes:
    if size <= INLINE_ENCODE_CHARS:
        return fmt.encode(document, context)
    # A large document keeps the event loop free for the other requests meanwhile.
    return await asyncio.to_thread(fmt.encode, document, context)


class OutboundPipeline:
    """Intake, canonical checks, business key, route, encode, validate, persist."""

    def __init__(
        self,
        store: Store,
        config: Callable[[], GatewayConfig],
        registry: Registry,
        validator: DocumentValidator,
        settings: OutboundSettings | None = None,
        *,
        on_queued: Callable[[MessageRecord], None] | None = None,
    ) -> None:
        self.store = store
        self.config = config
        self.registry = registry
        self.validator = validator
        self.settings = settings or OutboundSettings()
        # Lets the dispatcher start at once instead of at its next poll.
        self.on_queued = on_queued
        self._recent = _RecentKeys(RECENT_KEYS)
        # One turn per agency and timecard: an invoice on a timecard is checked against
        # what the invoices stored before billed on it and stored before the next one
        # on that timecard is checked (see _billing_turn). Weak: a lock nobody holds or
        # waits for goes.
        self._billing: weakref.WeakValueDictionary[tuple[str, str], asyncio.Lock] = (
            weakref.WeakValueDictionary())

    async def submit(
        self,
        document_json: bytes | Mapping[str, Any],
        *,
        agency_oin: str,
        kind: DocumentKind | str | None = None,
        parsed: Any = None,
    ) -> tuple[MessageRecord, bool]:
        """Store the document as a queued outbound message; ``created`` False for a repeat.

        A repeat (same supplier, agency, kind and document number as a live
        message) returns the stored message untouched. Raises
        DocumentTooLarge (nothing stored) or DocumentRejected (stored as
        rejected). When validation itself cannot run (standards not
        installed, a worker died) its error propagates and nothing is stored:
        that is not the document's fault, and the ERP may try again.

        ``parsed`` is what :func:`gateway.model.json.parse_json` made of the
        bytes ``document_json``, for a caller that had to parse them already
        (the API, to answer 400 for no JSON), so they are not parsed twice.
        """
        config = self.config()
        # The intake span covers the whole submission: its duration is the ERP's wait.
        with _stage("intake") as intake:
            try:
                async with contextlib.AsyncExitStack() as held:
                    return await self._submit(config, document_json, agency_oin, kind,
                                              parsed, intake, held)
            except _Repeat as repeat:
                intake.note(message_id=repeat.existing.id)
                intake.outcome = "repeat"
                return repeat.existing, False

    async def _submit(
        self, config: GatewayConfig, document_json: bytes | Mapping[str, Any], agency_oin: str,
        kind: DocumentKind | str | None, parsed: Any, intake: Stage,
        held: contextlib.AsyncExitStack,
    ) -> tuple[MessageRecord, bool]:
        """``held`` keeps what the submission must hold until it is answered (released by
        the caller): the turn on the timecards an invoice bills."""
        progress = self._intake(document_json, agency_oin, kind)
        document = await self._parse(progress, parsed)
        progress.document = document
        intake.set(kind=progress.kind)
        try:
            oin = str(OIN(agency_oin))
        except InvalidIdentifier as exc:
            return await self._reject(progress, "route",
                                      f"{agency_oin!r} is not a valid OIN: {exc.reason}",
                                      rules=["agency-oin-invalid"])
        progress.agency_oin = oin
        # On the span now, on the metrics only once routing knows the agency: a caller
        # could otherwise open a new metric series with every made-up OIN it sends.
        intake.note(agency_oin=oin)
        doc_kind = DocumentKind(progress.kind)
        try:
            # The inbound rule (pipeline/keys.py): a corrected timecard, which SETU-OHNL sends
            # under the id of the one it replaces, gets a key of its own, or it would be
            # answered as a repeat of the original and never sent. Any other document's
            # key is its number, as before, so stored keys still match their repeats.
            number = key_number(document)
        except ValueError as exc:
            return await self._reject(progress, "intake", str(exc))
        key = outbound_key(str(config.supplier.kvk), oin, doc_kind, number)
        if len(key.encode("utf-8")) > MAX_INDEXED_BYTES:
            # The store cannot index a key this long (PostgreSQL refuses it): a document
            # that can never be stored is refused, not answered "try again later". Kept
            # without its key, which is what the store refuses.
            return await self._reject(
                progress, "intake", f"the document number is too long for its business key "
                f"({len(key.encode('utf-8'))} bytes; at most {MAX_INDEXED_BYTES})",
                rules=["number-too-long"],
                at=CanonicalJSONError("$.number", "too long to be stored as a business key"))
        progress.business_key = key
        if progress.business_key in self._recent:
            # An ERP that did not hear our answer sends again, soon: answer it from
            # the store before encoding and validating it all over.
            await self._raise_if_repeat(progress)

        await held.enter_async_context(self._billing_turn(oin, document))
        await self._check(progress, document, oin, config)
        with _stage("route", kind=progress.kind) as routing:
            routing.note(agency_oin=oin)
            decision = await self._route(progress, config, oin, doc_kind)
            fmt = await self._format(progress, decision, doc_kind)
            routing.set(agency_oin=oin, channel=decision.channel, format=fmt.key)
        intake.set(agency_oin=oin, channel=decision.channel, format=fmt.key)
        context = await configured_context(
            self.store, config, document, agency_oin=oin, kind=doc_kind,
            agency_name=decision.agency_name, source_json=progress.text)
        with _stage("encode", kind=progress.kind, format=fmt.key):
            try:
                payload = await _encode(fmt, document, context, len(progress.text or ""))
            except AnsweredUnknown as exc:
                await self._reject_unanswerable(progress, document, exc)
            except Exception as exc:  # a plugin's failure is this document's rejection
                return await self._reject(
                    progress, "encode", f"{fmt.key} cannot encode it: {type(exc).__name__}: {exc}")
            if not isinstance(payload, bytes):  # a plugin bug; the store would keep text or fail
                return await self._reject(  # type: ignore[unreachable]
                    progress, "encode",
                    f"{fmt.key} gave {type(payload).__name__}, not bytes: a bug in its plugin "
                    f"({self.registry.owner('format', fmt.key)})")
        progress.payload = payload
        progress.events.append(NewEvent("encode", {"format": fmt.key, "bytes": len(payload)}))

        with _stage("validate", kind=progress.kind, format=fmt.key) as validating:
            try:
                report = await validate_payload(self.validator, payload, fmt.layers(), fmt.key)
            except Exception:
                # Validation that cannot run stores nothing, but a repeat is still answered.
                await self._raise_if_repeat(progress)
                raise
            validating.outcome = "valid" if report.valid else "invalid"
        progress.report = report
        progress.events.append(NewEvent("validate", {
            "format": fmt.key, "valid": report.valid, "layers": list(report.layers),
            "errors": len(report.errors), "warnings": len(report.warnings),
        }))
        if not report.valid:
            rules = sorted({f.rule for f in report.errors})
            first = report.by_severity()[0]
            return await self._reject(
                progress, "validate",
                f"the {fmt.key} document breaks {len(report.errors)} rule(s), first: {first}",
                rules=rules)

        progress.events.append(NewEvent("persist", {}))
        record = MessageRecord.new_outbound(
            document_kind=progress.kind, business_key=progress.business_key, agency_oin=oin,
            canonical_json=progress.text, raw_payload=payload, format_key=fmt.key,
            channel=decision.channel, routing=decision.to_dict(), validation=report.to_json(),
            max_attempts=self.settings.max_attempts,
        )
        with _stage("persist", kind=progress.kind, channel=decision.channel) as persisting:
            stored, created = await self.store.add_outbound(
                record, progress.events,
                timecard_lines=timecard_lines(document) if isinstance(document, Invoice) else ())
            persisting.note(message_id=stored.id)
            persisting.outcome = "created" if created else "repeat"
        self._recent.add(progress.business_key)
        intake.note(message_id=stored.id)
        if not created:
            _ensure_same(progress, stored)
            intake.outcome = "repeat"
            return stored, False
        log.info("outbound message queued", extra={
            "message_id": stored.id, "kind": progress.kind, "channel": decision.channel})
        if self.on_queued is not None:
            self.on_queued(stored)
        return stored, True

    @contextlib.asynccontextmanager
    async def _billing_turn(self, oin: str, document: CanonicalDocument) -> AsyncIterator[None]:
        """The turn of an invoice on each timecard it names, from its check until it is stored.

        Otherwise two invoices on one timecard submitted together are each held
        against what was stored before either, and both pass with the same
        hours. Taken in one order, so two invoices naming the same timecards
        cannot each wait for the other. Within this process only: instances
        sharing a database do not wait for each other's invoices.
        """
        if not isinstance(document, Invoice):
            yield
            return
        named = {line.timecard_reference for line in document.lines
                 if line.timecard_reference is not None} | set(document.timecard_references)
        async with contextlib.AsyncExitStack() as turns:
            for card in sorted(named):
                lock = self._billing.get((oin, card))
                if lock is None:
                    lock = self._billing[(oin, card)] = asyncio.Lock()
                await turns.enter_async_context(lock)
            yield

    # -- steps -------------------------------------------------------------------------------

    def _intake(
        self, document_json: bytes | Mapping[str, Any], agency_oin: str,
        kind: DocumentKind | str | None,
    ) -> _Progress:
        kind_text = UNKNOWN_KIND if kind is None else str(kind)
        if not isinstance(document_json, bytes | bytearray):
            try:
                text = json.dumps(document_json, ensure_ascii=False)
            except (TypeError, ValueError) as exc:
                # Not JSON at all, so there is nothing faithful to keep: refuse unstored.
                raise DocumentRejected("intake", f"not JSON data: {exc}") from None
            progress = _Progress(text, None, kind_text, agency_oin)
            progress.events.append(_intake_event(len(text.encode("utf-8"))))
            return progress
        raw = bytes(document_json)
        if len(raw) > self.settings.max_document_bytes:
            raise DocumentTooLarge(
                f"the document is {len(raw)} bytes; the limit is "
                f"{self.settings.max_document_bytes}")
        try:
            progress = _Progress(raw.decode("utf-8"), None, kind_text, agency_oin)
        except UnicodeDecodeError as exc:
            # Kept as bytes: the rejected message must show what really arrived.
            progress = _Progress(None, raw, kind_text, agency_oin)
            progress.problem = f"the document is not UTF-8 text: {exc}"
        else:
            if "\x00" in (progress.text or ""):
                # Never JSON (a raw control character), and no text column of
                # PostgreSQL can hold it: kept as bytes, like text that is not UTF-8.
                progress = _Progress(None, raw, kind_text, agency_oin)
                progress.problem = "the document holds a NUL character: it is not JSON"
        progress.events.append(_intake_event(len(raw)))
        return progress

    async def _parse(self, progress: _Progress, parsed: Any) -> CanonicalDocument:
        if progress.text is None:
            await self._reject(progress, "intake", progress.problem or "no JSON text")
        try:
            document = loads(progress.text) if parsed is None else from_json(parsed)
        except (GatewayError, ValueError, TypeError, RecursionError) as exc:
            await self._reject(progress, "intake", f"not a canonical document: {exc}")
        actual = kind_of(document)
        if progress.kind == UNKNOWN_KIND:
            progress.kind = actual.value
        else:
            try:
                wanted = DocumentKind.parse(progress.kind)
            except ValueError as exc:
                await self._reject(progress, "intake", str(exc))
            progress.kind = wanted.value
            if wanted is not actual:
                await self._reject(progress, "intake",
                                   f"submitted as {wanted.value} but the document is a "
                                   f"{actual.value} ('document' field)")
        return document

    async def _check(self, progress: _Progress, document: CanonicalDocument, oin: str,
                     config: GatewayConfig) -> None:
        try:
            stated = stated_oins(document)
        except ValueError as exc:
            await self._reject(progress, "check", str(exc))
        # Every OIN the agency party states, not only the first: a canonical route sends
        # the document as submitted, and no SETU format checks the party's identifiers,
        # so an OIN in buyer.ids naming another agency, or one that is no OIN, would go
        # out. Each is refused with the path of the identifier at fault.
        for path, value in stated:
            party = path.split(".", 1)[0]
            try:
                stated_oin = OIN(value).value
            except InvalidIdentifier as exc:
                await self._reject(
                    progress, "check", f"the {party} OIN {value!r} at {path} is not a valid "
                    f"OIN: {exc.reason}",
                    rules=["agency-oin-invalid"],
                    at=CanonicalJSONError(path, f"{value!r} is not a valid OIN: {exc.reason}"))
            if stated_oin != oin:
                await self._reject(
                    progress, "check", f"the document's {party} has OIN {stated_oin} (at {path}) "
                    f"but it was submitted for agency {oin}",
                    rules=["agency-oin-mismatch"],
                    # Listed once, at the document's field, which an ERP can point its
                    # user at; the text names the path's OIN, either may be the one to fix.
                    at=CanonicalJSONError(
                        path, f"OIN {stated_oin}, but the document was submitted for agency "
                        f"{oin} (agency_oin in the request path): one of them is wrong"))
        if isinstance(document, Invoice):
            try:
                ensure_not_proposal(document)
            except ProposalNotSendable as exc:
                await self._reject(progress, "check", str(exc), rules=["proposal-invoice"])
            errors = document.arithmetic_errors()
            if errors:
                details = "; ".join(f"{e.rule}: {e.message}" for e in errors)
                await self._reject(progress, "check",
                                   f"the invoice amounts do not add up: {details}",
                                   rules=[e.rule for e in errors],
                                   details=[(e.rule, e.message, e.path) for e in errors])
        warnings: list[str] = []
        agency = config.agency(oin)
        # An agency missing from the directory is refused when routing, saying so.
        if isinstance(document, Invoice) and agency is not None:
            findings = await check_references(self.store, agency, document,
                                              progress.business_key)
            if findings.violations:
                details = "; ".join(v.message for v in findings.violations)
                await self._reject(
                    progress, "check",
                    f"the invoice does not match what the agency sent: {details}",
                    rules=list(dict.fromkeys(v.rule for v in findings.violations)),
                    details=[(v.rule, v.message, v.path) for v in findings.violations])
            warnings.extend(findings.warnings)
        checked: dict[str, Any] = {"passed": True}
        if warnings:
            checked["warnings"] = warnings
        progress.events.append(NewEvent("check", checked))

    async def _route(
        self, progress: _Progress, config: GatewayConfig, oin: str, kind: DocumentKind,
    ) -> RouteDecision:
        try:
            decision = route(config, oin, kind)
        except RoutingError as exc:
            # An agency missing from the directory is the path's OIN at fault (the API
            # names the agency_oin field for this rule); any other refusal is the route's.
            unknown = config.agency(oin) is None
            await self._reject(progress, "route", str(exc),
                               rules=["agency-unknown"] if unknown else None)
        progress.decision = decision
        progress.events.append(NewEvent("route", decision.to_dict()))
        return decision

    async def _format(
        self, progress: _Progress, decision: RouteDecision, kind: DocumentKind,
    ) -> Format:
        try:
            fmt = self.registry.format(decision.format)
        except GatewayError as exc:
            await self._reject(progress, "route", str(exc))
        if Direction.OUTBOUND not in fmt.directions or not fmt.serves(kind):
            await self._reject(progress, "route",
                               f"format {fmt.key} does not send {kind.value} documents")
        return fmt

    async def _reject_unanswerable(self, progress: _Progress, document: CanonicalDocument,
                                   exc: AnsweredUnknown) -> NoReturn:
        """Refuse a response to a document the gateway has not received, naming the reference.

        The ERP may have answered before the agency's document reached us (or
        reached us through another channel): it is worth sending again once it
        has arrived, under the same number, as a rejection keeps no number.
        """
        reference = answered_reference(document)
        if reference is None:  # a format that wants an answered document for another kind
            await self._reject(progress, "encode", str(exc), rules=["answered-unknown"])
        kind, number, path = reference
        again = (f"send it again once the gateway has received {kind.value} {number!r} "
                 "from this agency")
        await self._reject(
            progress, "encode", f"{exc}; {again}", rules=["answered-unknown"],
            at=CanonicalJSONError(path, f"no {kind.value} {number!r} from this agency has "
                                        f"reached the gateway (yet): {again}"))

    async def _reject(
        self, progress: _Progress, stage: str, reason: str, *, rules: list[str] | None = None,
        details: list[tuple[str, str, str | None]] | None = None,
        at: CanonicalJSONError | None = None,
    ) -> NoReturn:
        """Store the document as rejected, then raise DocumentRejected naming the message.

        ``at`` locates the fault in the submitted JSON: it becomes the rejection's
        cause, where the API finds the path of a model error too, to name the field.
        A repeat of a live message raises _Repeat instead and stores nothing.
        """
        await self._raise_if_repeat(progress)
        decision = progress.decision
        progress.events.append(NewEvent("rejected", {
            "stage": stage, "reason": reason, "rules": list(rules or [])}))
        record = MessageRecord.new_outbound(
            document_kind=progress.kind, business_key=progress.business_key,
            agency_oin=progress.agency_oin, canonical_json=progress.text,
            raw_payload=progress.payload if progress.payload is not None else progress.raw,
            format_key=None if decision is None else decision.format,
            channel=None if decision is None else decision.channel,
            routing=None if decision is None else decision.to_dict(),
            validation=None if progress.report is None else progress.report.to_json(),
            transport_state=TransportState.REJECTED, last_error=f"{stage}: {reason}",
        )
        stored, _ = await self.store.add_outbound(record, progress.events)
        trace.get_current_span().set_attribute("wissel.message_id", stored.id)
        log.info("outbound document rejected", extra={"message_id": stored.id, "stage": stage})
        rejection = DocumentRejected(stage, reason, message_id=stored.id, rules=rules or (),
                                     details=details or ())
        if at is not None:
            raise rejection from at
        raise rejection

    async def _raise_if_repeat(self, progress: _Progress) -> None:
        if progress.business_key is None:
            return
        existing = await self.store.find_by_business_key(Direction.OUTBOUND,
                                                         progress.business_key)
        if existing is not None:
            _ensure_same(progress, existing)
            raise _Repeat(existing)


def same_document(stored_json: str | None, text: str | None,
                  document: CanonicalDocument) -> bool:
    """Whether ``document`` (submitted as ``text``) is the one stored as ``stored_json``.

    Judged on the canonical documents, not the bytes: an ERP that sends the
    same document again may write it with other key order, spacing, escapes or
    decimals ("12.5" for "12.50"), and that is still the document the agency
    gets. Any value that differs makes it another document.
    """
    if stored_json is not None and stored_json == text:
        return True  # the common repeat: the very same body, no parse needed
    if stored_json is None:
        return False
    try:
        stored = loads(stored_json)
    except (GatewayError, ValueError, TypeError, RecursionError):
        return False  # stored under an older model: cannot be shown to be the same
    return stored == document


def _ensure_same(progress: _Progress, existing: MessageRecord) -> None:
    """Raise NumberTaken unless the submission is the stored message's document again."""
    document = progress.document
    if document is None or same_document(existing.canonical_json, progress.text, document):
        return
    raise NumberTaken(existing, document_number(document), number_field(document))
