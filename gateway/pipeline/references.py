"""What an outbound invoice names that the agency sent us: its order and timecards.

Looked up among the agency's inbound documents in the store, so the checks
see the timecards as the agency approved them, corrections included.
"""

from __future__ import annotations

import attrs

from gateway.business.invoiced import BilledBefore, standing_version, timecard_violations
from gateway.config.model import Agency, Unreceived
from gateway.kinds import Direction, DocumentKind
from gateway.model import Invoice, InvoiceType, RuleViolation, TimeCard
from gateway.model.json import loads
from gateway.pipeline.keys import CORRECTION, STATUS, inbound_key
from gateway.store import MessageRecord, Store, TimecardLine
from gateway.store.base import MAX_INDEXED_BYTES, storable


@attrs.frozen
class ReferenceFindings:
    """Broken rules, which refuse the invoice, and warnings for its timeline."""

    violations: list[RuleViolation] = attrs.field(factory=list)
    warnings: list[str] = attrs.field(factory=list)


async def check_references(store: Store, agency: Agency, invoice: Invoice,
                           business_key: str | None = None) -> ReferenceFindings:
    """Hold ``invoice`` against the order and timecards it names, as ``agency`` sent them,
    and against what the invoices stored before billed on those timecards.

    ``business_key``: the invoice's own, so that a repeat of a stored invoice is not
    counted as an earlier one.
    """
    findings = ReferenceFindings()
    order = invoice.order_reference
    if (order is not None and agency.unreceived_orders is not Unreceived.OFF
            and not await _order_received(store, str(agency.oin), order.id)):
        # Perhaps ordered before the gateway ran; the agency's setting says how far
        # to trust that. Its own purchasing system refuses an order number it lacks.
        text = (f"order {order.id!r} was never received from agency {agency.label}; the "
                "agency refuses an invoice whose order number is not one of its orders")
        if agency.unreceived_orders is Unreceived.REFUSE:
            findings.violations.append(
                RuleViolation("order-not-received", text, "order_reference.id"))
        else:
            findings.warnings.append(f"{text} (at order_reference.id)")
    cards: dict[str, TimeCard] = {}
    earlier: dict[str, list[BilledBefore]] = {}
    for card_id, path in _timecards_named(invoice).items():
        unfit = _unstorable(card_id)
        if unfit:
            # Stored with the invoice for the next one's intake, it could not be: no
            # timecard the agency sent has such an id either.
            findings.violations.append(RuleViolation(
                "timecard-reference-invalid", f"timecard reference {unfit}", path))
            continue
        versions = await _timecard_versions(store, str(agency.oin), card_id)
        if versions:
            card = cards[card_id] = standing_version(versions)
            if (card.order_reference is not None and order is not None
                    and card.order_reference != order.id):
                findings.violations.append(RuleViolation(
                    "timecard-order-mismatch",
                    f"timecard {card_id!r} books hours on order {card.order_reference!r}, "
                    f"but the invoice names order {order.id!r} (order_reference.id): the "
                    "agency refuses hours billed on another order than they were worked on",
                    path))
            if invoice.type is not InvoiceType.CREDIT:
                earlier[card_id] = [
                    BilledBefore(b.line.invoice_number, b.line.order_line, b.line.unit_code,
                                 b.line.hours)
                    for b in await store.billed_on_timecard(
                        str(agency.oin), card_id, besides=business_key)]
            continue
        # Not in the store: perhaps received before the gateway ran, which the
        # agency's setting says how far to trust.
        text = (f"timecard {card_id!r} was never received from agency {agency.label}; only "
                "hours on a timecard the agency sent and approved may be invoiced")
        if agency.unreceived_timecards is Unreceived.REFUSE:
            findings.violations.append(RuleViolation("timecard-not-received", text, path))
        elif agency.unreceived_timecards is Unreceived.WARN:
            findings.warnings.append(f"{text} (at {path})")
    findings.violations.extend(timecard_violations(invoice, cards, earlier))
    return findings


def timecard_lines(invoice: Invoice) -> list[TimecardLine]:
    """The lines of ``invoice`` naming a timecard, as the store keeps them with it:
    a credit note's hours negative, as it takes them back."""
    sign = -1 if invoice.type is InvoiceType.CREDIT else 1
    return [TimecardLine(i, line.timecard_reference, invoice.number, line.order_line_reference,
                         line.quantity.unit_code, sign * line.quantity.value)
            for i, line in enumerate(invoice.lines) if line.timecard_reference is not None]


def _unstorable(card_id: str) -> str | None:
    """Why the store cannot keep ``card_id``, if it cannot."""
    if not storable(card_id):
        return "holds a NUL character or a lone surrogate"
    size = len(card_id.encode("utf-8"))
    if size > MAX_INDEXED_BYTES:
        return f"is {size} bytes; at most {MAX_INDEXED_BYTES} can be stored"
    return None


def _timecards_named(invoice: Invoice) -> dict[str, str]:
    """Each timecard id the invoice names, with the first place it names it."""
    named: dict[str, str] = {}
    for i, line in enumerate(invoice.lines):
        if line.timecard_reference is not None:
            named.setdefault(line.timecard_reference, f"lines[{i}].timecard_reference")
    for i, card_id in enumerate(invoice.timecard_references):
        named.setdefault(card_id, f"timecard_references[{i}]")
    return named


async def timecard_records(store: Store, agency_oin: str, card_id: str) -> list[MessageRecord]:
    """The live inbound messages of one timecard from the agency, in the order received:
    the timecard, its corrections, its changes of status.

    A SETU correction keeps the timecard's id and is stored under a key of its
    own (pipeline/keys.py), the original's with a mark and a digest added; so is
    the timecard sent again in another status, under the original's with its
    status added.
    """
    key = inbound_key(agency_oin, DocumentKind.TIMECARD, card_id)
    records = []
    original = await store.find_by_business_key(Direction.INBOUND, key)
    if original is not None:
        records.append(original)
    for mark in (CORRECTION, STATUS):
        records.extend(await store.find_by_business_key_prefix(
            Direction.INBOUND, f"{key}:{mark}:"))
    return sorted(records, key=lambda r: r.id)


async def _timecard_versions(store: Store, agency_oin: str, card_id: str) -> list[TimeCard]:
    """The versions of the timecard the agency sent, in the order received."""
    versions = []
    for record in await timecard_records(store, agency_oin, card_id):
        if record.canonical_json is None:
            continue
        card = loads(record.canonical_json)
        if isinstance(card, TimeCard):
            versions.append(card)
    return versions


async def _order_received(store: Store, agency_oin: str, order_id: str) -> bool:
    """Whether the agency sent us an order, or a staffing order, of that number.

    One look-up that reads no message: every invoice naming an order asks it.
    """
    keys = [inbound_key(agency_oin, kind, order_id)
            for kind in (DocumentKind.ORDER, DocumentKind.STAFFING_ORDER)]
    # A staffing order whose closing came, but not the order itself (pipeline/keys.py).
    closed = inbound_key(agency_oin, DocumentKind.STAFFING_ORDER, f"{order_id}:{STATUS}:")
    return await store.has_live_key(Direction.INBOUND, keys, [closed])
