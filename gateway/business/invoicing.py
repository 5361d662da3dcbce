"""Invoices built from what the agency sent: a purchase order, or approved timecards.

The ERP supplies only what it alone knows (a price the order leaves out, its
invoice number); references, parties, quantities and currency come by value
from the source documents, so the invoice matches them by construction.
Amounts are computed by :meth:`Invoice.build`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

import attrs

from gateway.business.checks import RATED, chosen_vat, require_unique
from gateway.business.errors import BusinessError, MissingLineData, UnknownLines
from gateway.model import (
    AllowanceCharge,
    Delivery,
    Invoice,
    InvoiceLine,
    InvoiceType,
    Item,
    LineStatus,
    Order,
    OrderLine,
    OrderReference,
    OrderResponse,
    Period,
    Price,
    Quantity,
    ResponseStatus,
    StaffingOrder,
    StaffingRate,
    TimeCard,
    TimeCardAction,
    TimeCardStatus,
    TimeInterval,
    VatCategory,
)
from gateway.model.tax import line_net_amount, round_amount

HUNDRED = Decimal(100)
HOURS = "HUR"
# SETU rateAmountPeriod values whose amount is per hour; others cannot price hours.
HOURLY = frozenset({"hourly", "hourlyconsolidated"})

VatRate = tuple[VatCategory, Decimal | None]
# A VAT breakdown group: the category and rate amounts are summed under.
_VatGroup = tuple[VatCategory | None, Decimal | None]


def invoice_from_order(
    order: Order, *, number: str, issue_date: dt.date,
    prices: Mapping[str, Decimal] | None = None,
    vat: Mapping[str, VatRate] | None = None,
    confirmed_by: OrderResponse | None = None,
    sales_order_id: str | None = None,
    delivery_date: dt.date | None = None,
    invoice_type: InvoiceType = InvoiceType.DEBIT,
    allowance_vat: VatRate | None = None,
    order_allowances: bool = True,
    **fields: Any,
) -> Invoice:
    """The invoice for ``order``, line by line, with the order's own allowances and charges.

    ``prices`` and ``vat`` give, per order line id, the net price (per the
    order line's base quantity) and the VAT category and rate where the order
    states none, or overrides them. ``confirmed_by`` is the supplier's answer
    to the order: changed quantities apply, rejected lines (and lines
    confirmed at zero) are left out; its sales order number is used unless
    ``sales_order_id`` is given. The invoice goes to the order's invoicee
    when it names one (UBL AccountingCustomerParty), else to the buyer.
    The order's document-level allowances and charges go on the invoice; one
    that names no VAT category takes ``allowance_vat``, else the VAT of the
    invoiced lines when they all share one, else the invoice is refused:
    EN 16931 must place it in the VAT breakdown. Each is taken pro rata to
    what is invoiced of the lines in its VAT category (and rate): a
    percentage one over its base scaled to the invoiced net (its amount, when
    it states no base), a fixed one scaled to the invoiced quantities but
    never above the order's amount. Invoiced as ordered, they go on
    unchanged. ``order_allowances=False`` leaves them all off.
    ``fields`` are further :class:`Invoice` fields (due date, payment means...);
    one the order also gives (buyer reference, contract reference...) is taken
    only where the order leaves it out or agrees, else the invoice is refused.
    """
    document = f"order {order.number}"
    require_unique(document, "line id(s)", (line.id for line in order.lines))
    known = {line.id for line in order.lines}
    unknown = [i for i in (*(prices or {}), *(vat or {})) if i not in known]
    if unknown:
        raise UnknownLines(document, dict.fromkeys(unknown))
    quantities = _confirmed_quantities(order, confirmed_by)
    invoiced = [line for line in order.lines if quantities[line.id].value != 0]
    if not invoiced:
        raise BusinessError(f"nothing of {document} is left to invoice: every line was "
                            "rejected or confirmed at zero")

    # Of every line, not only the invoiced ones: the order's allowances are taken pro
    # rata to the share of the order invoiced, which needs the left-out lines too.
    line_prices = {
        line.id: price for line in order.lines
        if (price := _price(line, (prices or {}).get(line.id))) is not None
    }
    line_vat = {
        line.id: rate for line in order.lines
        if (rate := _vat(line, (vat or {}).get(line.id))) is not None
    }
    for what, found, hint in (
        ("price", line_prices, "pass them in prices={line id: net price}"),
        ("VAT category", line_vat, "pass them in vat={line id: (category, rate)}"),
    ):
        missing = [line.id for line in invoiced if line.id not in found]
        if missing:
            raise MissingLineData(what, missing, hint)

    if sales_order_id is None and confirmed_by is not None:
        sales_order_id = confirmed_by.order_reference.sales_order_id
    lines = tuple(
        InvoiceLine(
            id=str(n),
            quantity=quantities[line.id],
            price=line_prices[line.id],
            allowance_charges=_line_allowances(line, quantities[line.id], line_prices[line.id]),
            item=line.item,
            vat_category=line_vat[line.id][0],
            vat_rate=line_vat[line.id][1],
            order_line_reference=line.id,
            accounting_cost=line.accounting_cost,
        )
        for n, line in enumerate(invoiced, start=1)
    )
    from_order: dict[str, Any] = {
        "currency": order.currency,
        "buyer_reference": order.buyer_reference,
        "order_reference": OrderReference(
            id=order.number, sales_order_id=sales_order_id, issue_date=order.issue_date,
        ),
        "contract_reference": order.contract_reference,
        "project_reference": order.project_reference,
        "seller": order.seller,
        "buyer": order.invoicee if order.invoicee is not None else order.buyer,
        "delivery": _delivery(order, invoiced, delivery_date),
        "accounting_cost": order.accounting_cost,
    }
    return Invoice.build(
        number=number,
        issue_date=issue_date,
        type=invoice_type,
        lines=lines,
        allowance_charges=(
            _document_allowances(order, line_prices, line_vat, lines, allowance_vat)
            if order_allowances else ()),
        **_header(document, from_order, fields),
    )


def _header(document: str, from_order: Mapping[str, Any],
            given: Mapping[str, Any]) -> dict[str, Any]:
    """The invoice's header fields: the order's, with the ERP's ``given`` filling its gaps.

    An order often leaves out what the agency routes invoices on (the buyer
    reference, BT-10), so the ERP may give it; a value that contradicts the
    order's is refused by name rather than silently overriding what the
    invoice must match.
    """
    header = dict(from_order)
    for name, value in given.items():
        ours = from_order.get(name)
        if value is not None and ours is not None and value != ours:
            raise BusinessError(
                f"{document} gives {name} {ours!r}; the invoice cannot carry {value!r} "
                f"instead: leave {name} out, or pass the order's value")
        if value is not None or name not in header:
            header[name] = value
    return header


def _line_allowances(
    line: OrderLine, quantity: Quantity, price: Price,
) -> tuple[AllowanceCharge, ...]:
    """The line's allowances and charges for the confirmed quantity and invoiced price.

    A percentage applies to the invoiced gross amount (confirmed quantity at the
    invoiced price, which the ERP may override); a fixed amount is taken pro rata
    to the quantity, so a smaller delivery does not take the whole order's discount.
    """
    # As ordered only when both quantity and price are: a changed price changes the
    # base a percentage applies to (PEPPOL-EN16931-R040), not only a changed quantity.
    if (quantity.value == line.quantity.value and price == line.price) \
            or not line.allowance_charges:
        return line.allowance_charges
    base = price.base_quantity.value if price.base_quantity is not None else None
    gross = line_net_amount(quantity.value, price.amount, base_quantity=base)
    return tuple(
        attrs.evolve(ac, base_amount=gross, amount=round_amount(gross * ac.percentage / HUNDRED))
        if ac.percentage is not None
        # Same quantity (only the price changed) or nothing ordered to share it over:
        # a fixed amount stays as ordered.
        else ac if quantity.value == line.quantity.value or line.quantity.value == 0
        else attrs.evolve(ac, amount=round_amount(ac.amount * quantity.value
                                                  / line.quantity.value))
        for ac in line.allowance_charges
    )


def _document_allowances(
    order: Order, prices: Mapping[str, Price], vats: Mapping[str, VatRate],
    lines: Sequence[InvoiceLine], allowance_vat: VatRate | None,
) -> tuple[AllowanceCharge, ...]:
    """The order's own allowances and charges, pro rata to what is invoiced.

    The share invoiced is the invoiced net of the lines in the allowance's VAT
    category and rate over their net as ordered. A percentage keeps its
    percentage over its base scaled by that share, ordered at the order's
    prices, so it follows the invoiced quantities and prices (stating no base,
    its amount is scaled). A fixed amount follows the quantities only, as a
    line's does (ordered at the invoiced prices), and never exceeds what the
    order agreed: delivering more does not grow a fixed fee or discount.
    Invoiced as ordered, the share is 1 and they go on unchanged.
    """
    if not order.allowance_charges:
        return ()
    shared = {(line.vat_category, line.vat_rate) for line in lines}
    fallback = allowance_vat or (shared.pop() if len(shared) == 1 else None)
    # Net per (VAT category, rate): as invoiced; as ordered at the order's prices; and
    # as ordered at the invoiced prices (what the quantities alone change).
    invoiced: dict[_VatGroup, Decimal] = {}
    for line in lines:
        invoiced[line.vat_category, line.vat_rate] = invoiced.get(
            (line.vat_category, line.vat_rate), Decimal(0)) + line.net_amount
    # A line left out (rejected) may lack a price or VAT the ERP had no need to give;
    # then the share of its category invoiced cannot be told.
    unplaced = [line.id for line in order.lines if line.id not in prices or line.id not in vats]
    at_order_prices: dict[_VatGroup, Decimal] = {}
    at_invoiced_prices: dict[_VatGroup, Decimal] = {}
    for source in order.lines:
        if source.id in unplaced:
            continue
        key = vats[source.id]
        at_order_prices[key] = at_order_prices.get(key, Decimal(0)) + _net(
            source, source.price if source.price is not None else prices[source.id])
        at_invoiced_prices[key] = at_invoiced_prices.get(key, Decimal(0)) + _net(
            source, prices[source.id])
    found: list[AllowanceCharge] = []
    for number, ac in enumerate(order.allowance_charges, start=1):
        name = f"order {order.number}: its allowance/charge {number} ({ac.reason or ac.amount})"
        if ac.vat_category is None:
            if fallback is None:
                raise BusinessError(
                    f"{name} names no VAT category and the invoiced lines "
                    "have several; pass allowance_vat=(category, rate), or "
                    "order_allowances=False to leave the order's allowances and charges off")
            ac = attrs.evolve(ac, vat_category=fallback[0], vat_rate=fallback[1])
        if unplaced:
            raise BusinessError(
                f"{name} is taken pro rata to what is invoiced, but line(s) "
                f"{', '.join(map(repr, unplaced))} have no price or VAT to tell that share; "
                "pass them in prices= and vat=, or order_allowances=False")
        group = (ac.vat_category, ac.vat_rate)
        ordered = at_order_prices if ac.percentage is not None else at_invoiced_prices
        if not ordered.get(group):
            found.append(ac)  # no ordered lines in its category: nothing to scale it by
            continue
        share = invoiced.get(group, Decimal(0)) / ordered[group]
        if ac.percentage is None:
            share = min(share, Decimal(1))
        if share == 1:
            found.append(ac)
        elif ac.percentage is not None and ac.base_amount is not None:
            base_amount = round_amount(ac.base_amount * share)
            found.append(attrs.evolve(ac, base_amount=base_amount, amount=round_amount(
                base_amount * ac.percentage / HUNDRED)))
        else:
            found.append(attrs.evolve(ac, amount=round_amount(ac.amount * share)))
    return tuple(found)


def _net(line: OrderLine, price: Price) -> Decimal:
    """The net amount of ``line`` as ordered (its quantity) at ``price``."""
    allowances = _line_allowances(line, line.quantity, price)
    base = price.base_quantity.value if price.base_quantity is not None else None
    return line_net_amount(
        line.quantity.value, price.amount, base_quantity=base,
        allowances=[ac.amount for ac in allowances if not ac.is_charge],
        charges=[ac.amount for ac in allowances if ac.is_charge])


def _confirmed_quantities(
    order: Order, response: OrderResponse | None,
) -> dict[str, Quantity]:
    quantities = {line.id: line.quantity for line in order.lines}
    if response is None:
        return quantities
    if response.order_reference.id != order.number:
        raise BusinessError(
            f"order response {response.number} answers order {response.order_reference.id}, "
            f"not order {order.number}"
        )
    if response.status is ResponseStatus.REJECTED:
        raise BusinessError(
            f"order {order.number} was rejected (order response {response.number}); "
            "there is nothing to invoice"
        )
    if response.status is ResponseStatus.ACKNOWLEDGED:
        raise BusinessError(
            f"order response {response.number} only acknowledges order {order.number}; "
            "invoice once the order is accepted"
        )
    unknown = [r.line_id for r in response.line_responses if r.line_id not in quantities]
    if unknown:
        raise UnknownLines(f"order {order.number} (answered by {response.number})", unknown)
    for answer in response.line_responses:
        ordered = quantities[answer.line_id]
        if answer.status is LineStatus.REJECTED:
            quantities[answer.line_id] = Quantity(value=Decimal(0), unit_code=ordered.unit_code)
        elif answer.status is LineStatus.CHANGED and answer.quantity is not None:
            quantities[answer.line_id] = answer.quantity
    return quantities


def _price(line: OrderLine, given: Decimal | None) -> Price | None:
    if given is None:
        return line.price
    base = line.price.base_quantity if line.price is not None else None
    return Price(amount=given, base_quantity=base)


def _vat(line: OrderLine, given: VatRate | None) -> VatRate | None:
    """The line's VAT category and rate; None when either is missing.

    Peppol Ordering may leave the percent out; a taxed category (S, L, M)
    without its rate is as incomplete as no category at all, and taking it
    as given would invoice the line at 0 % under a taxed category (BR-S-05).
    """
    vat = given if given is not None else (
        None if line.vat_category is None else (line.vat_category, line.vat_rate))
    if vat is None or (vat[0] in RATED and vat[1] is None):
        return None
    return vat


def _delivery(
    order: Order, lines: Sequence[OrderLine], date: dt.date | None,
) -> Delivery | None:
    """Where the goods went; the order's requested dates are no invoice delivery date."""
    places = {
        (d.address, d.location_id, d.party_name) if d is not None else None
        for d in (order.delivery_for(line) for line in lines)
    }
    place = places.pop() if len(places) == 1 else None
    source = Delivery(address=place[0], location_id=place[1], party_name=place[2]) \
        if place is not None else None
    delivery = Delivery(
        date=date,
        address=source.address if source else None,
        location_id=source.location_id if source else None,
        party_name=source.party_name if source else None,
    )
    return None if delivery == Delivery() else delivery

def invoice_from_timecards(
    order: StaffingOrder, timecards: Sequence[TimeCard], *, number: str, issue_date: dt.date,
    vat_category: VatCategory = VatCategory.STANDARD,
    vat_rate: Decimal | None = None,
    per_timecard: bool = False,
    received: Sequence[TimeCard] = (),
    **fields: Any,
) -> Invoice:
    """The nacalculatie invoice for the approved hours on ``timecards``.

    Billable hours are summed per (order line, rate multiplier, hour type);
    each sum becomes one line priced at the order line's rate times the
    multiplier percentage, so the agency's own rates and approved hours fix
    the amount. A line names its timecard when its hours come from one;
    ``per_timecard`` splits lines per timecard so every line does. Expenses
    on the timecards are not invoiced here.

    A corrected timecard replaces the version sent before it
    (:attr:`TimeCard.corrects`). Of several versions in ``timecards`` only
    the one that stands is billed, its voided intervals left out; two
    versions of which it cannot tell the later are refused. ``received``
    may hold the other timecards the ERP has (every version it received):
    a timecard one of them replaces is refused, not billed. So is a
    correction under an id of its own that covers the worker's days on this
    order together with another timecard to bill: SETU-OHNL names no
    timecard a correction replaces, so either may be the one that stands.
    """
    document = f"staffing order {order.order_id}"
    vat_rate = chosen_vat(vat_category, vat_rate)
    if not timecards:
        raise BusinessError(f"no timecards to invoice for {document}")
    foreign = [card.id for card in timecards if card.order_reference != order.order_id]
    if foreign:
        raise BusinessError(
            f"timecard(s) {', '.join(map(repr, foreign))} do not belong to {document}"
        )
    timecards = _standing(timecards, received)
    unapproved = [card.id for card in timecards if card.status is not TimeCardStatus.APPROVED]
    if unapproved:
        raise BusinessError(
            f"timecard(s) {', '.join(map(repr, unapproved))} are not approved; only hours "
            "the agency approved may be invoiced"
        )

    groups: dict[tuple[str | None, Decimal, str, str | None], list[_Hours]] = {}
    for card in timecards:
        for interval in card.intervals:
            if (not interval.billable or interval.hours == 0
                    or interval.action is TimeCardAction.VOID):
                continue
            multiplier = interval.multiplier if interval.multiplier is not None else HUNDRED
            key = (interval.order_line_reference, multiplier.normalize(), interval.type,
                   card.id if per_timecard else None)
            groups.setdefault(key, []).append(_Hours(card, interval))
    if not groups:
        raise BusinessError(f"the timecards for {document} have no billable hours")

    rates = _rates(order, {key[0] for key in groups})
    _within_max_hours(order, rates, groups)
    currencies = {rates[key[0]].currency for key in groups}
    if len(currencies) > 1:
        raise BusinessError(
            f"the rates of {document} are in {', '.join(sorted(currencies))}; "
            "one invoice has one currency"
        )
    lines = tuple(
        _timecard_line(str(n), order, rates[key[0]], key[1], key[2], hours,
                       vat_category, vat_rate)
        for n, (key, hours) in enumerate(groups.items(), start=1)
    )
    card_ids = tuple(card.id for card in timecards)
    return Invoice.build(
        number=number,
        issue_date=issue_date,
        type=InvoiceType.DEBIT,
        currency=currencies.pop(),
        order_reference=OrderReference(id=order.order_id),
        timecard_references=card_ids,
        seller=order.supplier,
        buyer=order.customer,
        invoice_period=_union(card.period for card in timecards),
        accounting_cost=order.cost_centre,
        lines=lines,
        **fields,
    )


def _standing(
    timecards: Sequence[TimeCard], received: Sequence[TimeCard],
) -> tuple[TimeCard, ...]:
    """The timecards to bill: of each the version that stands, none replaced by one received."""
    seen: set[TimeCard] = set()
    copies: list[str] = []
    for card in timecards:
        if card in seen:
            copies.append(card.id)
        seen.add(card)
    if copies:
        raise BusinessError(
            f"the timecards list repeats timecard id(s) {', '.join(map(repr, copies))}, the "
            "very same version twice; give each version once")
    known = tuple(dict.fromkeys((*timecards, *received)))
    # Versions find each other by id: their own, and the one a correction names.
    by_id: dict[str, list[TimeCard]] = {}
    for card in known:
        for key in dict.fromkeys((card.id, card.corrects or card.id)):
            by_id.setdefault(key, []).append(card)
    standing = []
    for card in timecards:
        others = dict.fromkeys(
            other for key in dict.fromkeys((card.id, card.corrects or card.id))
            for other in by_id[key] if other != card and _versions(card, other))
        replacing = [other for other in others if _stands(card, other) is other]
        if any(other in seen for other in replacing):
            continue  # a later version of it is billed instead
        if replacing:
            raise BusinessError(
                f"{_describe(card)} was replaced by {_describe(replacing[0])}; bill the "
                "version that stands")
        standing.append(card)
    _no_unnamed_correction(standing, [card for card in known if card.corrects is not None])
    return tuple(standing)


def _versions(a: TimeCard, b: TimeCard) -> bool:
    """Whether ``a`` and ``b`` are versions of one timecard: one id, or one corrects the other."""
    return a.id == b.id or a.corrects == b.id or b.corrects == a.id


def _stands(a: TimeCard, b: TimeCard) -> TimeCard:
    """Of two versions of one timecard, the one that stands; refused when that is unclear."""
    a_corrects, b_corrects = a.corrects == b.id, b.corrects == a.id
    later = _later(a, b)
    if a_corrects != b_corrects:
        newer, older = (a, b) if a_corrects else (b, a)
        if later is not older:
            return newer
        why = "the correction is dated before the version it corrects"
    elif a_corrects:
        if later is not None:
            return later
        why = ("both are corrections and their moments of submission or approval do not tell "
               "which came later")
    else:
        why = "neither is marked as a correction"
    raise BusinessError(
        f"{_describe(a)} and {_describe(b)} are two versions of one timecard and it cannot be "
        f"told which one stands: {why}; give only the version to bill")


def _moment(card: TimeCard) -> dt.datetime | None:
    """When this version was sent: submitted, else approved."""
    if card.submitted_at is not None:
        return card.submitted_at
    return card.approval.approved_at if card.approval is not None else None


def _later(a: TimeCard, b: TimeCard) -> TimeCard | None:
    """The later version by its moment; None when either has none, or they do not differ."""
    first, second = _moment(a), _moment(b)
    # A moment with a zone and one without do not compare.
    if first is None or second is None or (first.tzinfo is None) != (second.tzinfo is None):
        return None
    if first == second:
        return None
    return a if first > second else b


def _describe(card: TimeCard) -> str:
    """The timecard as a person tells its versions apart: id, kind, moment, hours."""
    kind = "a correction" if card.corrects is not None else "not a correction"
    if card.submitted_at is not None:
        when = f"submitted {card.submitted_at.isoformat()}"
    elif card.approval is not None and card.approval.approved_at is not None:
        when = f"approved {card.approval.approved_at.isoformat()}"
    else:
        when = "no moment of submission or approval"
    return f"timecard {card.id!r} ({kind}, {when}, {card.billable_hours} billable hours)"


def _no_unnamed_correction(
    standing: Sequence[TimeCard], corrections: Sequence[TimeCard],
) -> None:
    """Refuse to bill a timecard next to a correction under another id for the same days."""
    for card in standing:
        for correction in corrections:
            if correction != card and not _versions(card, correction) and _same_days(
                    card, correction):
                raise BusinessError(
                    f"{_describe(correction)} covers days of worker {card.worker.name!r} on "
                    f"this order that {_describe(card)} covers too; SETU names no timecard a "
                    "correction replaces, so it cannot be told whether one replaces the "
                    "other: give only the timecard that stands")


def _same_days(a: TimeCard, b: TimeCard) -> bool:
    """Both book the same worker on the same order (and placement) in overlapping periods."""
    same_worker = (a.worker.id == b.worker.id if a.worker.id and b.worker.id
                   else a.worker.name == b.worker.name)
    placements = {a.assignment_id, b.assignment_id} - {None}
    return (same_worker and a.order_reference == b.order_reference and len(placements) <= 1
            and _overlap(a.period, b.period))


def _overlap(a: Period, b: Period) -> bool:
    # An open end reaches as far as it may.
    return ((a.start is None or b.end is None or a.start <= b.end)
            and (b.start is None or a.end is None or b.start <= a.end))


class _Hours:
    """Hours of one interval, with the timecard they were approved on."""

    __slots__ = ("card", "interval")

    def __init__(self, card: TimeCard, interval: TimeInterval) -> None:
        self.card = card
        self.interval = interval


def _rates(order: StaffingOrder, line_ids: set[str | None]) -> dict[str | None, StaffingRate]:
    """The rate billed per order line: the ``bill`` rate, or the line's only rate."""
    found: dict[str | None, StaffingRate] = {}
    missing: list[str] = []
    for line_id in line_ids:
        candidates = [r for r in order.rates if r.order_line_id == line_id]
        billed = [r for r in candidates if r.rate_type == "bill"] or candidates
        if len(billed) > 1:
            raise BusinessError(
                f"staffing order {order.order_id} has {len(billed)} rates for order line "
                f"{line_id!r} and none is marked as the bill rate"
            )
        if billed and billed[0].period.lower() not in HOURLY:
            raise BusinessError(
                f"staffing order {order.order_id} gives order line {line_id!r} a "
                f"{billed[0].period} rate; approved hours can only be priced at an hourly rate"
            )
        if billed:
            found[line_id] = billed[0]
        else:
            missing.append("(none)" if line_id is None else line_id)
    if missing:
        raise MissingLineData(
            "rate on the staffing order", sorted(missing),
            "the timecards book hours on order lines the order gives no rate for",
        )
    return found


def _within_max_hours(
    order: StaffingOrder, rates: Mapping[str | None, StaffingRate],
    groups: Mapping[tuple[str | None, Decimal, str, str | None], Sequence[_Hours]],
) -> None:
    """Refuse more hours on an order line than its rate allows.

    Only this invoice's hours are counted: what earlier invoices used up is
    the ERP's ledger, not something the documents at hand can tell.
    """
    booked: dict[str | None, Decimal] = {}
    for key, hours in groups.items():
        booked[key[0]] = booked.get(key[0], Decimal(0)) + sum(
            (h.interval.hours for h in hours), Decimal(0))
    over = [
        f"{line_id!r} ({total} > {rates[line_id].max_hours})"
        for line_id, total in booked.items()
        if (cap := rates[line_id].max_hours) is not None and total > cap
    ]
    if over:
        raise BusinessError(
            f"the timecards book more hours than staffing order {order.order_id} allows on "
            f"order line(s) {', '.join(over)}"
        )


def _timecard_line(
    line_id: str, order: StaffingOrder, rate: StaffingRate, multiplier: Decimal,
    hour_type: str, hours: Sequence[_Hours], vat_category: VatCategory,
    vat_rate: Decimal | None,
) -> InvoiceLine:
    cards = tuple(dict.fromkeys(h.card.id for h in hours))
    days = [d for h in hours for d in _days(h.interval)]
    return InvoiceLine(
        id=line_id,
        quantity=Quantity(value=sum((h.interval.hours for h in hours), Decimal(0)),
                          unit_code=HOURS),
        # Exact: the rate times a percentage has at most two more decimals.
        price=Price(amount=rate.amount * multiplier / HUNDRED),
        item=Item(
            name=f"{hour_type} {multiplier:f}%",
            description=rate.description or order.position_description,
        ),
        vat_category=vat_category,
        vat_rate=vat_rate,
        order_line_reference=rate.order_line_id,
        timecard_reference=cards[0] if len(cards) == 1 else None,
        period=Period(start=min(days), end=max(days)),
        accounting_cost=rate.cost_centre,
    )


def _days(interval: TimeInterval) -> tuple[dt.date, ...]:
    def day(moment: dt.date) -> dt.date:
        return moment.date() if isinstance(moment, dt.datetime) else moment

    if interval.end is None:
        return (day(interval.start),)
    return (day(interval.start), day(interval.end))


def _union(periods: Iterable[Period]) -> Period | None:
    """The span covering every period; an open end on any of them stays open."""
    spans = tuple(periods)
    starts = [p.start for p in spans]
    ends = [p.end for p in spans]
    start = None if None in starts else min(s for s in starts if s is not None)
    end = None if None in ends else max(e for e in ends if e is not None)
    if start is None and end is None:
        return None
    return Period(start=start, end=end)

