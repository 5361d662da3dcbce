"""What an outbound invoice names that the agency sent us: its order and timecards.

Looked up among the agency's inbound documents in the store, so the checks
see the timecards as the agency approved them, corrections included.
"""

from __future__ import annotations

import attrs

from gateway.business.invoiced import standing_version, timecard_violations
from gateway.config.model import Agency, Unreceived
from gateway.kinds import Direction, DocumentKind
from gateway.model import Invoice, RuleViolation, TimeCard
from gateway.model.json import loads
from gateway.pipeline.keys import CORRECTION, STATUS, inbound_key
from gateway.store import Store


@attrs.frozen
class ReferenceFindings:
    """Broken rules, which refuse the invoice, and warnings for its timeline."""

    violations: list[RuleViolation] = attrs.field(factory=list)
    warnings: list[str] = attrs.field(factory=list)


async def check_references(store: Store, agency: Agency, invoice: Invoice) -> ReferenceFindings:
    """Hold ``invoice`` against the order and timecards it names, as ``agency`` sent them."""
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
    for card_id, path in _timecards_named(invoice).items():
        versions = await _timecard_versions(store, str(agency.oin), card_id)
        if versions:
            cards[card_id] = standing_version(versions)
            continue
        # Not in the store: perhaps received before the gateway ran, which the
        # agency's setting says how far to trust.
        text = (f"timecard {card_id!r} was never received from agency {agency.label}; only "
                "hours on a timecard the agency sent and approved may be invoiced")
        if agency.unreceived_timecards is Unreceived.REFUSE:
            findings.violations.append(RuleViolation("timecard-not-received", text, path))
        elif agency.unreceived_timecards is Unreceived.WARN:
            findings.warnings.append(f"{text} (at {path})")
    findings.violations.extend(timecard_violations(invoice, cards))
    return findings


def _timecards_named(invoice: Invoice) -> dict[str, str]:
    """Each timecard id the invoice names, with the first place it names it."""
    named: dict[str, str] = {}
    for i, line in enumerate(invoice.lines):
        if line.timecard_reference is not None:
            named.setdefault(line.timecard_reference, f"lines[{i}].timecard_reference")
    for i, card_id in enumerate(invoice.timecard_references):
        named.setdefault(card_id, f"timecard_references[{i}]")
    return named


async def _timecard_versions(store: Store, agency_oin: str, card_id: str) -> list[TimeCard]:
    """The timecard, its corrections and its changes of status from the agency, in the
    order they were received.

    A SETU correction keeps the timecard's id and is stored under a key of its
    own (pipeline/keys.py), the original's with a mark and a digest added; so is
    the timecard sent again rejected, under the original's with its status added.
    """
    key = inbound_key(agency_oin, DocumentKind.TIMECARD, card_id)
    records = []
    original = await store.find_by_business_key(Direction.INBOUND, key)
    if original is not None:
        records.append(original)
    for mark in (CORRECTION, STATUS):
        records.extend(await store.find_by_business_key_prefix(
            Direction.INBOUND, f"{key}:{mark}:"))
    versions = []
    for record in sorted(records, key=lambda r: r.id):
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
