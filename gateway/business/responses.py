"""The supplier's answer to a purchase order, built from the order itself.

Everything the answer refers to is copied by value from the order (number,
issue date, line ids, parties), so the ERP only decides what it alone can:
accept, change quantity or delivery date, or refuse. Whether a particular
format can carry the answer (UBL-OHNL has no rejection) is the format's check.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal

import attrs

from gateway.business.checks import require_unique
from gateway.business.errors import BusinessError, UnknownLines
from gateway.model import (
    LineResponse,
    LineStatus,
    Order,
    OrderLine,
    OrderReference,
    OrderResponse,
    Quantity,
    Record,
    ResponseStatus,
)
from gateway.model.shape import NON_NEGATIVE


@attrs.frozen(kw_only=True)
class LineChange(Record):
    """What the supplier changes on one order line; None keeps the ordered value.

    ``quantity`` is in the order line's unit: OHNL allows changing the amount,
    not what is counted.
    """

    quantity: Decimal | None = attrs.field(default=None, metadata=NON_NEGATIVE)
    delivery_date: dt.date | None = None
    note: str | None = None


def accept_all(
    order: Order, *, number: str, issue_date: dt.date, sales_order_id: str | None = None,
    note: str | None = None, issue_time: dt.time | None = None,
) -> OrderResponse:
    """Accept every line of ``order`` as ordered."""
    return _response(
        order, ResponseStatus.ACCEPTED,
        tuple(LineResponse(line_id=line.id, status=LineStatus.ACCEPTED) for line in order.lines),
        number=number, issue_date=issue_date, sales_order_id=sales_order_id, note=note,
        issue_time=issue_time,
    )


def accept_with_changes(
    order: Order, changes: Mapping[str, LineChange], *, number: str, issue_date: dt.date,
    sales_order_id: str | None = None, note: str | None = None,
    issue_time: dt.time | None = None,
) -> OrderResponse:
    """Accept ``order`` with ``changes`` per order line id.

    A change that repeats the ordered quantity or requested delivery date is
    no change; when nothing really changes the order is simply accepted, so
    the agency is not asked to review a response that differs in nothing.
    """
    unknown = [line_id for line_id in changes if line_id not in {ln.id for ln in order.lines}]
    if unknown:
        raise UnknownLines(f"order {order.number}", unknown)
    responses = tuple(_line_response(order, line, changes.get(line.id)) for line in order.lines)
    changed = any(r.status is LineStatus.CHANGED for r in responses)
    return _response(
        order, ResponseStatus.ACCEPTED_WITH_CHANGES if changed else ResponseStatus.ACCEPTED,
        responses, number=number, issue_date=issue_date, sales_order_id=sales_order_id,
        note=note, issue_time=issue_time,
    )


def reject(
    order: Order, reason: str, *, number: str, issue_date: dt.date,
    sales_order_id: str | None = None, issue_time: dt.time | None = None,
) -> OrderResponse:
    """Refuse ``order`` as a whole; ``reason`` travels as the response note.

    Without line responses: the status says it of every line, and Peppol BIS
    T76 (the one standard here that can refuse an order) allows lines only on
    an answer with changes (PEPPOL-T76-R008 to R010).
    """
    if not reason.strip():
        raise BusinessError("a rejection needs a reason the agency can act on")
    return _response(
        order, ResponseStatus.REJECTED, (),
        number=number, issue_date=issue_date, sales_order_id=sales_order_id, note=reason,
        issue_time=issue_time,
    )


def _response(
    order: Order, status: ResponseStatus, line_responses: tuple[LineResponse, ...], *,
    number: str, issue_date: dt.date, sales_order_id: str | None, note: str | None,
    issue_time: dt.time | None,
) -> OrderResponse:
    # Every answer (accept, change, reject) refers to the order's lines by id; with a
    # repeated id it would confirm an order the supplier then cannot invoice.
    require_unique(f"order {order.number}", "line id(s)", (ln.id for ln in order.lines))
    return OrderResponse(
        number=number,
        issue_date=issue_date,
        issue_time=issue_time,
        order_reference=OrderReference(
            id=order.number, sales_order_id=sales_order_id, issue_date=order.issue_date,
        ),
        status=status,
        seller=order.seller,
        buyer=order.buyer,
        currency=order.currency,
        note=note,
        line_responses=line_responses,
    )


def _line_response(order: Order, line: OrderLine, change: LineChange | None) -> LineResponse:
    if change is None:
        return LineResponse(line_id=line.id, status=LineStatus.ACCEPTED)
    quantity = None
    if change.quantity is not None and change.quantity != line.quantity.value:
        quantity = Quantity(value=change.quantity, unit_code=line.quantity.unit_code)
    delivery_date = None
    if change.delivery_date is not None and not _requested(order, line, change.delivery_date):
        delivery_date = change.delivery_date
    if quantity is None and delivery_date is None:
        return LineResponse(line_id=line.id, status=LineStatus.ACCEPTED, note=change.note)
    return LineResponse(
        line_id=line.id, status=LineStatus.CHANGED, quantity=quantity,
        delivery_date=delivery_date, note=change.note,
    )


def _requested(order: Order, line: OrderLine, date: dt.date) -> bool:
    """Whether delivering on ``date`` is what the order asked for."""
    delivery = order.delivery_for(line)
    if delivery is None:
        return False
    if delivery.date is not None:
        return delivery.date == date
    period = delivery.period
    if period is None:
        return False
    return (period.start is None or period.start <= date) and (
        period.end is None or date <= period.end
    )

