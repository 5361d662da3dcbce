"""Decoding: amounts as stated, warnings that name what was not mapped, clear errors."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest
from lxml import etree

from gateway.formats import EncodeContext
from gateway.model import Invoice
from plugins.ubl import PREFIXES, UBLReadError, qname
from plugins.ubl_invoice.formats import NLCIUSInvoice, PeppolBISCreditNote, PeppolBISInvoice
from plugins.ubl_invoice.samples import dutch_invoice

D = Decimal


def sample_tree() -> etree._Element:
    return etree.fromstring(PeppolBISInvoice().encode(dutch_invoice(), EncodeContext()))


def edited(change: Callable[[etree._Element], None]) -> bytes:
    root = sample_tree()
    change(root)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


def find(root: etree._Element, path: str) -> etree._Element:
    node = root.find(path, PREFIXES)
    assert node is not None, path
    return node


def decode(data: bytes) -> tuple[Invoice, tuple[str, ...]]:
    decoded = PeppolBISInvoice().decode(data)
    assert isinstance(decoded.document, Invoice)
    return decoded.document, decoded.warnings


def test_a_clean_document_decodes_without_warnings() -> None:
    invoice, warnings = decode(edited(lambda root: None))
    assert invoice == dutch_invoice()
    assert warnings == ()


def test_totals_are_taken_as_stated_and_disagreements_reported() -> None:
    def change(root: etree._Element) -> None:
        find(root, "cac:LegalMonetaryTotal/cbc:PayableAmount").text = "999.99"
        find(root, "cac:InvoiceLine/cbc:LineExtensionAmount").text = "100.01"

    invoice, warnings = decode(edited(change))
    assert invoice.totals.payable == D("999.99")
    assert invoice.lines[0].net_amount == D("100.01")
    assert any(w.startswith("arithmetic: BR-CO-16:") for w in warnings)
    assert any(w.startswith("arithmetic: PEPPOL-EN16931-R120:") and "line 1" in w
               for w in warnings)


def test_unmapped_elements_and_attributes_are_named_by_xpath() -> None:
    def change(root: etree._Element) -> None:
        etree.SubElement(find(root, "cac:AccountingSupplierParty/cac:Party"),
                         qname("cbc:WebsiteURI")).text = "https://example.org"
        find(root, "cbc:InvoiceTypeCode").set("listID", "UNCL1001")
        line = root.findall("cac:InvoiceLine", PREFIXES)[1]
        etree.SubElement(line, qname("cac:DocumentReference")).text = "x"

    _, warnings = decode(edited(change))
    assert "/Invoice/cac:AccountingSupplierParty/cac:Party/cbc:WebsiteURI " \
           "('https://example.org') is not mapped" in warnings
    assert "/Invoice/cbc:InvoiceTypeCode/@listID ('UNCL1001') is not mapped" in warnings
    assert "/Invoice/cac:InvoiceLine[2]/cac:DocumentReference ('x') is not mapped" in warnings


def test_a_second_payment_terms_is_reported() -> None:
    def change(root: etree._Element) -> None:
        terms = find(root, "cac:PaymentTerms")
        root.insert(root.index(terms) + 1, etree.fromstring(etree.tostring(terms)))

    invoice, warnings = decode(edited(change))
    assert invoice.payment_terms is not None
    assert "/Invoice/cac:PaymentTerms[2] ('30 dagen netto') is not mapped" in warnings


def test_an_amount_in_another_currency_is_kept_with_a_warning() -> None:
    def change(root: etree._Element) -> None:
        find(root, "cac:LegalMonetaryTotal/cbc:PrepaidAmount").set("currencyID", "USD")

    invoice, warnings = decode(edited(change))
    assert invoice.totals.prepaid == D("50.00")
    assert any("PrepaidAmount/@currencyID is USD, not EUR" in w for w in warnings)


def test_an_item_with_only_a_description_is_named_by_it() -> None:
    def change(root: etree._Element) -> None:
        item = find(root, "cac:InvoiceLine/cac:Item")
        name = find(item, "cbc:Name")
        description = etree.Element(qname("cbc:Description"))
        description.text = name.text
        item.replace(name, description)

    invoice, _ = decode(edited(change))
    assert invoice.lines[0].item.name == invoice.lines[0].item.description == (
        "Pak potloden 12 stuks")


def test_a_period_with_only_a_code_is_reported_not_invented() -> None:
    def change(root: etree._Element) -> None:
        period = find(root, "cac:InvoicePeriod")
        for child in list(period):
            period.remove(child)
        etree.SubElement(period, qname("cbc:DescriptionCode")).text = "35"

    invoice, warnings = decode(edited(change))
    assert invoice.invoice_period is None
    assert "/Invoice/cac:InvoicePeriod/cbc:DescriptionCode ('35') is not mapped" in warnings


@pytest.mark.parametrize(("path", "text", "message"), [
    ("cbc:IssueDate", "01-03-2024", "/Invoice/cbc:IssueDate: '01-03-2024' is not a date"),
    ("cac:LegalMonetaryTotal/cbc:PayableAmount", "1e3",
     "/Invoice/cac:LegalMonetaryTotal/cbc:PayableAmount: '1e3' is not a decimal number"),
    ("cac:InvoiceLine/cbc:InvoicedQuantity", "NaN", "is not a decimal number"),
    ("cac:InvoiceLine/cac:Item/cac:ClassifiedTaxCategory/cbc:ID", "X",
     "VAT category 'X' is not one of EN 16931"),
    ("cac:AllowanceCharge/cbc:ChargeIndicator", "maybe", "is not true or false"),
    ("cac:AdditionalDocumentReference/cac:Attachment/cbc:EmbeddedDocumentBinaryObject", "@@@",
     "not valid base64"),
    ("cac:InvoiceLine/cac:Price/cbc:PriceAmount", "-1",
     "Price.amount: must not be negative"),
])
def test_malformed_values_raise_naming_the_element(path: str, text: str, message: str) -> None:
    def change(root: etree._Element) -> None:
        find(root, path).text = text

    with pytest.raises(UBLReadError, match=message.replace("(", r"\(").replace(")", r"\)")):
        decode(edited(change))


@pytest.mark.parametrize(("path", "message"), [
    ("cbc:ID", "/Invoice/cbc:ID is required"),
    ("cbc:DocumentCurrencyCode", "DocumentCurrencyCode is required"),
    ("cac:TaxTotal", "/Invoice/cac:TaxTotal is required"),
    ("cac:LegalMonetaryTotal/cbc:TaxExclusiveAmount", "TaxExclusiveAmount is required"),
    ("cac:InvoiceLine/cac:Price", r"/Invoice/cac:InvoiceLine\[1\]/cac:Price is required"),
    ("cac:InvoiceLine/cac:Item/cac:ClassifiedTaxCategory", "ClassifiedTaxCategory is required"),
])
def test_missing_required_elements_raise_naming_them(path: str, message: str) -> None:
    def change(root: etree._Element) -> None:
        node = find(root, path)
        parent = node.getparent()
        assert parent is not None
        parent.remove(node)

    with pytest.raises(UBLReadError, match=message):
        decode(edited(change))


def test_a_document_without_lines_is_refused() -> None:
    def change(root: etree._Element) -> None:
        for line in root.findall("cac:InvoiceLine", PREFIXES):
            root.remove(line)

    with pytest.raises(UBLReadError, match="has no cac:InvoiceLine"):
        decode(edited(change))


def test_whitespace_around_codes_is_ignored_but_free_text_is_kept() -> None:
    def change(root: etree._Element) -> None:
        find(root, "cbc:DocumentCurrencyCode").text = "\n  EUR  \n"
        find(root, "cbc:Note").text = "  twee  spaties  "

    invoice, _ = decode(edited(change))
    assert invoice.currency == "EUR"
    assert invoice.notes == ("  twee  spaties  ",)


def test_credit_note_due_date_comes_from_the_payment_means() -> None:
    fmt = PeppolBISCreditNote()
    credit = dutch_invoice(dutch_invoice().type.CREDIT)
    decoded = fmt.decode(fmt.encode(credit, EncodeContext()))
    assert isinstance(decoded.document, Invoice)
    assert decoded.document.due_date == credit.due_date


def test_a_profile_other_than_the_formats_own_is_reported() -> None:
    fmt = NLCIUSInvoice()

    def change(root: etree._Element) -> None:
        find(root, "cbc:ProfileID").text = "urn:example:profile"

    root = etree.fromstring(fmt.encode(dutch_invoice(), EncodeContext()))
    change(root)
    decoded = fmt.decode(etree.tostring(root))
    assert "/Invoice/cbc:ProfileID ('urn:example:profile') is not mapped" in decoded.warnings
