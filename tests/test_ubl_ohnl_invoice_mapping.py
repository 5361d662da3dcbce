"""UBL-OHNL 1.9 invoice mapping: type codes, references, parties, tax names, and clear errors."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import attrs
import pytest
from lxml import etree

from gateway.errors import GatewayError
from gateway.formats import EncodeContext, Format
from gateway.model import (
    Address,
    Attachment,
    Contact,
    DocumentReference,
    Invoice,
    InvoiceType,
    OrderReference,
    Party,
    PartyId,
    Quantity,
    VatCategory,
)
from gateway.pluginmanager import build_registry, make_plugin_manager
from gateway.validation.engine import Validator
from plugins.ubl_ohnl import berichtsoort
from plugins.ubl_ohnl.errors import OhnlDecodeError, OhnlEncodeError
from plugins.ubl_ohnl.invoice import (
    ALLOW_PROPOSAL,
    OhnlInvoice18,
    OhnlInvoice19,
    OhnlInvoiceFormat,
)
from plugins.ubl_ohnl.samples import AGENCY_OIN, sample_e_invoice, sample_invoice

SHARED = Path(__file__).resolve().parents[2] / "shared" / "standards"
EXAMPLE = SHARED / "ubl-ohnl" / "1.9" / "xml" / "UBL-NL-Invoice-1.9-Example07.xml"
FOREIGN = Path(__file__).resolve().parents[1] / "contracts" / "foreign"
NS = {
    "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
    "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
    "ext": "urn:oasis:names:specification:ubl:schema:xsd:CommonExtensionComponents-2",
    "nl-cbc": "urn:digi-inkoop:ubl:2.0:NL:1.7:UBL-NL-CommonBasicComponents-2",
    "inv": "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2",
}
FORMAT = OhnlInvoice19()
CONTEXT = EncodeContext(agency_oin=AGENCY_OIN)


def encode(invoice: Invoice, context: EncodeContext = CONTEXT) -> bytes:
    return FORMAT.encode(invoice, context)


def xpath(data: bytes, path: str) -> list[str]:
    found = etree.fromstring(data).xpath(path, namespaces=NS)
    assert isinstance(found, list)
    return [node if isinstance(node, str) else str(node.text) for node in found]


def round_trip(invoice: Invoice, context: EncodeContext = CONTEXT) -> Invoice:
    decoded = FORMAT.decode(encode(invoice, context))
    assert decoded.warnings == (), decoded.warnings
    result = decoded.document
    assert isinstance(result, Invoice)
    return result


def with_type_code(code: str) -> bytes:
    data = EXAMPLE.read_bytes()
    return data.replace(b'listVersionID="1.7">D</cbc:InvoiceTypeCode>',
                        f'listVersionID="1.7">{code}</cbc:InvoiceTypeCode>'.encode())


# -- registration ------------------------------------------------------------------------------


def test_the_plugin_registers_the_1_9_invoice_format() -> None:
    registry = build_registry(make_plugin_manager())
    fmt = registry.format("ubl-ohnl:invoice:1.9")
    assert isinstance(fmt, OhnlInvoiceFormat)
    assert registry.owner("format", "ubl-ohnl:invoice:1.9") == "ubl-ohnl"
    assert [layer.artifact for layer in fmt.layers()] == [
        "ubl-ohnl/1.9/xsdrt/maindoc/Invoice.xsd",
        "ubl-ohnl/1.9/Invoice-Schematron-Validation.xsl",
    ]


# -- invoice type --------------------------------------------------------------------------------


@pytest.mark.parametrize(("code", "invoice_type"), [
    ("VD", InvoiceType.DEBIT), ("VC", InvoiceType.CREDIT),
])
def test_proposal_invoices_decode_as_proposals(code: str, invoice_type: InvoiceType) -> None:
    invoice = FORMAT.decode(with_type_code(code)).document
    assert invoice.proposal is True
    assert invoice.type is invoice_type
    assert invoice.type_code is None


def test_proforma_keeps_its_code() -> None:
    invoice = FORMAT.decode(with_type_code("P")).document
    assert (invoice.type, invoice.proposal, invoice.type_code) == (InvoiceType.DEBIT, False, "P")
    assert xpath(encode(attrs.evolve(sample_invoice(), type_code="P")),
                 "/inv:Invoice/cbc:InvoiceTypeCode") == ["P"]


def test_an_unknown_type_code_is_refused() -> None:
    with pytest.raises(OhnlDecodeError, match=r"InvoiceTypeCode '380' is not a FactuurSoort"):
        FORMAT.decode(with_type_code("380"))


def test_the_type_code_carries_its_list_attributes() -> None:
    data = encode(sample_invoice())
    code = etree.fromstring(data).find("cbc:InvoiceTypeCode", NS)
    assert code is not None
    assert code.text == "D"
    assert code.attrib == {
        "listID": "NL-1001", "listAgencyID": "88",
        "listAgencyName": "Logius Gegevensbeheer NL-Overheid", "listName": "FactuurSoort",
        "listVersionID": "1.7",
        "listURI": "http://www.nltaxonomie.nl/ubl/2.0/NL/1.7/cl/gc/InvoiceTypeCode.gc",
        "listSchemeURI": "urn:digi-inkoop:ubl:2.0:NL:1.7:gc:InvoiceTypeCode",
    }


def test_a_supplier_does_not_write_a_proposal() -> None:
    proposal = attrs.evolve(sample_invoice(), proposal=True)
    with pytest.raises(OhnlEncodeError, match=r"voorstelfactuur .* made by the agency"):
        encode(proposal)


@pytest.mark.parametrize(("invoice_type", "code"), [
    (InvoiceType.DEBIT, "VD"), (InvoiceType.CREDIT, "VC"),
])
def test_the_agency_side_writes_proposals(
    invoice_type: InvoiceType, code: str, installed_standards: Path,
) -> None:
    proposal = attrs.evolve(sample_invoice(invoice_type), proposal=True)
    context = attrs.evolve(CONTEXT, settings={ALLOW_PROPOSAL: True})
    data = encode(proposal, context)
    assert xpath(data, "/inv:Invoice/cbc:InvoiceTypeCode") == [code]
    assert Validator(installed_standards).validate(data, FORMAT.layers()).valid
    assert round_trip(proposal, context) == proposal


# -- references ----------------------------------------------------------------------------------


def test_a_credit_note_names_the_debit_note() -> None:
    credit = sample_invoice(InvoiceType.CREDIT)
    data = encode(credit)
    assert xpath(data, "/inv:Invoice/cbc:InvoiceTypeCode") == ["C"]
    assert xpath(data, "//cac:BillingReference/cac:DebitNoteDocumentReference/cbc:ID") == [
        "F2024-0001"
    ]
    assert xpath(data, "//cac:BillingReference/cac:InvoiceDocumentReference") == []
    assert round_trip(credit).billing_references == credit.billing_references


def test_a_credit_note_without_a_reference_is_refused() -> None:
    credit = attrs.evolve(sample_invoice(InvoiceType.CREDIT), billing_references=())
    with pytest.raises(OhnlEncodeError, match="credit note must name the debit note"):
        encode(credit)


def test_a_corrected_invoice_is_named_as_invoice_reference() -> None:
    credit = sample_invoice(InvoiceType.CREDIT)
    debit = attrs.evolve(sample_invoice(), billing_references=credit.billing_references)
    data = encode(debit)
    assert xpath(data, "//cac:BillingReference/cac:InvoiceDocumentReference/cbc:ID") == [
        "F2024-0001"
    ]
    assert round_trip(debit) == debit


@pytest.mark.parametrize("value", [True, False, None])
def test_last_invoice_on_order_round_trips(value: bool | None) -> None:
    invoice = attrs.evolve(sample_invoice(), last_invoice_on_order=value)
    data = encode(invoice)
    found = xpath(data, "/inv:Invoice/ext:UBLExtensions/ext:UBLExtension/ext:ExtensionContent/"
                        "nl-cbc:LastInvoiceOnOrderIndicator")
    assert found == ([] if value is None else ["true" if value else "false"])
    assert round_trip(invoice).last_invoice_on_order is value


def test_each_nl_extension_has_its_own_ubl_extension() -> None:
    # ExtensionContent takes a single element (xsd:any maxOccurs=1).
    invoice = attrs.evolve(sample_invoice(), received_date=dt.date(2024, 3, 2))
    data = encode(invoice)
    contents = etree.fromstring(data).findall(
        "ext:UBLExtensions/ext:UBLExtension/ext:ExtensionContent", NS)
    assert [len(content) for content in contents] == [1, 1, 1]
    assert round_trip(invoice).received_date == dt.date(2024, 3, 2)


def test_line_periods_travel_in_the_nl_invoice_line_extension() -> None:
    invoice = sample_invoice()
    data = encode(invoice)
    path = "//ext:ExtensionContent/*[local-name()='InvoiceLine']"
    assert xpath(data, f"{path}/cbc:ID") == ["2"]
    assert xpath(data, f"{path}/cac:InvoicePeriod/cbc:DescriptionCode") == ["D"]
    assert round_trip(invoice).lines[1].period == invoice.lines[1].period


def test_berichtsoort_follows_the_order_reference() -> None:
    assert berichtsoort(sample_invoice()) == "FACTUUR-UBL"
    assert berichtsoort(sample_e_invoice()) == "E-Factuur-UBL"


# -- clear errors ------------------------------------------------------------------------------


def test_an_invoice_number_over_24_characters_is_refused() -> None:
    assert round_trip(attrs.evolve(sample_invoice(), number="X" * 24)).number == "X" * 24
    with pytest.raises(OhnlEncodeError, match="has 25 characters; a UBL-OHNL invoice number "
                                              "has at most 24"):
        encode(attrs.evolve(sample_invoice(), number="X" * 25))


def test_a_unit_outside_the_ohnl_subset_is_refused() -> None:
    invoice = sample_invoice()
    line = attrs.evolve(invoice.lines[0], quantity=Quantity(value=Decimal("4"), unit_code="XPK"))
    with pytest.raises(OhnlEncodeError, match=r"Invoice.lines\[0\].quantity.unit_code 'XPK' is "
                                              "not one of the units UBL-OHNL allows"):
        encode(attrs.evolve(invoice, lines=(line, *invoice.lines[1:])))


def test_an_invoice_without_order_cost_centre_or_buyer_contact_is_refused() -> None:
    bare = attrs.evolve(
        sample_invoice(), order_reference=None, accounting_cost=None,
        buyer=attrs.evolve(sample_invoice().buyer, contact=None),
        lines=tuple(attrs.evolve(line, order_line_reference=None)
                    for line in sample_invoice().lines),
    )
    with pytest.raises(OhnlEncodeError, match=r"order number \(Invoice.order_reference\), a "
                                              r"cost centre .* or the name of a contact"):
        encode(bare)
    for enough in (
        {"order_reference": OrderReference(id="40000695")},
        {"accounting_cost": "H4500123456"},
        {"buyer": attrs.evolve(bare.buyer, contact=Contact(name="Pieter Post"))},
    ):
        assert round_trip(attrs.evolve(bare, **enough)) == attrs.evolve(bare, **enough)


def test_an_invoice_without_delivery_date_is_refused() -> None:
    with pytest.raises(OhnlEncodeError, match="actual delivery date"):
        encode(attrs.evolve(sample_invoice(), delivery=None))


def test_an_order_line_reference_needs_the_order() -> None:
    with pytest.raises(OhnlEncodeError, match="OrderLineReference names the order too"):
        encode(attrs.evolve(sample_invoice(), order_reference=None))


def test_embedded_attachments_stay_out_of_the_invoice() -> None:
    invoice = sample_invoice()
    reference = DocumentReference(
        id="BIJLAGE-1", attachment=Attachment(content=b"%PDF", mime_type="application/pdf"),
    )
    with pytest.raises(OhnlEncodeError, match="no attachments inside an invoice"):
        encode(attrs.evolve(invoice, other_references=(reference,)))


# -- parties -------------------------------------------------------------------------------------


def test_the_agency_oin_becomes_the_buyer_identification() -> None:
    invoice = sample_invoice()
    anonymous = attrs.evolve(invoice, buyer=attrs.evolve(invoice.buyer, ids=()))
    data = encode(anonymous)
    buyer = "/inv:Invoice/cac:AccountingCustomerParty/cac:Party/cac:PartyIdentification/cbc:ID"
    assert xpath(data, buyer) == [AGENCY_OIN]
    assert xpath(data, f"{buyer}/@schemeAgencyName") == ["OIN"]
    assert xpath(data, f"{buyer}/@schemeAgencyID") == ["NL"]
    assert FORMAT.decode(data).document.buyer == invoice.buyer


def test_a_buyer_oin_other_than_the_agency_is_refused() -> None:
    invoice = sample_invoice()
    other = attrs.evolve(invoice, buyer=attrs.evolve(
        invoice.buyer, ids=(PartyId(scheme="OIN", value="00000004003214345001"),)))
    with pytest.raises(OhnlEncodeError, match="names OIN '00000004003214345001', but the invoice "
                                              f"is routed to the agency with OIN {AGENCY_OIN}"):
        encode(other)
    peppol = attrs.evolve(invoice, buyer=attrs.evolve(
        invoice.buyer, endpoint_id=PartyId(scheme="0190", value="00000004003214345001")))
    with pytest.raises(OhnlEncodeError, match="names OIN"):
        encode(peppol)


def test_the_agency_oin_needs_room_among_three_identifications() -> None:
    invoice = sample_invoice()
    crowded = attrs.evolve(invoice, buyer=attrs.evolve(invoice.buyer, ids=(
        PartyId(scheme="KvK", value="27370725"), PartyId(scheme="Vest", value="000012345678"),
        PartyId(scheme="BTW", value="NL003214345B01"),
    )))
    with pytest.raises(OhnlEncodeError, match=f"with OIN {AGENCY_OIN} added, but UBL-OHNL "
                                              "allows at most 3"):
        encode(crowded)


def test_without_an_agency_oin_the_buyer_is_written_as_given() -> None:
    invoice = sample_invoice()
    assert round_trip(invoice, EncodeContext()) == invoice


def test_peppol_scheme_codes_become_ohnl_names() -> None:
    invoice = sample_invoice()
    seller = attrs.evolve(invoice.seller, ids=(
        PartyId(scheme="0106", value="30097265"), PartyId(scheme="9944", value="NL001427507B01"),
    ))
    data = encode(attrs.evolve(invoice, seller=seller))
    path = "/inv:Invoice/cac:AccountingSupplierParty/cac:Party/cac:PartyIdentification/cbc:ID"
    assert xpath(data, f"{path}/@schemeAgencyName") == ["KvK", "BTW"]


def test_a_scheme_without_ohnl_name_is_refused() -> None:
    invoice = sample_invoice()
    seller = attrs.evolve(invoice.seller, ids=(PartyId(scheme="GLN", value="8712345678906"),))
    with pytest.raises(OhnlEncodeError, match="scheme 'GLN' has no UBL-OHNL name"):
        encode(attrs.evolve(invoice, seller=seller))


def test_a_vestigingsnummer_needs_the_kvk_number() -> None:
    invoice = sample_invoice()
    seller = attrs.evolve(invoice.seller, vat_id=None,
                          ids=(PartyId(scheme="Vest", value="000018727409"),))
    with pytest.raises(OhnlEncodeError, match=r"Vest .* needs the KvK number"):
        encode(attrs.evolve(invoice, seller=seller))


def test_building_number_and_addition_are_joined_by_a_hyphen() -> None:
    invoice = sample_invoice()
    assert invoice.seller.address is not None
    data = encode(invoice)
    assert xpath(data, "//cac:AccountingSupplierParty//cac:PostalAddress/cbc:BuildingNumber") \
        == ["7-A"]
    assert round_trip(invoice).seller.address == invoice.seller.address
    odd = attrs.evolve(invoice.seller, address=attrs.evolve(
        invoice.seller.address, building_number="7a"))
    with pytest.raises(OhnlEncodeError, match="does not fit UBL-OHNL's BuildingNumber"):
        encode(attrs.evolve(invoice, seller=odd))


def test_an_address_needs_a_country_and_postbox_or_street_not_both() -> None:
    invoice = sample_invoice()
    assert isinstance(invoice.seller.address, Address)
    no_country = attrs.evolve(invoice.seller, address=attrs.evolve(
        invoice.seller.address, country_code=None))
    with pytest.raises(OhnlEncodeError, match=r"Invoice.seller.address: UBL-OHNL requires the "
                                              "country"):
        encode(attrs.evolve(invoice, seller=no_country))
    both = attrs.evolve(invoice.seller, address=attrs.evolve(
        invoice.seller.address, postbox="100"))
    with pytest.raises(OhnlEncodeError, match="either a postbox or a street address"):
        encode(attrs.evolve(invoice, seller=both))


def test_a_postbox_address_round_trips() -> None:
    invoice = sample_invoice()
    assert isinstance(invoice.buyer, Party)
    assert invoice.buyer.address is not None
    assert invoice.buyer.address.postbox == "20011"
    assert round_trip(invoice).buyer == invoice.buyer


# -- tax categories ------------------------------------------------------------------------------


@pytest.mark.parametrize(("category", "rate", "name"), [
    (VatCategory.STANDARD, Decimal("21"), "BTW HOOG"),
    (VatCategory.STANDARD, Decimal("9"), "BTW LAAG"),
    (VatCategory.STANDARD, Decimal("9.00"), "BTW LAAG"),
    (VatCategory.ZERO_RATED, Decimal("0"), "BTW NUL"),
    (VatCategory.EXEMPT, Decimal("0"), "BTW VRIJGESTELD"),
    (VatCategory.REVERSE_CHARGE, Decimal("0"), "BTW VERLEGD"),
])
def test_vat_categories_are_named(category: VatCategory, rate: Decimal, name: str) -> None:
    invoice = sample_e_invoice()
    line = attrs.evolve(invoice.lines[0], vat_category=category, vat_rate=rate)
    rebuilt = Invoice.build(**{
        field.name: getattr(invoice, field.name) for field in attrs.fields(Invoice)
        if field.name not in ("lines", "totals", "tax_breakdown")
    }, lines=(line,))
    data = encode(rebuilt)
    assert xpath(data, "/inv:Invoice/cac:TaxTotal/cac:TaxSubtotal/cac:TaxCategory/cbc:Name") \
        == [name]
    assert xpath(data, "//cac:ClassifiedTaxCategory/cbc:Name") == [name]
    assert xpath(data, "//cac:ClassifiedTaxCategory/cac:TaxScheme/cbc:Name") == ["BTW"]
    assert round_trip(rebuilt) == rebuilt


def test_a_category_without_ohnl_name_is_refused() -> None:
    invoice = sample_e_invoice()
    line = attrs.evolve(invoice.lines[0], vat_category=VatCategory.INTRA_COMMUNITY,
                        vat_rate=Decimal("0"))
    with pytest.raises(OhnlEncodeError, match="VAT category K has no UBL-OHNL name"):
        encode(attrs.evolve(invoice, lines=(line,)))


def test_tax_names_are_read_in_any_case() -> None:
    data = encode(sample_e_invoice()).replace(b"BTW HOOG", b"btw laag")
    invoice = FORMAT.decode(data).document
    assert invoice.lines[0].vat_category is VatCategory.STANDARD
    assert invoice.tax_breakdown[0].category is VatCategory.STANDARD


# -- hostile and foreign input -----------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(p.name for p in FOREIGN.iterdir()))
def test_foreign_input_is_refused_with_a_gateway_error(name: str) -> None:
    with pytest.raises(GatewayError) as caught:
        FORMAT.decode((FOREIGN / name).read_bytes())
    assert str(caught.value).strip()


def test_garbage_inside_an_ohnl_invoice_names_the_element() -> None:
    data = encode(sample_e_invoice()).replace(b">450.00<", b">vierhonderd<", 1)
    with pytest.raises(GatewayError, match=r"/Invoice/cac:TaxTotal/cac:TaxSubtotal/"
                                           "cbc:TaxableAmount: 'vierhonderd' is not a decimal"):
        FORMAT.decode(data)


def test_a_missing_required_element_is_named() -> None:
    root = etree.fromstring(encode(sample_e_invoice()))
    total = root.find("cac:LegalMonetaryTotal", NS)
    assert total is not None
    root.remove(total)
    with pytest.raises(OhnlDecodeError, match="cac:LegalMonetaryTotal is required"):
        FORMAT.decode(etree.tostring(root))


# -- the 1.8 release reuses everything -----------------------------------------------------------


def test_the_1_8_descriptor_writes_valid_1_8_invoices(installed_standards: Path) -> None:
    fmt: Format = OhnlInvoice18()
    data = fmt.encode(sample_invoice(), CONTEXT)
    assert xpath(data, "/inv:Invoice/cbc:CustomizationID") == ["1.8"]
    report = Validator(installed_standards).validate(data, fmt.layers())
    assert report.valid, report.findings
    assert fmt.decode(data).document == sample_invoice()
    with pytest.raises(OhnlEncodeError, match=r"UBL-OHNL 1\.8 allows at most 1 note"):
        fmt.encode(attrs.evolve(sample_invoice(), notes=("a", "b")), CONTEXT)
