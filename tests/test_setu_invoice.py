"""SETU-OHNL 2.0 Invoice (FACTUUR-HRXML): what is mapped, warned about and refused."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import pytest
from setu_corpus import SHARED

from gateway.formats import EncodeContext
from gateway.model import (
    Attachment,
    Invoice,
    InvoiceType,
    PaymentMeans,
    Period,
    VatCategory,
)
from plugins.setu_ohnl.errors import SetuDecodeError, SetuEncodeError
from plugins.setu_ohnl.invoice import SetuInvoice20
from plugins.setu_ohnl.samples import credit_note, invoice

FORMAT = SetuInvoice20()
XML = SHARED / "ohnl-2.0" / "xml"
SCENARIO_3 = XML / "Voorbeeldbericht scenario 3 - SETU (HR-XML)-OHNL_2.0_Invoice.xml"
EBF = XML / "EBF_Invoice.xml"


def _decode(path: Path) -> tuple[Invoice, tuple[str, ...]]:
    if not path.is_file():
        pytest.skip(f"{path} is not present")
    decoded = FORMAT.decode(path.read_bytes())
    assert isinstance(decoded.document, Invoice)
    return decoded.document, decoded.warnings


def test_berichtsoort_and_key() -> None:
    assert FORMAT.berichtsoort == "FACTUUR-HRXML"
    assert FORMAT.key == "setu-ohnl:invoice:2.0"


def test_scenario_3_references_totals_and_parties() -> None:
    inv, warnings = _decode(SCENARIO_3)
    assert inv.number == "Factuurnummer2"
    assert inv.issue_date == dt.date(2014, 10, 9)
    assert inv.type is InvoiceType.DEBIT
    assert inv.type_code == "hours"
    assert inv.order_reference is not None
    assert inv.order_reference.id == "40002147"
    assert inv.timecard_references == ("135664",)
    assert inv.buyer.id_for("OIN") == "00000002003182447001"
    assert inv.seller.id_for("KvK") == "98765432"
    assert inv.seller.vat_id == "NL009876543B01"
    assert inv.payee is None, "RemitToParty is the supplier itself"
    assert inv.payment_means[0].account_id == "NL58ABNA0987654321"
    assert inv.payment_means[0].bic == "ABNANL2A"
    assert inv.totals.payable == Decimal("3041.75")
    assert inv.totals.tax_exclusive == Decimal("2513.84")
    assert inv.tax_breakdown[0].rate == Decimal("21.00")
    first = inv.lines[0]
    assert (first.id, first.quantity.value, first.quantity.unit_code) == (
        "110", Decimal("40.00"), "regular",
    )
    assert first.net_amount == Decimal("1751.20")
    assert first.vat_amount == Decimal("367.75")
    assert first.timecard_reference == "135664"
    assert first.period == Period(start=dt.date(2014, 3, 17), end=dt.date(2014, 3, 23))
    assert [line.order_line_reference for line in inv.lines][:2] == ["1.1.1", "2.1.1"]
    assert not [w for w in warnings if w.startswith("arithmetic")]
    assert (
        "/Invoice/Line[1]/UserArea/TimeCard: only the timecard id and period are mapped; "
        "its hours, person and references come with TIMECARD-HRXML"
    ) in warnings
    assert any("ReferenceInformation" in w for w in warnings)


def test_ebf_example_keeps_its_stated_totals_and_says_they_do_not_add_up() -> None:
    inv, warnings = _decode(EBF)
    assert inv.totals.tax_exclusive == Decimal("2303.00")
    assert inv.lines[0].vat_rate == Decimal("20"), "a line without Tax takes the header rate"
    assert inv.lines[0].timecard_reference is None
    assert inv.buyer.ids == ()
    assert inv.seller.id_for("XXX") == "90807060", "a bare PartyId is read under XXX"
    assert any(w.startswith("arithmetic BR-CO-13") for w in warnings)
    assert any("BillToParty differs" in w for w in warnings)


def test_written_document_names_the_order_line_and_timecard() -> None:
    data = FORMAT.encode(invoice(), EncodeContext())
    assert b"<hr:PurchaseOrderNumber>40002147</hr:PurchaseOrderNumber>" in data
    assert b"<hr:PurchaseOrderLineItem>1.1.1</hr:PurchaseOrderLineItem>" in data
    assert b"<hr:IdValue>135664</hr:IdValue>" in data
    assert b"<Id>OIN@00000001007465075000</Id>" in data
    assert b"<Type>Debit</Type>" in data
    credit = FORMAT.encode(credit_note(), EncodeContext())
    assert b"<Type>Credit</Type>" in credit
    assert b"<Name>Factoring BV</Name>" in credit


def _line0(inv: Invoice, **changes: Any) -> Invoice:
    return attrs.evolve(inv, lines=(attrs.evolve(inv.lines[0], **changes), *inv.lines[1:]))


REFUSALS: list[tuple[Callable[[Invoice], Invoice], str]] = [
    (lambda i: attrs.evolve(i, proposal=True), "Invoice.proposal"),
    (lambda i: attrs.evolve(i, attachments=(
        Attachment(content=b"%PDF", mime_type="application/pdf", filename="f.pdf"),)),
     "Invoice.attachments"),
    (lambda i: attrs.evolve(i, totals=attrs.evolve(i.totals, prepaid=Decimal("1.00"))),
     "Invoice.totals"),
    (lambda i: attrs.evolve(i, payment_means=(*i.payment_means, PaymentMeans(code="30"))),
     "Invoice.payment_means"),
    (lambda i: attrs.evolve(i, timecard_references=("999",)), "Invoice.timecard_references"),
    (lambda i: _line0(i, vat_category=VatCategory.EXEMPT), r"Invoice.lines\[0\].vat_category"),
    (lambda i: _line0(i, period=None), r"Invoice.lines\[0\].period"),
    (lambda i: attrs.evolve(i, order_reference=None), "Invoice.order_reference"),
]


@pytest.mark.parametrize(("change", "field"), REFUSALS, ids=[f for _, f in REFUSALS])
def test_encode_refuses_what_setu_cannot_carry(
    change: Callable[[Invoice], Invoice], field: str
) -> None:
    with pytest.raises(SetuEncodeError, match=field):
        FORMAT.encode(change(invoice()), EncodeContext())


def test_encode_refuses_other_documents() -> None:
    with pytest.raises(SetuEncodeError, match="encodes invoices"):
        FORMAT.encode("not an invoice", EncodeContext())


def test_unreadable_values_are_decode_errors() -> None:
    data = FORMAT.encode(invoice(), EncodeContext())
    with pytest.raises(SetuDecodeError, match="Debit or Credit"):
        FORMAT.decode(data.replace(b"<Type>Debit</Type>", b"<Type>Proforma</Type>"))
    with pytest.raises(SetuDecodeError, match="several currencies"):
        FORMAT.decode(data.replace(b'currency="EUR"', b'currency="USD"', 1))
    with pytest.raises(SetuDecodeError, match="DocumentDateTime"):
        FORMAT.decode(data.replace(b"2014-10-09T00:00:00Z", b"9 oktober 2014"))
