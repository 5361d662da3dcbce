"""UBL-OHNL 1.9 invoices: the publisher's examples, detection, and what our encoder writes.

Every ``*Invoice*.xml`` example of the 1.9 package is meant to be valid (the
package publishes no negative examples; they all pass the XSD and the
Schematron). One of them, ``Invoice(factuurakkoord)``, is the FACTUUR-AKKOORD-UBL
the EPV sends to the financial system: the same Invoice document, another
berichtsoort. It is kept in the list because the format must read it like
any other OHNL invoice.

For each example: it validates as published, it decodes, and encoding the
decoded invoice gives a document that validates (XSD, Schematron, and the
package's genericode sheet) and decodes to the same canonical invoice.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from gateway.formats import Detection, EncodeContext, Sample
from gateway.model import Invoice
from gateway.sniff import Sniffed
from gateway.validation.engine import Validator, saxon_error_type, saxon_processor
from plugins.ubl_ohnl.errors import OhnlDecodeError
from plugins.ubl_ohnl.invoice import OhnlInvoice19, berichtsoort
from plugins.ubl_ohnl.samples import invoice_samples

SHARED = Path(__file__).resolve().parents[2] / "shared" / "standards"
EXAMPLES = SHARED / "ubl-ohnl" / "1.9" / "xml"
GENERICODE = SHARED / "ubl-ohnl" / "1.9" / "Genericode-Validation.xsl"
FACTUURAKKOORD = "Voorbeeldbericht scenario 1 - UBL-OHNL_1.9_Invoice(factuurakkoord).xml"

FORMAT = OhnlInvoice19()


def _examples() -> list[Path]:
    return sorted(EXAMPLES.glob("*Invoice*.xml")) if EXAMPLES.is_dir() else []


@pytest.fixture(scope="module")
def validator(installed_standards: Path) -> Validator:
    return Validator(installed_standards)


class _Genericode:
    """The package's code list sheet; it stops with xsl:message on a bad value."""

    def __init__(self) -> None:
        compiler = saxon_processor().new_xslt30_processor()
        self.executable = compiler.compile_stylesheet(stylesheet_file=str(GENERICODE))

    def problems(self, data: bytes) -> str:
        node = saxon_processor().parse_xml(xml_text=data.decode("utf-8"))
        try:
            return (self.executable.transform_to_string(xdm_node=node) or "").strip()
        except saxon_error_type() as exc:
            return str(exc) or "terminated"


@pytest.fixture(scope="module")
def genericode(installed_standards: Path) -> _Genericode:
    return _Genericode()


def assert_valid(validator: Validator, data: bytes) -> None:
    report = validator.validate(data, FORMAT.layers(), format_key=FORMAT.key)
    problems = [f for f in report.findings if f.severity.rejects]
    assert not problems, "\n".join(f"{f.layer} {f.location}: {f.text}" for f in problems)
    assert report.layers == tuple(layer.name for layer in FORMAT.layers())


def test_the_package_has_seven_invoice_examples() -> None:
    if not EXAMPLES.is_dir():
        pytest.skip(f"{EXAMPLES} is not present")
    assert len(_examples()) == 7
    assert (EXAMPLES / FACTUURAKKOORD).is_file()


@pytest.mark.parametrize("path", _examples(), ids=lambda p: p.name)
def test_example_is_valid_as_published(validator: Validator, path: Path) -> None:
    assert_valid(validator, path.read_bytes())


@pytest.mark.parametrize("path", _examples(), ids=lambda p: p.name)
def test_example_is_detected_as_ubl_ohnl_1_9(path: Path) -> None:
    assert FORMAT.detect(Sniffed(path.read_bytes())) is Detection.MATCH


@pytest.mark.parametrize("path", _examples(), ids=lambda p: p.name)
def test_example_decodes_and_re_encodes_to_a_valid_equal_invoice(
    validator: Validator, genericode: _Genericode, path: Path,
) -> None:
    decoded = FORMAT.decode(path.read_bytes())
    invoice = decoded.document
    assert isinstance(invoice, Invoice)
    encoded = FORMAT.encode(invoice, EncodeContext())
    assert_valid(validator, encoded)
    assert genericode.problems(encoded) == ""
    again = FORMAT.decode(encoded).document
    # The same parties, references, lines, amounts and VAT breakdown, and the rest.
    assert again.seller == invoice.seller
    assert again.buyer == invoice.buyer
    assert again.order_reference == invoice.order_reference
    assert again.billing_references == invoice.billing_references
    assert again.lines == invoice.lines
    assert again.totals == invoice.totals
    assert again.tax_breakdown == invoice.tax_breakdown
    assert again == invoice


def test_scenario_invoice_reads_as_published() -> None:
    data = (EXAMPLES / "Voorbeeldbericht scenario 1 - UBL-OHNL_1.9_Invoice.xml").read_bytes()
    decoded = FORMAT.decode(data)
    invoice = decoded.document
    assert invoice.number == "factuurnummer1"
    assert invoice.order_reference.id == "40000695"
    assert berichtsoort(invoice) == "FACTUUR-UBL"
    assert invoice.seller.ids[0].scheme == "KvK"
    assert invoice.buyer.id_for("OIN") == "00000001003227522000"
    assert [(line.order_line_reference, line.vat_rate) for line in invoice.lines] == [
        ("1.1.1", Decimal("21")), ("2.1.1", Decimal("21")),
    ]
    assert invoice.tax_breakdown[0].category.value == "S"
    assert str(invoice.totals.payable) == "37352.70"
    assert invoice.lines[0].vat_amount == Decimal("686.70")
    # Read as stated; the example leaves InvoiceTypeCode out, which the decoder says.
    assert any("no InvoiceTypeCode" in w for w in decoded.warnings)
    assert any(w.startswith("/Invoice/cbc:CopyIndicator") for w in decoded.warnings)


def test_e_invoice_example_without_order_is_an_e_factuur() -> None:
    data = (EXAMPLES / "UBL-NL-Invoice-1.9-Example07.xml").read_bytes()
    invoice = FORMAT.decode(data).document
    assert invoice.order_reference is None
    assert invoice.accounting_cost == "Onbekend"
    assert berichtsoort(invoice) == "E-Factuur-UBL"


def test_totals_are_kept_as_stated_and_arithmetic_is_reported() -> None:
    # Example07's lines state net amounts that leave out their own allowances.
    decoded = FORMAT.decode((EXAMPLES / "UBL-NL-Invoice-1.9-Example07.xml").read_bytes())
    assert str(decoded.document.lines[0].net_amount) == "1791.00"
    assert any(w.startswith("arithmetic PEPPOL-EN16931-R120") for w in decoded.warnings)


def test_unmapped_content_is_named_by_xpath() -> None:
    decoded = FORMAT.decode((EXAMPLES / "UBL-Invoice-Example14.xml").read_bytes())
    assert "/Invoice/cac:Delivery/cac:DeliveryAddress/cbc:PlotIdentification: not mapped " \
           "to the canonical model" in decoded.warnings
    assert any("not VAT (tax scheme Accijns)" in w for w in decoded.warnings)


# -- our own documents ------------------------------------------------------------------------


@pytest.mark.parametrize("sample", invoice_samples(), ids=lambda s: s.name)
def test_samples_encode_to_valid_documents(
    validator: Validator, genericode: _Genericode, sample: Sample,
) -> None:
    encoded = FORMAT.encode(sample.document, sample.context)
    assert_valid(validator, encoded)
    assert genericode.problems(encoded) == ""
    decoded = FORMAT.decode(encoded)
    assert decoded.document == sample.document
    assert decoded.warnings == ()


# -- detection -------------------------------------------------------------------------------


def test_a_1_8_invoice_is_another_version() -> None:
    data = (SHARED / "ubl-ohnl" / "1.8" / "xml" / "UBL-Invoice-Example07.xml").read_bytes()
    assert FORMAT.detect(Sniffed(data)) is Detection.OTHER_VERSION
    with pytest.raises(OhnlDecodeError, match=r"UBL-OHNL 1\.8 invoice; this format reads "
                                              r"version 1\.9"):
        FORMAT.decode(data)


@pytest.mark.parametrize("name", ["base-example.xml", "Vat-category-S.xml",
                                  "base-creditnote-correction.xml"])
def test_a_ubl_2_1_peppol_document_is_not_ohnl(name: str) -> None:
    data = (SHARED / "peppol-bis-billing-3" / "examples" / name).read_bytes()
    assert FORMAT.detect(Sniffed(data)) is Detection.NO
    with pytest.raises(OhnlDecodeError, match="not a UBL-OHNL invoice"):
        FORMAT.decode(data)


def test_an_en16931_invoice_is_not_ohnl() -> None:
    data = (SHARED / "en16931" / "ubl" / "examples" / "ubl-tc434-example1.xml").read_bytes()
    assert FORMAT.detect(Sniffed(data)) is Detection.NO


def test_an_ohnl_order_is_not_an_invoice() -> None:
    data = (EXAMPLES / "Voorbeeldbericht scenario 1 - UBL-OHNL_1.9_Order.xml").read_bytes()
    assert FORMAT.detect(Sniffed(data)) is Detection.NO
