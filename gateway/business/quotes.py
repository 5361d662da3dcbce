"""The supplier's quotation in answer to a request for quotation (OHNL 1.8 quote flow).

Lines answer the request's lines one for one, referring to them by id, so
the agency can match every price to what it asked for.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal

from gateway.business.checks import chosen_vat, require_unique
from gateway.business.errors import BusinessError, MissingLineData, UnknownLines
from gateway.model import (
    AnticipatedTotals,
    Period,
    Price,
    Quotation,
    QuotationLine,
    RequestForQuotation,
    TaxSubtotal,
    VatCategory,
)
from gateway.model.tax import TaxableAmount, line_net_amount, round_amount, vat_breakdown


def quotation_from_rfq(
    rfq: RequestForQuotation, *, number: str, issue_date: dt.date,
    prices: Mapping[str, Decimal], validity: Period,
    currency: str | None = None,
    vat_category: VatCategory | None = None, vat_rate: Decimal | None = None,
    issue_time: dt.time | None = None,
) -> Quotation:
    """Quote ``prices`` (net, per unit, by request line id) for every line of ``rfq``.

    The currency is the one the request asks prices in; ``currency`` is only
    needed when the request names none, and may not contradict it. With
    ``vat_category`` (and ``vat_rate``) the quotation carries its VAT
    breakdown and totals; without, no totals, since the amount payable is unknown.
    Category S without a rate is 21 %; a rate under a category that charges no
    VAT is refused, as :func:`invoice_from_timecards` does.
    """
    document = f"request for quotation {rfq.number}"
    require_unique(document, "line id(s)", (line.id for line in rfq.lines))
    unknown = [i for i in prices if i not in {line.id for line in rfq.lines}]
    if unknown:
        raise UnknownLines(document, unknown)
    missing = [line.id for line in rfq.lines if line.id not in prices]
    if missing:
        raise MissingLineData("price", missing, "a quotation prices every line asked for")
    if rfq.currency is not None and currency is not None and currency != rfq.currency:
        raise BusinessError(f"{document} asks for prices in {rfq.currency}, not {currency}")
    quoted_currency = currency or rfq.currency
    if quoted_currency is None:
        raise BusinessError(f"{document} names no currency; pass currency=")
    if vat_category is None and vat_rate is not None:
        raise BusinessError("a VAT rate needs its VAT category")
    if vat_category is not None:
        # The same choice as for a timecard invoice: S defaults to 21 %, and a rate
        # under an exempt/zero category (or none under L/M) is refused, so the quoted
        # VAT is never one the invoice for the same supply would not charge.
        vat_rate = chosen_vat(vat_category, vat_rate)

    lines = tuple(
        QuotationLine(
            id=line.id,
            quantity=line.quantity,
            price=Price(amount=prices[line.id]),
            line_amount=line_net_amount(line.quantity.value, prices[line.id]),
            item=line.item,
            vat_category=vat_category,
            vat_rate=vat_rate,
            delivery=line.delivery,
            rfq_line_reference=line.id,
            accounting_cost=line.accounting_cost,
        )
        for line in rfq.lines
    )
    net = round_amount(sum((line.line_amount or Decimal(0) for line in lines), Decimal(0)))
    breakdown: tuple[TaxSubtotal, ...] = ()
    totals = None
    if vat_category is not None:
        breakdown = vat_breakdown([TaxableAmount(category=vat_category, rate=vat_rate,
                                                 amount=net)])
        tax = sum((s.tax_amount for s in breakdown), Decimal(0))
        totals = AnticipatedTotals(
            line_extension=net, tax_exclusive=net, tax_total=tax, tax_inclusive=net + tax,
            payable=net + tax,
        )
    return Quotation(
        number=number,
        issue_date=issue_date,
        issue_time=issue_time,
        currency=quoted_currency,
        rfq_reference=rfq.number,
        validity_period=validity,
        seller=rfq.seller,
        buyer=rfq.buyer,
        delivery=rfq.delivery,
        lines=lines,
        tax_breakdown=breakdown,
        totals=totals,
    )
