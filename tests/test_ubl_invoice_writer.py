"""How the UBL invoice writer builds its tree: in XSD sequence, and with shared subtrees.

Invoice and CreditNote order the document and line level differently (type
code and TaxPointDate, the document references, a line's TaxTotal and
AllowanceCharge). The writer no longer sorts afterwards, so these tests fill
every element whose place differs and check the written order against the
sequences of :mod:`plugins.ubl_invoice.documents`, and that
:func:`plugins.ubl.reorder` would move nothing.

Parties and tax categories are built once and shared by every document
after; the tests check that a shared subtree is the party or rate given (a
rate as written: 21 and 21.00 are equal Decimals), and that only an equal
party shares it.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import attrs
import pytest
from lxml import etree

from gateway.formats import EncodeContext
from gateway.model import Attachment, DocumentReference, Invoice, InvoiceType
from plugins.ubl import PREFIXES, reorder
from plugins.ubl.names import prefixed
from plugins.ubl.text import Element
from plugins.ubl_invoice.documents import CREDIT_NOTE, INVOICE, UBLDocumentType
from plugins.ubl_invoice.encode import WriteOptions, _Writer, write_invoice
from plugins.ubl_invoice.formats import EN16931_CUSTOMIZATION, EN16931CreditNote, EN16931Invoice
from plugins.ubl_invoice.samples import dutch_invoice


def everything_placed(invoice_type: InvoiceType) -> Invoice:
    """A sample with every element whose place differs between Invoice and CreditNote."""
    invoice = dutch_invoice(invoice_type)
    lines = list(invoice.lines)
    charged = next(i for i, line in enumerate(lines) if line.allowance_charges)
    lines[charged] = attrs.evolve(lines[charged], vat_amount=Decimal("39.90"))
    return attrs.evolve(
        invoice,
        notes=("eerste", "tweede"),
        tax_point_date=dt.date(2024, 2, 29),
        tender_reference="AANBESTEDING-1",
        contract_reference="CONTRACT-1",
        project_reference="PRJ-1",
        receipt_reference="ONTVANGST-1",
        despatch_references=("PAKBON-1", "PAKBON-2"),
        other_references=(DocumentReference(id="REF-1", type_code="130"),),
        attachments=(
            *invoice.attachments,
            Attachment(uri="https://example.nl/bijlage", description="link"),
        ),
        lines=tuple(lines),
    )


def names(parent: etree._Element) -> list[str]:
    return [prefixed(child.tag) for child in parent if isinstance(child.tag, str)]


def assert_in_sequence(parent: etree._Element, sequence: tuple[str, ...]) -> None:
    written = names(parent)
    ranks = [sequence.index(name) for name in written]
    assert ranks == sorted(ranks), written


@pytest.mark.parametrize(("invoice_type", "format_class", "doc"), [
    (InvoiceType.DEBIT, EN16931Invoice, INVOICE),
    (InvoiceType.CREDIT, EN16931CreditNote, CREDIT_NOTE),
], ids=["invoice", "credit-note"])
def test_elements_are_written_in_xsd_sequence(
    invoice_type: InvoiceType, format_class: type[EN16931Invoice], doc: UBLDocumentType,
) -> None:
    data = format_class().encode(everything_placed(invoice_type), EncodeContext())
    root = etree.fromstring(data)
    written = names(root)
    # Every element whose place differs is there, so the order checked is the one that matters.
    for name in ("cbc:TaxPointDate", doc.type_code, "cac:OriginatorDocumentReference",
                 "cac:ContractDocumentReference", "cac:AdditionalDocumentReference"):
        assert name in written
    assert_in_sequence(root, doc.sequence)
    lines = [child for child in root if prefixed(child.tag) == doc.line]
    assert len(lines) == 3
    line_names = [names(line) for line in lines]
    assert any("cac:TaxTotal" in each and "cac:AllowanceCharge" in each for each in line_names)
    for line in lines:
        assert_in_sequence(line, doc.line_sequence)
    # The sort the writer used to do afterwards would change nothing.
    before = etree.tostring(root)
    reorder(root, doc.sequence)
    for line in lines:
        reorder(line, doc.line_sequence)
    assert etree.tostring(root) == before


def test_credit_note_places_differ_from_the_invoices() -> None:
    invoice = names(etree.fromstring(
        EN16931Invoice().encode(everything_placed(InvoiceType.DEBIT), EncodeContext())))
    credit = names(etree.fromstring(
        EN16931CreditNote().encode(everything_placed(InvoiceType.CREDIT), EncodeContext())))
    assert invoice.index("cbc:TaxPointDate") > invoice.index("cbc:InvoiceTypeCode")
    assert credit.index("cbc:TaxPointDate") < credit.index("cbc:CreditNoteTypeCode")
    assert invoice.index("cac:OriginatorDocumentReference") < invoice.index(
        "cac:AdditionalDocumentReference")
    last_additional = len(credit) - 1 - credit[::-1].index("cac:AdditionalDocumentReference")
    assert credit.index("cac:OriginatorDocumentReference") > last_additional


SELLER_NAME = "cac:AccountingSupplierParty/cac:Party/cac:PartyName/cbc:Name"
PERCENTS = "cac:InvoiceLine/cac:Item/cac:ClassifiedTaxCategory/cbc:Percent"


def texts(root: etree._Element, path: str) -> list[str]:
    return [node.text or "" for node in root.findall(path, PREFIXES)]


def test_copied_rates_keep_their_text() -> None:
    invoice = dutch_invoice(InvoiceType.DEBIT)
    rates = [Decimal("21"), Decimal("21.00"), Decimal("21.0")]
    lines = tuple(attrs.evolve(line, vat_rate=rate) for line, rate in zip(
        invoice.lines, rates, strict=True))
    for _ in range(2):  # the second time every category is a shared one
        root = etree.fromstring(EN16931Invoice().encode(
            attrs.evolve(invoice, lines=lines), EncodeContext()))
        assert texts(root, PERCENTS) == ["21", "21.00", "21.0"]


def test_shared_parties_are_the_ones_given() -> None:
    invoice = dutch_invoice(InvoiceType.DEBIT)
    options = WriteOptions(customization_id=EN16931_CUSTOMIZATION)
    first = write_invoice(invoice, options)
    assert texts(etree.fromstring(first), SELLER_NAME) == [invoice.seller.name]
    # Another party gets its own subtree; an equal party built anew, the same one.
    renamed = attrs.evolve(invoice, seller=attrs.evolve(invoice.seller, name="Andere BV"))
    assert texts(etree.fromstring(write_invoice(renamed, options)), SELLER_NAME) == [
        "Andere BV"]
    again = attrs.evolve(invoice, seller=attrs.evolve(invoice.seller))
    assert write_invoice(again, options) == first

    def seller(root: Element) -> Element:
        [supplier] = [c for c in root.content
                      if isinstance(c, Element) and c.name == "cac:AccountingSupplierParty"]
        [party] = [c for c in supplier.content if isinstance(c, Element)]
        return party

    assert seller(_Writer(again, options).document()) is seller(
        _Writer(invoice, options).document())
