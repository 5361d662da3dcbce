"""An invoice for hours against the timecards the agency approved.

The agency enters and approves the hours; the supplier's invoice may bill no
more of them than it approved, or the agency refuses it (and a ministry pays
late, or not at all). These checks compare an invoice with the timecards it
names, as the agency sent them; finding those timecards is the caller's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal

import attrs

from gateway.model import (
    Invoice,
    InvoiceType,
    RuleViolation,
    TimeCard,
    TimeCardAction,
    TimeCardStatus,
)

HOURS = "HUR"
"""The UN/ECE unit for hours; SETU invoices write the hour type (``regular``) instead."""


@attrs.frozen
class BilledBefore:
    """A line of an earlier invoice on a timecard: its number, order line, unit and hours
    (negative on a credit note, which takes them back)."""

    number: str
    order_line: str | None
    unit_code: str
    hours: Decimal


def standing_version(versions: Sequence[TimeCard]) -> TimeCard:
    """Of the versions of one timecard, in the order received, the one an invoice bills.

    The latest received of the timecard as sent (approved, or with its
    approval withdrawn: sent again rejected) and its approved corrections: a
    correction that is not (yet) approved does not take the approved hours
    back, but a withdrawal does. Without either, the latest version, so that
    the caller can say it is not approved.
    """
    if not versions:
        raise ValueError("no versions of the timecard")
    standing = [card for card in versions
                if card.corrects is None or card.status is TimeCardStatus.APPROVED]
    return standing[-1] if standing else versions[-1]


def timecard_violations(
    invoice: Invoice, cards: Mapping[str, TimeCard],
    earlier: Mapping[str, Sequence[BilledBefore]] | None = None,
) -> list[RuleViolation]:
    """Where ``invoice`` bills what the timecards in ``cards`` (by id) did not approve.

    Each line naming one of them is held against it: the timecard must be
    approved, and the hours on each order line (and in all), with those
    ``earlier`` invoices billed on it (by timecard id), may not exceed what it
    approved there. Fewer hours may be billed: the rest may follow on
    another invoice. A line on an order line the timecard books only expenses
    on is an expense, not hours, and is not counted; so is a line without an
    order line whose unit is neither hours nor one of the timecard's hour types;
    the lines of earlier invoices alike. A credit note takes hours back and is
    not checked.
    """
    if invoice.type is InvoiceType.CREDIT:
        return []
    found: list[RuleViolation] = []
    for card_id, card in cards.items():
        at = [i for i, line in enumerate(invoice.lines) if line.timecard_reference == card_id]
        if not at:
            continue
        if card.status is not TimeCardStatus.APPROVED:
            found.extend(RuleViolation(
                "timecard-not-approved",
                f"timecard {card_id!r} is {card.status.value}, not approved: only hours the "
                "agency approved may be invoiced", f"lines[{i}].timecard_reference")
                for i in at)
            continue
        found.extend(_hours_violations(invoice, card, at, (earlier or {}).get(card_id, ())))
    return found


def _hours_violations(invoice: Invoice, card: TimeCard, at: Sequence[int],
                      earlier: Sequence[BilledBefore]) -> list[RuleViolation]:
    approved: dict[str | None, Decimal] = {}
    types: dict[str | None, dict[str, Decimal]] = {}
    for interval in card.intervals:
        if not interval.billable or interval.action is TimeCardAction.VOID:
            continue
        booked = interval.order_line_reference
        approved[booked] = approved.get(booked, Decimal(0)) + interval.hours
        by_type = types.setdefault(booked, {})
        by_type[interval.type] = by_type.get(interval.type, Decimal(0)) + interval.hours
    expense_lines = {expense.order_line_reference for expense in card.expenses
                     if expense.action is not TimeCardAction.VOID}
    hour_units = {HOURS.casefold()} | {i.type.casefold() for i in card.intervals}

    def is_hours(order_line: str | None, unit_code: str) -> bool:
        if order_line is not None and order_line not in approved and order_line in expense_lines:
            return False
        return order_line is not None or unit_code.casefold() in hour_units

    billed: dict[str | None, list[int]] = {}
    for i in at:
        line = invoice.lines[i]
        if is_hours(line.order_line_reference, line.quantity.unit_code):
            billed.setdefault(line.order_line_reference, []).append(i)
    before = [b for b in earlier if is_hours(b.order_line, b.unit_code)]

    found: list[RuleViolation] = []
    for order_line, indexes in billed.items():
        if order_line is None:
            continue  # held against the timecard's total below
        total = sum((invoice.lines[i].quantity.value for i in indexes), Decimal(0))
        allowed = approved.get(order_line, Decimal(0))
        there = [b for b in before if b.order_line == order_line]
        if total + _sum(there) > allowed:
            found.extend(RuleViolation(
                "timecard-hours",
                f"line {invoice.lines[i].id!r} invoices {invoice.lines[i].quantity.value} hours "
                f"on order line {order_line!r} of timecard {card.id!r}"
                f"{_in_all(total, len(indexes))}, but the timecard approved "
                f"{_approved(allowed, types.get(order_line, {}))} on that order line"
                f"{_billed_before(there, allowed)}",
                f"lines[{i}].quantity.value") for i in indexes)
    everything = [i for indexes in billed.values() for i in indexes]
    total = sum((invoice.lines[i].quantity.value for i in everything), Decimal(0))
    if not found and total + _sum(before) > card.billable_hours:
        all_types: dict[str, Decimal] = {}
        for by_type in types.values():
            for name, hours in by_type.items():
                all_types[name] = all_types.get(name, Decimal(0)) + hours
        found.extend(RuleViolation(
            "timecard-hours",
            f"line {invoice.lines[i].id!r} invoices {invoice.lines[i].quantity.value} hours "
            f"of timecard {card.id!r}{_in_all(total, len(everything))}, but the timecard "
            f"approved {_approved(card.billable_hours, all_types)} in all"
            f"{_billed_before(before, card.billable_hours)}",
            f"lines[{i}].quantity.value") for i in everything)
    return found


def _sum(lines: Sequence[BilledBefore]) -> Decimal:
    return sum((b.hours for b in lines), Decimal(0))


def _billed_before(lines: Sequence[BilledBefore], allowed: Decimal) -> str:
    """``, of which earlier invoices billed 16.00 (F-1 16.00): 0.00 are left``, or nothing."""
    if not lines:
        return ""
    by_number: dict[str, Decimal] = {}
    for b in lines:
        by_number[b.number] = by_number.get(b.number, Decimal(0)) + b.hours
    listed = ", ".join(f"{number} {hours}" for number, hours in by_number.items())
    left = max(allowed - _sum(lines), Decimal(0))
    return f", of which earlier invoices billed {_sum(lines)} ({listed}): {left} are left"


def _in_all(total: Decimal, lines: int) -> str:
    return f" ({total} with the invoice's other lines there)" if lines > 1 else ""


def _approved(hours: Decimal, by_type: Mapping[str, Decimal]) -> str:
    """``16.00 hours (Regular 16.00)``: what the agency approved, by hour type."""
    if not by_type:
        return f"{hours} hours"
    listed = ", ".join(f"{name} {value}" for name, value in by_type.items())
    return f"{hours} hours ({listed})"
