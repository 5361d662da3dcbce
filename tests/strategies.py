"""Hypothesis strategies and fixed examples of canonical documents, for any test to reuse.

Strategies: ``invoices()`` (built, so their totals are consistent),
``orders()``, ``order_responses()``, ``requests_for_quotation()``,
``quotations()``, ``rfq_cancellations()``, ``staffing_orders()``,
``human_resources()``, ``timecards()`` and ``documents()`` (any of them), plus
the parts they are made of.

Examples: ``example_invoice()``, ``example_credit_note()``, ... and
``example_documents()``, hand-written documents shaped like the OHNL, SETU and
EN 16931 samples.

Checks: ``assert_same(a, b)`` (equal, and every Decimal with the same scale)
and ``assert_valid(json_data)`` (fits the published JSON Schema).

Sizes are kept small so a property test of 100-200 examples runs in seconds.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, TypeVar

import attrs
import jsonschema
from hypothesis import strategies as st

from gateway.kinds import DocumentKind
from gateway.model import (
    Address,
    AllowanceCharge,
    AnticipatedTotals,
    Approval,
    Attachment,
    CanonicalDocument,
    Contact,
    Delivery,
    DeliveryTerms,
    DocumentReference,
    HumanResource,
    HumanResourceStatus,
    Invoice,
    InvoiceLine,
    InvoiceType,
    Item,
    ItemClassification,
    ItemProperty,
    LineResponse,
    LineStatus,
    Order,
    OrderLine,
    OrderReference,
    OrderResponse,
    Party,
    PartyId,
    PaymentMeans,
    PaymentTerms,
    Period,
    Price,
    Quantity,
    Quotation,
    QuotationLine,
    RequestForQuotation,
    RequestForQuotationCancellation,
    RequestForQuotationLine,
    ResponseStatus,
    StaffingOrder,
    StaffingRate,
    StandardItemId,
    TaxSubtotal,
    TimeCard,
    TimeCardAction,
    TimeCardExpense,
    TimeCardStatus,
    TimeInterval,
    VatCategory,
    VatExemption,
    Worker,
)
from gateway.model.json import MAX_DIGITS_AROUND_POINT
from gateway.model.jsonschema import json_schema
from gateway.model.shape import fields_of, is_record

T = TypeVar("T")

D = Decimal

# -- building blocks ----------------------------------------------------------------------------

_ALPHABET = "abcdefghijklmnopqrstuvwxyzABCXYZ0123456789 -./@éëß€&'\"<>"


def texts(max_size: int = 8) -> st.SearchStrategy[str]:
    """Non-empty text, including characters that need escaping in JSON and XML."""
    return st.text(alphabet=_ALPHABET, min_size=1, max_size=max_size)


def optional(strategy: st.SearchStrategy[T]) -> st.SearchStrategy[T | None]:
    """``strategy`` or None."""
    return st.none() | strategy


def tuples_of(strategy: st.SearchStrategy[T], *, min_size: int = 0, max_size: int = 2) -> (
    st.SearchStrategy[tuple[T, ...]]
):
    """Tuples of ``strategy`` values."""
    return st.lists(strategy, min_size=min_size, max_size=max_size).map(tuple)


def decimals(
    min_value: str | int, max_value: str | int, *, max_places: int = 4
) -> st.SearchStrategy[Decimal]:
    """Decimals in a range with 0 to ``max_places`` decimals, scale kept (``1.50`` stays)."""
    return st.integers(0, max_places).flatmap(
        lambda places: st.decimals(
            min_value=D(min_value), max_value=D(max_value), places=places,
            allow_nan=False, allow_infinity=False,
        )
    )


def amounts(min_value: str | int = 0, max_value: str | int = 10_000) -> (
    st.SearchStrategy[Decimal]
):
    """Money amounts with two decimals, as EN 16931 writes them."""
    return st.decimals(
        min_value=D(min_value), max_value=D(max_value), places=2,
        allow_nan=False, allow_infinity=False,
    )


def any_decimals() -> st.SearchStrategy[Decimal]:
    """Any finite Decimal canonical JSON takes, odd exponents included (``1E+2``, ``-0.000``).

    At most MAX_DIGITS_AROUND_POINT digits either side of the point: beyond that the
    reader refuses.
    """
    def in_range(value: Decimal) -> bool:
        exponent = value.as_tuple().exponent
        return (isinstance(exponent, int) and value.adjusted() < MAX_DIGITS_AROUND_POINT
                and -exponent <= MAX_DIGITS_AROUND_POINT)

    return st.decimals(allow_nan=False, allow_infinity=False).filter(in_range)


def dates() -> st.SearchStrategy[dt.date]:
    return st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2040, 12, 31))


def datetimes() -> st.SearchStrategy[dt.datetime]:
    """Naive and offset-aware datetimes, with and without microseconds."""
    naive = st.datetimes(min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2040, 1, 1))
    offsets = st.sampled_from([dt.UTC, dt.timezone(dt.timedelta(hours=2))])
    return naive | st.builds(lambda d, tz: d.replace(tzinfo=tz), naive, offsets)


def times() -> st.SearchStrategy[dt.time]:
    return st.times()


def currencies() -> st.SearchStrategy[str]:
    return st.sampled_from(["EUR", "USD", "GBP"])


def country_codes() -> st.SearchStrategy[str]:
    return st.sampled_from(["NL", "BE", "DE"])


def periods() -> st.SearchStrategy[Period]:
    def build(a: dt.date, b: dt.date, shape: str, code: str | None) -> Period:
        start, end = min(a, b), max(a, b)
        if shape == "open-end":
            return Period(start=start, description_code=code)
        if shape == "open-start":
            return Period(end=end, description_code=code)
        return Period(start=start, end=end, description_code=code)

    return st.builds(
        build, dates(), dates(), st.sampled_from(["both", "open-end", "open-start"]),
        optional(st.sampled_from(["I", "D", "35"])),
    )


def party_ids() -> st.SearchStrategy[PartyId]:
    return st.builds(
        PartyId,
        scheme=st.sampled_from(["OIN", "KvK", "Vest", "BTW", "GLN", "Fi", "0190", "0106"]),
        value=texts(),
    )


def addresses() -> st.SearchStrategy[Address]:
    return st.builds(
        Address,
        street=optional(texts()),
        additional_street=optional(texts()),
        address_line=optional(texts()),
        building_number=optional(st.from_regex(r"[1-9][0-9]{0,3}", fullmatch=True)),
        building_addition=optional(texts(4)),
        postbox=optional(texts(6)),
        postal_zone=optional(texts(7)),
        city=optional(texts()),
        country_subdivision=optional(texts()),
        country_code=optional(country_codes()),
    )


def contacts() -> st.SearchStrategy[Contact]:
    return st.builds(
        Contact, name=optional(texts()), telephone=optional(texts()), email=optional(texts())
    )


def parties() -> st.SearchStrategy[Party]:
    return st.builds(
        Party,
        name=optional(texts()),
        registration_name=optional(texts()),
        ids=tuples_of(party_ids(), max_size=3),
        legal_id=optional(party_ids()),
        legal_form=optional(texts()),
        vat_id=optional(texts()),
        tax_registration_id=optional(texts()),
        address=optional(addresses()),
        contact=optional(contacts()),
        endpoint_id=optional(party_ids()),
    )


def attachments() -> st.SearchStrategy[Attachment]:
    embedded = st.builds(
        Attachment,
        content=st.binary(max_size=24),
        mime_type=st.sampled_from(["application/pdf", "image/png", "text/csv"]),
        filename=optional(texts()),
        description=optional(texts()),
        uri=optional(texts()),
    )
    linked = st.builds(
        Attachment, uri=texts(), mime_type=optional(st.just("application/pdf")),
        description=optional(texts()),
    )
    return embedded | linked


def document_references() -> st.SearchStrategy[DocumentReference]:
    return st.builds(
        DocumentReference,
        id=texts(),
        type_code=optional(st.sampled_from(["130", "916", "Contract"])),
        issue_date=optional(dates()),
        description=optional(texts()),
        attachment=optional(attachments()),
    )


def order_references() -> st.SearchStrategy[OrderReference]:
    return st.builds(
        OrderReference, id=texts(), sales_order_id=optional(texts()), issue_date=optional(dates())
    )


def quantities(min_value: str | int = -1000, max_value: str | int = 10_000) -> (
    st.SearchStrategy[Quantity]
):
    return st.builds(
        Quantity,
        value=decimals(min_value, max_value, max_places=3),
        unit_code=st.sampled_from(["EA", "HUR", "DAY", "KGM", "C62", "regular"]),
    )


def items() -> st.SearchStrategy[Item]:
    return st.builds(
        Item,
        name=texts(),
        description=optional(texts()),
        seller_item_id=optional(texts()),
        buyer_item_id=optional(texts()),
        standard_item_id=optional(
            st.builds(StandardItemId, scheme=st.just("0160"), value=texts())
        ),
        classifications=tuples_of(
            st.builds(
                ItemClassification, code=texts(), list_id=st.sampled_from(["MP", "STI"]),
                list_version=optional(texts(4)),
            )
        ),
        properties=tuples_of(st.builds(ItemProperty, name=texts(), value=texts())),
        origin_country=optional(country_codes()),
    )


def prices() -> st.SearchStrategy[Price]:
    return st.builds(
        Price,
        amount=decimals(0, 5_000, max_places=4),
        base_quantity=optional(quantities(1, 100)),
        gross_amount=optional(decimals(0, 5_000, max_places=2)),
        discount=optional(amounts(0, 100)),
    )


VAT_RATES: list[tuple[VatCategory, Decimal | None]] = [
    (VatCategory.STANDARD, D("21")),
    (VatCategory.STANDARD, D("21.00")),  # the same group as 21
    (VatCategory.STANDARD, D("9")),
    (VatCategory.ZERO_RATED, D("0")),
    (VatCategory.EXEMPT, D("0")),
    (VatCategory.REVERSE_CHARGE, D("0")),
    (VatCategory.NOT_SUBJECT, None),
]


def vat_rates() -> st.SearchStrategy[tuple[VatCategory, Decimal | None]]:
    """(category, rate) pairs as invoices use them, 21 and 21.00 both."""
    return st.sampled_from(VAT_RATES)


def line_allowance_charges() -> st.SearchStrategy[AllowanceCharge]:
    """Allowances and charges on a line: no VAT of their own."""
    return st.builds(
        AllowanceCharge,
        is_charge=st.booleans(),
        amount=amounts(0, 100),
        reason=optional(texts()),
        reason_code=optional(st.sampled_from(["95", "100", "FC"])),
    )


def document_allowance_charges() -> st.SearchStrategy[AllowanceCharge]:
    """Allowances and charges on the document: each with a VAT category and rate."""

    def build(
        is_charge: bool, amount: Decimal, vat: tuple[VatCategory, Decimal | None],
        reason: str | None, percentage: Decimal | None,
    ) -> AllowanceCharge:
        if percentage is not None:
            return AllowanceCharge.percent_of(
                amount, percentage, is_charge=is_charge, reason=reason,
                vat_category=vat[0], vat_rate=vat[1],
            )
        return AllowanceCharge(
            is_charge=is_charge, amount=amount, reason=reason,
            vat_category=vat[0], vat_rate=vat[1],
        )

    return st.builds(
        build, st.booleans(), amounts(0, 500), vat_rates(), optional(texts()),
        optional(decimals(0, 20, max_places=2)),
    )


def delivery_terms() -> st.SearchStrategy[DeliveryTerms]:
    return st.builds(
        DeliveryTerms,
        code=optional(st.sampled_from(["EXW", "DDP", "FCA"])),
        description=optional(texts()),
        location=optional(texts()),
    )


def deliveries() -> st.SearchStrategy[Delivery]:
    return st.builds(
        Delivery,
        date=optional(dates()),
        period=optional(periods()),
        address=optional(addresses()),
        location_id=optional(party_ids()),
        party_name=optional(texts()),
        contact=optional(contacts()),
        terms=optional(delivery_terms()),
    )


def payment_means() -> st.SearchStrategy[PaymentMeans]:
    return st.builds(
        PaymentMeans,
        code=st.sampled_from(["30", "31", "49", "58"]),
        text=optional(texts()),
        account_id=optional(st.just("NL87ABNA0123456789")),
        account_name=optional(texts()),
        bic=optional(st.just("ABNANL2A")),
        payment_id=optional(texts()),
        mandate_reference=optional(texts()),
        debited_account=optional(texts()),
    )


def tax_subtotals() -> st.SearchStrategy[TaxSubtotal]:
    """Stated subtotals, not necessarily consistent with anything (for orders, quotations)."""
    return vat_rates().flatmap(
        lambda vat: st.builds(
            TaxSubtotal,
            category=st.just(vat[0]),
            rate=st.just(vat[1]),
            taxable_amount=amounts(-1000, 10_000),
            tax_amount=amounts(-100, 2_000),
            exemption_reason=optional(texts()),
            exemption_reason_code=optional(st.just("VATEX-EU-AE")),
        )
    )


def anticipated_totals() -> st.SearchStrategy[AnticipatedTotals]:
    return st.builds(
        AnticipatedTotals,
        line_extension=optional(amounts()),
        allowance_total=optional(amounts()),
        charge_total=optional(amounts()),
        tax_exclusive=optional(amounts()),
        tax_total=optional(amounts()),
        tax_inclusive=optional(amounts()),
        prepaid=optional(amounts()),
        rounding=optional(amounts(-1, 1)),
        payable=amounts(),
    )


# -- invoices -----------------------------------------------------------------------------------


def invoice_lines() -> st.SearchStrategy[InvoiceLine]:
    """Invoice lines whose net amount the model computes."""

    def build(
        id: str, quantity: Quantity, price: Price,
        allowance_charges: tuple[AllowanceCharge, ...], item: Item,
        vat: tuple[VatCategory, Decimal | None], extra: dict[str, Any],
    ) -> InvoiceLine:
        return InvoiceLine(
            id=id, quantity=quantity, price=price, allowance_charges=allowance_charges,
            item=item, vat_category=vat[0], vat_rate=vat[1], **extra,
        )

    extras = st.fixed_dictionaries(
        {},
        optional={
            "vat_amount": amounts(0, 1000),
            "order_line_reference": texts(),
            "timecard_reference": texts(),
            "period": periods(),
            "notes": tuples_of(texts(), min_size=1),
            "accounting_cost": texts(),
        },
    )
    return st.builds(
        build, texts(6), quantities(), prices(), tuples_of(line_allowance_charges()), items(),
        vat_rates(), extras,
    )


def invoices(invoice_type: InvoiceType | None = None) -> st.SearchStrategy[Invoice]:
    """Invoices made by :meth:`Invoice.build`, debit or credit unless ``invoice_type`` says."""
    types = st.just(invoice_type) if invoice_type else st.sampled_from(list(InvoiceType))
    exemptions = st.fixed_dictionaries(
        {},
        optional={
            VatCategory.EXEMPT: st.builds(VatExemption, reason=texts(), code=optional(texts())),
            VatCategory.REVERSE_CHARGE: st.builds(
                VatExemption, reason=optional(texts()), code=st.just("VATEX-EU-AE")
            ),
        },
    )
    optional_fields = st.fixed_dictionaries(
        {},
        optional={
            "proposal": st.booleans(),
            "type_code": st.sampled_from(["380", "381", "384", "389"]),
            "tax_currency": currencies(),
            "tax_point_date": dates(),
            "due_date": dates(),
            "buyer_reference": texts(),
            "order_reference": order_references(),
            "billing_references": tuples_of(document_references(), min_size=1),
            "contract_reference": texts(),
            "project_reference": texts(),
            "tender_reference": texts(),
            "receipt_reference": texts(),
            "timecard_references": tuples_of(texts(), min_size=1),
            "despatch_references": tuples_of(texts(), min_size=1),
            "other_references": tuples_of(document_references(), min_size=1),
            "payee": parties(),
            "tax_representative": parties(),
            "delivery": deliveries(),
            "invoice_period": periods(),
            "payment_means": tuples_of(payment_means(), min_size=1),
            "payment_terms": st.builds(PaymentTerms, note=texts()),
            "notes": tuples_of(texts(30), min_size=1),
            "accounting_cost": texts(),
            "attachments": tuples_of(attachments(), min_size=1),
            "tax_total_in_tax_currency": amounts(),
            "last_invoice_on_order": st.booleans(),
            "received_date": dates(),
            "prepaid": amounts(0, 1000),
            "rounding": amounts(-1, 1),
            "vat_exemptions": exemptions,
        },
    )
    return st.builds(
        lambda fields, **required: Invoice.build(**required, **fields),
        optional_fields,
        number=texts(),
        issue_date=dates(),
        type=types,
        currency=currencies(),
        seller=parties(),
        buyer=parties(),
        lines=tuples_of(invoice_lines(), min_size=1, max_size=5),
        allowance_charges=tuples_of(document_allowance_charges(), max_size=3),
    )


# -- orders -------------------------------------------------------------------------------------


def order_lines() -> st.SearchStrategy[OrderLine]:
    """Order lines without delivery data (see :func:`orders`)."""
    return vat_rates().flatmap(
        lambda vat: st.builds(
            OrderLine,
            id=texts(6),
            quantity=quantities(0, 10_000),
            price=optional(prices()),
            line_amount=optional(amounts()),
            item=items(),
            vat_category=optional(st.just(vat[0])),
            vat_rate=st.just(vat[1]),
            vat_amount=optional(amounts()),
            allowance_charges=tuples_of(line_allowance_charges()),
            partial_delivery_allowed=optional(st.booleans()),
            accounting_cost=optional(texts()),
            notes=tuples_of(texts()),
        )
    )


def orders() -> st.SearchStrategy[Order]:
    """Orders with delivery data on the header or on every line, as OHNL requires."""

    def place_delivery(
        lines: tuple[OrderLine, ...], delivery: Delivery | None, on_lines: bool,
        **fields: Any,
    ) -> Order:
        if delivery is not None and on_lines:
            lines = tuple(attrs.evolve(line, delivery=delivery) for line in lines)
            delivery = None
        return Order(lines=lines, delivery=delivery, **fields)

    return st.builds(
        place_delivery,
        tuples_of(order_lines(), min_size=1, max_size=3),
        optional(deliveries()),
        st.booleans(),
        number=texts(),
        issue_date=dates(),
        issue_time=optional(times()),
        order_type=optional(st.sampled_from(["220", "227"])),
        currency=currencies(),
        buyer=parties(),
        seller=parties(),
        invoicee=optional(parties()),
        buyer_reference=optional(texts()),
        customer_reference=optional(texts()),
        contract_reference=optional(texts()),
        quotation_reference=optional(texts()),
        project_reference=optional(texts()),
        other_references=tuples_of(document_references()),
        validity_period=optional(periods()),
        payment_terms=optional(st.builds(PaymentTerms, note=texts())),
        notes=tuples_of(texts()),
        accounting_cost=optional(texts()),
        attachments=tuples_of(attachments()),
        allowance_charges=tuples_of(document_allowance_charges()),
        tax_breakdown=tuples_of(tax_subtotals()),
        totals=optional(anticipated_totals()),
    )


def order_responses() -> st.SearchStrategy[OrderResponse]:
    line_responses = st.builds(
        LineResponse,
        line_id=texts(6),
        status=st.sampled_from(list(LineStatus)),
        quantity=optional(quantities(0)),
        delivery_date=optional(dates()),
        delivery_period=optional(periods()),
        note=optional(texts()),
    )
    return st.builds(
        OrderResponse,
        number=texts(),
        issue_date=dates(),
        issue_time=optional(times()),
        order_reference=order_references(),
        status=st.sampled_from(list(ResponseStatus)),
        seller=parties(),
        buyer=parties(),
        currency=optional(currencies()),
        note=optional(texts(30)),
        delivery=optional(deliveries()),
        line_responses=tuples_of(line_responses, max_size=3),
    )


# -- quotations ---------------------------------------------------------------------------------


def requests_for_quotation() -> st.SearchStrategy[RequestForQuotation]:
    lines = st.builds(
        RequestForQuotationLine,
        id=texts(6),
        quantity=quantities(0),
        item=items(),
        delivery=optional(deliveries()),
        accounting_cost=optional(texts()),
        notes=tuples_of(texts()),
        references=tuples_of(document_references()),
    )
    return st.builds(
        RequestForQuotation,
        number=texts(),
        issue_date=dates(),
        issue_time=optional(times()),
        currency=optional(currencies()),
        buyer=parties(),
        seller=parties(),
        requested_validity=optional(periods()),
        negotiation_style=optional(st.sampled_from(["E", "S"])),
        delivery=optional(deliveries()),
        notes=tuples_of(texts()),
        accounting_cost=optional(texts()),
        attachments=tuples_of(attachments()),
        lines=tuples_of(lines, min_size=1, max_size=3),
    )


def quotations() -> st.SearchStrategy[Quotation]:
    lines = st.builds(
        QuotationLine,
        id=texts(6),
        quantity=quantities(0),
        price=optional(prices()),
        line_amount=optional(amounts()),
        item=items(),
        vat_category=optional(st.sampled_from(list(VatCategory))),
        vat_rate=optional(decimals(0, 25, max_places=2)),
        allowance_charges=tuples_of(line_allowance_charges()),
        delivery=optional(deliveries()),
        rfq_line_reference=optional(texts()),
        accounting_cost=optional(texts()),
        notes=tuples_of(texts()),
        references=tuples_of(document_references()),
    )
    return st.builds(
        Quotation,
        number=texts(),
        issue_date=dates(),
        issue_time=optional(times()),
        currency=currencies(),
        rfq_reference=texts(),
        validity_period=optional(periods()),
        seller=parties(),
        buyer=parties(),
        delivery=optional(deliveries()),
        payment_terms=optional(st.builds(PaymentTerms, note=texts())),
        notes=tuples_of(texts()),
        attachments=tuples_of(attachments()),
        lines=tuples_of(lines, min_size=1, max_size=3),
        allowance_charges=tuples_of(document_allowance_charges()),
        tax_breakdown=tuples_of(tax_subtotals()),
        totals=optional(anticipated_totals()),
    )


def rfq_cancellations() -> st.SearchStrategy[RequestForQuotationCancellation]:
    references = st.sampled_from(["rfq", "quotation", "both"]).flatmap(
        lambda which: st.fixed_dictionaries(
            {
                **({"rfq_reference": texts()} if which != "quotation" else {}),
                **({"quotation_reference": texts()} if which != "rfq" else {}),
            }
        )
    )
    return st.builds(
        lambda refs, **fields: RequestForQuotationCancellation(**refs, **fields),
        references,
        number=texts(),
        issue_date=dates(),
        reason=optional(texts(30)),
        buyer=parties(),
        seller=parties(),
        accounting_cost=optional(texts()),
    )


# -- staffing -----------------------------------------------------------------------------------


def workers() -> st.SearchStrategy[Worker]:
    return st.builds(Worker, name=texts(), id=optional(texts()))


def staffing_orders() -> st.SearchStrategy[StaffingOrder]:
    rates = st.builds(
        StaffingRate,
        order_line_id=optional(texts(6)),
        amount=decimals(0, 300, max_places=2),
        currency=currencies(),
        period=st.sampled_from(["hourly", "daily"]),
        rate_type=optional(st.sampled_from(["pay", "bill"])),
        multiplier=optional(st.sampled_from([D("100.00"), D("125.00"), D("150")])),
        max_hours=optional(decimals(0, 2000, max_places=2)),
        cost_centre=optional(texts()),
        description=optional(texts()),
        start_date=optional(dates()),
    )

    def build(a: dt.date | None, b: dt.date | None, **fields: Any) -> StaffingOrder:
        if a is not None and b is not None:
            a, b = min(a, b), max(a, b)
        return StaffingOrder(start_date=a, end_date=b, **fields)

    return st.builds(
        build,
        optional(dates()),
        optional(dates()),
        order_id=texts(),
        issue_date=optional(dates()),
        order_type=optional(st.sampled_from(["order", "RFQ"])),
        order_status=optional(st.just("new")),
        master_order_id=optional(texts()),
        customer=parties(),
        supplier=parties(),
        contact=optional(contacts()),
        position_description=optional(texts(30)),
        position_quantity=optional(st.integers(0, 10)),
        worker=optional(workers()),
        rates=tuples_of(rates, max_size=3),
        work_site_name=optional(texts()),
        work_site=optional(addresses()),
        shift_hours=optional(decimals(0, 60, max_places=2)),
        shift_period=optional(st.just("weekly")),
        cost_centre=optional(texts()),
        offer_id=optional(texts()),
        inclusive_rate=optional(st.booleans()),
        notes=tuples_of(texts()),
        attachments=tuples_of(attachments()),
    )


def human_resources() -> st.SearchStrategy[HumanResource]:
    return st.builds(
        HumanResource,
        id=texts(),
        issue_date=optional(dates()),
        order_reference=texts(),
        status=st.sampled_from(list(HumanResourceStatus)),
        customer=parties(),
        supplier=parties(),
        candidate=optional(workers()),
        availability=optional(periods()),
        offer_id=optional(texts()),
        notes=tuples_of(texts()),
        attachments=tuples_of(attachments()),
    )


def approvals() -> st.SearchStrategy[Approval]:
    return st.builds(Approval, approver=optional(texts()), approved_at=optional(datetimes()))


def time_intervals() -> st.SearchStrategy[TimeInterval]:
    def moments(day: dt.date, moment: dt.datetime, as_datetime: bool) -> dt.date | dt.datetime:
        return moment if as_datetime else day

    def build(
        start: dt.date | dt.datetime, end_delta: int | None, rate: Decimal | None,
        currency: str, **fields: Any,
    ) -> TimeInterval:
        end = None if end_delta is None else start + dt.timedelta(hours=end_delta)
        return TimeInterval(
            start=start, end=end, rate=rate, currency=currency if rate is not None else None,
            **fields,
        )

    return st.builds(
        build,
        st.builds(moments, dates(), datetimes(), st.booleans()),
        optional(st.integers(0, 48)),
        optional(decimals(0, 200, max_places=2)),
        currencies(),
        id=optional(texts()),
        type=st.sampled_from(["Regular", "Overtime", "Shift", "regular"]),
        hours=decimals(0, 24, max_places=2),
        billable=st.booleans(),
        multiplier=optional(st.sampled_from([D("100.00"), D("150.00"), D("125")])),
        rate_type=optional(st.sampled_from(["hourly", "hourlyconsolidated"])),
        order_line_reference=optional(texts(6)),
        approval=optional(approvals()),
        comment=optional(texts(30)),
        action=optional(st.sampled_from(list(TimeCardAction))),
    )


def timecards() -> st.SearchStrategy[TimeCard]:
    expenses = st.builds(
        TimeCardExpense,
        id=optional(texts()),
        type=st.sampled_from(["Avondmaaltijd", "Fietsvergoeding"]),
        period=optional(periods()),
        amount=amounts(0, 500),
        currency=currencies(),
        order_line_reference=optional(texts(6)),
        comment=optional(texts()),
        action=optional(st.sampled_from(list(TimeCardAction))),
    )
    return st.builds(
        TimeCard,
        id=texts(),
        status=st.sampled_from(list(TimeCardStatus)),
        order_reference=optional(texts()),
        assignment_id=optional(texts()),
        customer=parties(),
        supplier=parties(),
        worker=workers(),
        period=periods(),
        submitted_at=optional(datetimes()),
        approval=optional(approvals()),
        intervals=tuples_of(time_intervals(), max_size=4),
        expenses=tuples_of(expenses),
        notes=tuples_of(texts()),
        corrects=optional(texts()),
    )


def documents() -> st.SearchStrategy[CanonicalDocument]:
    """Any canonical document."""
    return st.one_of(
        invoices(),
        orders(),
        order_responses(),
        requests_for_quotation(),
        quotations(),
        rfq_cancellations(),
        staffing_orders(),
        human_resources(),
        timecards(),
    )


# -- fixed examples (they live in the model so plugins can declare them) ---------------


# -- checks -------------------------------------------------------------------------------------


def decimal_texts(value: Any) -> list[str]:
    """Every Decimal in ``value`` as ``str()``, in field order: equality ignores scale."""
    if isinstance(value, Decimal):
        return [str(value)]
    if isinstance(value, tuple):
        return [text for item in value for text in decimal_texts(item)]
    if is_record(type(value)):
        return [
            text
            for info in fields_of(type(value))
            for text in decimal_texts(getattr(value, info.name))
        ]
    return []


def assert_same(a: Any, b: Any) -> None:
    """``a == b``, and their Decimals have the same scale (Decimal("1.0") == Decimal("1.00"))."""
    assert a == b
    assert decimal_texts(a) == decimal_texts(b)


_validators: dict[DocumentKind, jsonschema.Draft202012Validator] = {}


def validator(kind: DocumentKind) -> jsonschema.Draft202012Validator:
    """A cached JSON Schema validator for ``kind`` that also checks formats (dates)."""
    if kind not in _validators:
        schema = json_schema(kind)
        jsonschema.Draft202012Validator.check_schema(schema)
        _validators[kind] = jsonschema.Draft202012Validator(
            schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
        )
    return _validators[kind]


def assert_valid(data: dict[str, Any]) -> None:
    """Canonical JSON ``data`` fits the schema of its document kind."""
    kind = DocumentKind(data["document"])
    errors = sorted(validator(kind).iter_errors(data), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)
