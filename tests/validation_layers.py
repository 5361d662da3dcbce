"""Validation layers as the invoice format plugins declare them, for the engine's tests.

The tests define the layers themselves so that the engine is checked against
the official artifacts independently of any format plugin.
"""

from __future__ import annotations

from pathlib import Path

from lxml import etree

from gateway.formats import LayerKind, ValidationLayer
from gateway.xmlsafe import parse_xml

SHARED_STANDARDS = Path(__file__).resolve().parents[2] / "shared" / "standards"
"""Read-only source of publisher examples and unit tests (never copied into the repository)."""

BASE_EXAMPLE = SHARED_STANDARDS / "peppol-bis-billing-3" / "examples" / "base-example.xml"


def ubl21_xsd(document: str) -> ValidationLayer:
    """The UBL 2.1 schema of ``document`` ("Invoice" or "CreditNote")."""
    return ValidationLayer(
        LayerKind.XSD, "ubl-2.1", f"oasis-ubl/ubl-2.1/xsdrt/maindoc/UBL-{document}-2.1.xsd")


EN16931 = ValidationLayer(
    LayerKind.SCHEMATRON, "en16931", "en16931/ubl/xslt/EN16931-UBL-validation.xslt")
PEPPOL = ValidationLayer(
    LayerKind.SCHEMATRON, "peppol", "peppol-bis-billing-3/xslt/PEPPOL-EN16931-UBL.xslt")
SI_UBL = ValidationLayer(LayerKind.SCHEMATRON, "si-ubl", "si-ubl-validation/xsl/si-ubl-2.0.xsl")
OHNL_INVOICE_XSD = ValidationLayer(
    LayerKind.XSD, "ubl-ohnl-1.9", "ubl-ohnl/1.9/xsd/maindoc/Invoice.xsd")
OHNL_INVOICE_RULES = ValidationLayer(
    LayerKind.SCHEMATRON, "ubl-ohnl-1.9-rules", "ubl-ohnl/1.9/Invoice-Schematron-Validation.xsl")

PEPPOL_INVOICE = (ubl21_xsd("Invoice"), EN16931, PEPPOL)


def pool_documents() -> list[bytes]:
    """One of each verdict for the pool's tests: valid, a rule broken, XSD-invalid, refused."""
    good = BASE_EXAMPLE.read_bytes()
    return [
        good,
        good.replace(b'<cbc:PayableAmount currencyID="EUR">',
                     b'<cbc:PayableAmount currencyID="EUR">1'),  # BR-CO-16
        good.replace(b"<cbc:IssueDate>", b"<cbc:IssueDate>x"),  # XSD, rules skipped
        b"<!DOCTYPE x [<!ENTITY a 'b'>]><x>&a;</x>",  # refused by the parser
    ]


def ubl_document_type(data: bytes) -> str:
    """The local name of the root element: ``"Invoice"`` or ``"CreditNote"``."""
    return str(etree.QName(parse_xml(data).getroot()).localname)
