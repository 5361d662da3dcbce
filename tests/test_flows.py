"""End-to-end business flows through the real formats, business functions and validator.

Each flow decodes a published example, answers it with the business
functions in gateway/business, encodes the answer in a real format, validates
it with the installed standards and decodes it back, checking every reference
(order number, line ids, timecard ids, OINs) by value.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import pytest

from gateway.business.invoicing import invoice_from_order, invoice_from_timecards
from gateway.business.quotes import quotation_from_rfq
from gateway.business.responses import LineChange, accept_with_changes
from gateway.formats import EncodeContext, Format
from gateway.model import (
    HumanResource,
    HumanResourceStatus,
    Invoice,
    LineStatus,
    Order,
    OrderResponse,
    PartyId,
    Period,
    Quotation,
    RequestForQuotation,
    ResponseStatus,
    StaffingOrder,
    TimeCard,
    TimeCardStatus,
    VatCategory,
    Worker,
    samples,
)
from gateway.pluginmanager import build_registry, make_plugin_manager
from gateway.validation.engine import Validator

STANDARDS = Path(__file__).resolve().parents[2] / "shared" / "standards"
OHNL_19 = STANDARDS / "ubl-ohnl" / "1.9" / "xml"
OHNL_18 = STANDARDS / "ubl-ohnl" / "1.8" / "xml"
PEPPOL_ORDERS = STANDARDS / "peppol-bis-ordering-3" / "examples"
SETU = STANDARDS / "hr-xml-ohnl" / "ohnl-2.0" / "xml"

REGISTRY = build_registry(make_plugin_manager())
TEST_OIN = "00000099003214345001"
ISSUED = dt.date(2026, 11, 2)


def fmt(key: str) -> Format:
    return REGISTRY.format(key)


def example(path: Path) -> bytes:
    if not path.is_file():
        pytest.skip(f"{path} is not present")
    return path.read_bytes()


@pytest.fixture(scope="module")
def validator(installed_standards: Path) -> Validator:
    return Validator(installed_standards)


def assert_valid(validator: Validator, format_: Format, data: bytes) -> None:
    report = validator.validate(data, format_.layers(), format_key=format_.key)
    assert report.valid, "\n".join(
        f"{f.severity} {f.layer} {f.location}: {f.text}" for f in report.findings)


def decode(format_: Format, data: bytes) -> Any:
    return format_.decode(data).document


def test_goods_flow_ubl_ohnl_19(validator: Validator) -> None:
    order_fmt = fmt("ubl-ohnl:order:1.9")
    order = decode(order_fmt, example(OHNL_19 / "UBL-Order-Example09.xml"))
    assert isinstance(order, Order)
    changed = order.lines[0]
    new_quantity = changed.quantity.value + 1
    response = accept_with_changes(
        order, {changed.id: LineChange(quantity=new_quantity)}, number="OR-1",
        issue_date=ISSUED, sales_order_id="SO-1")

    response_fmt = fmt("ubl-ohnl:order-response:1.9")
    encoded = response_fmt.encode(response, EncodeContext(answers=order,
                                                          supplier_number="LEV-123"))
    assert_valid(validator, response_fmt, encoded)
    back = decode(response_fmt, encoded)
    assert isinstance(back, OrderResponse)
    assert back.order_reference.id == order.number
    assert [r.line_id for r in back.line_responses] == [ln.id for ln in order.lines]
    answer = next(r for r in back.line_responses if r.line_id == changed.id)
    assert answer.quantity is not None
    assert answer.quantity.value == new_quantity

    invoice = invoice_from_order(
        order, number="INV-1", issue_date=ISSUED, confirmed_by=back, delivery_date=ISSUED,
        prices={ln.id: Decimal("12.50") for ln in order.lines})
    invoice_fmt = fmt("ubl-ohnl:invoice:1.9")
    encoded_invoice = invoice_fmt.encode(invoice, EncodeContext())
    assert_valid(validator, invoice_fmt, encoded_invoice)
    decoded = decode(invoice_fmt, encoded_invoice)
    assert isinstance(decoded, Invoice)
    assert decoded.order_reference is not None
    assert decoded.order_reference.id == order.number
    # The order's own charge and discount (no VAT category there: the lines' one).
    assert [(ac.is_charge, ac.amount) for ac in decoded.allowance_charges] == [
        (ac.is_charge, ac.amount) for ac in order.allowance_charges]
    assert order.allowance_charges
    confirmed = {r.line_id: r.quantity.value if r.quantity else None
                 for r in back.line_responses}
    ordered = {ln.id: ln.quantity.value for ln in order.lines}
    assert {ln.order_line_reference for ln in decoded.lines} == set(ordered)
    for line in decoded.lines:
        assert line.order_line_reference in ordered
        expected = confirmed[line.order_line_reference] or ordered[line.order_line_reference]
        assert line.quantity.value == expected
    assert next(ln for ln in decoded.lines
                if ln.order_line_reference == changed.id).quantity.value == new_quantity
    assert decoded.arithmetic_errors() == []


def test_quote_flow_ubl_ohnl_18(validator: Validator) -> None:
    rfq_fmt = fmt("ubl-ohnl:request-for-quotation:1.8")
    rfq = decode(rfq_fmt, example(OHNL_18 / "UBL-RFQ-Example15.xml"))
    assert isinstance(rfq, RequestForQuotation)
    # Numbered as the quotation the published 1.8 order examples accept (55889).
    quotation = quotation_from_rfq(
        rfq, number="55889", issue_date=ISSUED,
        prices={ln.id: Decimal("9.95") for ln in rfq.lines},
        vat_category=VatCategory.STANDARD, vat_rate=Decimal("21"),
        validity=Period(start=ISSUED, end=ISSUED + dt.timedelta(days=30)))
    # The published RFQs identify the seller by name only, but a UBL-OHNL
    # quotation needs a PartyIdentification for it: the supplier adds its own.
    quotation = attrs.evolve(quotation, seller=attrs.evolve(
        quotation.seller, ids=(*quotation.seller.ids, PartyId(scheme="KvK", value="12345678"))))
    assert [(ln.id, ln.rfq_line_reference) for ln in quotation.lines] == [
        (ln.id, ln.id) for ln in rfq.lines]
    quotation_fmt = fmt("ubl-ohnl:quotation:1.8")
    encoded = quotation_fmt.encode(quotation, EncodeContext())
    assert_valid(validator, quotation_fmt, encoded)
    back = decode(quotation_fmt, encoded)
    assert isinstance(back, Quotation)
    assert back.number == quotation.number
    assert back.rfq_reference == rfq.number
    assert [ln.price.amount if ln.price else None for ln in back.lines] == [
        Decimal("9.95")] * len(rfq.lines)
    assert [ln.id for ln in back.lines] == [ln.id for ln in rfq.lines]

    order_fmt = fmt("ubl-ohnl:order:1.8")
    data = example(OHNL_18 / "UBL-Order-Example09.xml")
    assert_valid(validator, order_fmt, data)
    order = decode(order_fmt, data)
    assert isinstance(order, Order)
    assert order.lines
    assert order.quotation_reference == back.number


def test_goods_flow_peppol_basisorder_rijk(validator: Validator) -> None:
    order_fmt = fmt("peppol-bis:order:3")
    order = decode(order_fmt, example(PEPPOL_ORDERS / "Order_Example.xml"))
    assert isinstance(order, Order)
    oins = [p.value for p in (order.buyer.endpoint_id, order.buyer.legal_id, *order.buyer.ids)
            if p is not None and p.scheme == "0190"]
    if oins:
        agency_oin = oins[0]
    else:
        # The published T01 example is no Basisorder Rijk order: its buyer has no
        # OIN, so the test OIN is set on the buyer as an agency's order would.
        agency_oin = TEST_OIN
        oin = PartyId(scheme="0190", value=agency_oin)
        order = attrs.evolve(order, buyer=attrs.evolve(order.buyer, endpoint_id=oin,
                                                       legal_id=oin))
    changed = order.lines[0]
    new_quantity = changed.quantity.value + 1
    response = accept_with_changes(
        order, {changed.id: LineChange(quantity=new_quantity)}, number="OR-2",
        issue_date=ISSUED, sales_order_id="SO-2")
    context = EncodeContext(agency_oin=agency_oin, agency_name="Testagentschap")

    response_fmt = fmt("peppol-bis:order-response:3")
    encoded = response_fmt.encode(response, context)
    assert_valid(validator, response_fmt, encoded)
    back = decode(response_fmt, encoded)
    assert isinstance(back, OrderResponse)
    assert back.status is ResponseStatus.ACCEPTED_WITH_CHANGES
    assert back.order_reference.id == order.number
    assert back.buyer.endpoint_id == PartyId(scheme="0190", value=agency_oin)
    answer = next(r for r in back.line_responses if r.line_id == changed.id)
    assert answer.status is LineStatus.CHANGED
    assert answer.quantity is not None
    assert answer.quantity.value == new_quantity

    invoice = invoice_from_order(
        order, number="INV-2", issue_date=ISSUED, confirmed_by=back, delivery_date=ISSUED,
        prices={ln.id: Decimal("7.25") for ln in order.lines},
        vat={ln.id: (VatCategory.STANDARD, Decimal("21")) for ln in order.lines
             if ln.vat_category is None},
        due_date=ISSUED + dt.timedelta(days=30))
    # What the supplier alone knows and EN 16931 requires (BR-S-02): its VAT number.
    invoice = attrs.evolve(invoice, seller=attrs.evolve(invoice.seller, vat_id="NL001427507B01"))
    ordered = {ln.id: ln.quantity.value for ln in order.lines}
    for key in ("nlcius:invoice:1.0", "peppol-bis:invoice:3.0"):
        invoice_fmt = fmt(key)
        encoded_invoice = invoice_fmt.encode(invoice, context)
        assert_valid(validator, invoice_fmt, encoded_invoice)
        decoded = decode(invoice_fmt, encoded_invoice)
        assert isinstance(decoded, Invoice)
        assert decoded.order_reference is not None, key
        assert decoded.order_reference.id == order.number, key
        assert decoded.buyer.endpoint_id == PartyId(scheme="0190", value=agency_oin), key
        assert {ln.order_line_reference for ln in decoded.lines} == set(ordered), key
        for line in decoded.lines:
            assert line.order_line_reference is not None
            expected = new_quantity if line.order_line_reference == changed.id else ordered[
                line.order_line_reference]
            assert line.quantity.value == expected, key
        assert decoded.arithmetic_errors() == [], key


def _day(moment: dt.date | dt.datetime) -> dt.date:
    return moment.date() if isinstance(moment, dt.datetime) else moment


def test_staffing_flow_setu_ohnl_20(validator: Validator) -> None:
    order = decode(fmt("setu-ohnl:staffing-order:2.0"),
                   example(SETU / "EBF_StaffingOrderNL_Order.xml"))
    assert isinstance(order, StaffingOrder)
    confirmation = HumanResource(
        id="HR-4", issue_date=ISSUED, order_reference=order.order_id,
        status=HumanResourceStatus.ACCEPTED, customer=order.customer, supplier=order.supplier,
        candidate=Worker(name="Uit Zender"), availability=Period(start=order.start_date),
        offer_id=order.offer_id)
    hr_fmt = fmt("setu-ohnl:human-resource:2.0")
    encoded_hr = hr_fmt.encode(confirmation, EncodeContext())
    assert_valid(validator, hr_fmt, encoded_hr)
    hr_back = decode(hr_fmt, encoded_hr)
    assert isinstance(hr_back, HumanResource)
    assert hr_back.order_reference == order.order_id
    assert hr_back.id == "HR-4"
    # SETU's HumanResource has no issue date (documented in the format module).
    assert hr_back == attrs.evolve(confirmation, issue_date=None)

    card = decode(fmt("setu-ohnl:timecard:2.0"), example(SETU / "EBF_Timecard.xml"))
    assert isinstance(card, TimeCard)
    assert card.status is TimeCardStatus.APPROVED
    # The EBF timecard example names no PurchaseOrderNumber; it belongs to the
    # EBF staffing order, so it is pointed at that order's id here.
    assert card.order_reference in (None, order.order_id)
    card = attrs.evolve(card, order_reference=order.order_id)
    # The EBF examples leave the order line empty (one rate, no line id), so
    # nothing could be checked by value; the order's rate and the timecard's
    # hours are given the order line id "1.1.1" as the scenario examples use.
    assert [r.order_line_id for r in order.rates] == [None]
    order = attrs.evolve(order, rates=(attrs.evolve(order.rates[0], order_line_id="1.1.1"),))
    card = attrs.evolve(card, intervals=tuple(
        attrs.evolve(i, order_line_reference="1.1.1") for i in card.intervals))
    week = dt.timedelta(days=7)
    assert card.period.start is not None
    assert card.period.end is not None
    second = attrs.evolve(
        card, id=f"{card.id}-2",
        period=Period(start=card.period.start + week, end=card.period.end + week),
        intervals=tuple(attrs.evolve(i, start=i.start + week,
                                     end=None if i.end is None else i.end + week)
                        for i in card.intervals))
    cards = [card, second]
    invoice = invoice_from_timecards(order, cards, number="INV-4", issue_date=ISSUED,
                                     per_timecard=True)
    assert invoice.order_reference is not None
    assert invoice.order_reference.id == order.order_id
    # The EBF staffing order names both parties by KvK number only; the SETU
    # invoice Schematron wants their addresses and the supplier's VAT number,
    # which the parties' master data (here the canonical samples) supplies.
    invoice = attrs.evolve(
        invoice,
        buyer=attrs.evolve(invoice.buyer, address=samples.AGENCY.address),
        seller=attrs.evolve(invoice.seller, address=samples.SUPPLIER.address,
                            vat_id=samples.SUPPLIER.vat_id))

    invoice_fmt = fmt("setu-ohnl:invoice:2.0")
    encoded = invoice_fmt.encode(invoice, EncodeContext())
    assert_valid(validator, invoice_fmt, encoded)
    back = decode(invoice_fmt, encoded)
    assert isinstance(back, Invoice)
    assert back.order_reference is not None
    assert back.order_reference.id == order.order_id
    assert set(back.timecard_references) == {card.id, second.id}
    assert {ln.timecard_reference for ln in back.lines} == {card.id, second.id}
    assert [ln.order_line_reference for ln in back.lines] == ["1.1.1", "1.1.1"]
    assert [ln.timecard_reference for ln in back.lines] == [card.id, second.id]
    assert [ln.quantity.value for ln in back.lines] == [card.billable_hours,
                                                        second.billable_hours]
    first_days = [ln.period.start if ln.period else None for ln in back.lines]
    assert first_days == [_day(card.intervals[0].start), _day(second.intervals[0].start)]
    assert back.arithmetic_errors() == []


ROUTES = (
    ("peppol-bis:invoice:3.0", "00000099003214345001", "Agentschap Een"),
    ("nlcius:invoice:1.0", "00000099003214345002", "Agentschap Twee"),
    ("ubl-ohnl:invoice:1.9", "00000099003214345003", "Agentschap Drie"),
)


def test_one_invoice_routed_to_three_agencies(validator: Validator) -> None:
    invoice = samples.example_invoice()
    # The sample names its own agency's OIN on the buyer; every route adds its
    # agency's OIN and refuses a contradicting one, so the buyer's OINs are
    # removed and the routing supplies them.
    buyer = invoice.buyer
    invoice = attrs.evolve(invoice, buyer=attrs.evolve(
        buyer, endpoint_id=None, legal_id=None,
        ids=tuple(p for p in buyer.ids if p.scheme not in ("OIN", "0190"))))
    seen: dict[str, bytes] = {}
    for key, oin, name in ROUTES:
        format_ = fmt(key)
        encoded = format_.encode(invoice, EncodeContext(agency_oin=oin, agency_name=name))
        assert_valid(validator, format_, encoded)
        assert oin.encode() in encoded, key
        for other_key, other_oin, _ in ROUTES:
            if other_key != key:
                assert other_oin.encode() not in encoded, (key, other_oin)
        decoded = decode(format_, encoded)
        assert isinstance(decoded, Invoice)
        buyer_oins = {p.value for p in (decoded.buyer.endpoint_id, decoded.buyer.legal_id,
                                        *decoded.buyer.ids)
                      if p is not None and p.scheme in ("OIN", "0190")}
        assert buyer_oins == {oin}, key
        assert decoded.number == invoice.number
        assert decoded.order_reference is not None
        assert invoice.order_reference is not None
        assert decoded.order_reference.id == invoice.order_reference.id
        assert decoded.totals.payable == invoice.totals.payable, key
        seen[key] = encoded
    assert len(seen) == 3
