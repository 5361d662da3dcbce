"""The UBL-OHNL Invoice: FACTUUR-UBL and E-Factuur-UBL (and the agency's voorstelfactuur).

One UBL 2.0 ``Invoice`` document serves every OHNL invoice; the Digipoort
berichtsoort only says whether it answers a DigiInkoop order
(:func:`berichtsoort`). Credit notes are invoices of type C that name the
debit note in ``BillingReference/DebitNoteDocumentReference``; proposal
invoices (VD/VC, Voorstel debit-/creditnota) are made by the agency and read
as ``Invoice.proposal``.

Encoding refuses, with the canonical field and the OHNL rule in the message,
whatever OHNL requires and the document lacks (delivery date, an order
reference, cost centre or buyer contact, addresses with a country, ...) or
whatever it holds that OHNL cannot carry where money or identity depends on
it (VAT in a second currency, embedded attachments, a unit outside the OHNL
subset, an invoice number over 24 characters, a buyer OIN other than the
routed agency's).

Left out when encoding, because OHNL has no element for them: the buyer,
project and tender references, timecard references (SETU invoices carry
those), ``Delivery.period``, ``DocumentReference.description``, a payment
mandate reference, a party's ``legal_form`` and ``tax_registration_id``,
``Party.legal_id``/``endpoint_id`` beyond the three identifications OHNL
allows, and ``Invoice.attachments``, which travel in the Digipoort envelope
(``berichtBijlagen``), never inside an OHNL invoice.

Decoding keeps the totals as stated, reports every element it did not map by
XPath, and adds the EN 16931 arithmetic findings as warnings.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Final, Literal

from gateway.formats import Decoded, Detection, EncodeContext, Format, Sample, ValidationLayer
from gateway.kinds import Direction, DocumentKind
from gateway.model import FieldProblem, Invoice
from gateway.sniff import Sniffed
from gateway.xmlsafe import parse_xml
from plugins.ubl_ohnl.detect import describe, detect_root
from plugins.ubl_ohnl.errors import OhnlDecodeError, OhnlEncodeError
from plugins.ubl_ohnl.invoice_reader import InvoiceReader
from plugins.ubl_ohnl.invoice_writer import ALLOW_PROPOSAL, DOCUMENT, MAX_INVOICE_ID, InvoiceWriter
from plugins.ubl_ohnl.samples import invoice_samples
from plugins.ubl_ohnl.versions import V1_8, V1_9, OhnlVersion
from plugins.ubl_ohnl.xmltools import serialize

__all__ = [
    "ALLOW_PROPOSAL", "MAX_INVOICE_ID", "OhnlInvoice18", "OhnlInvoice19", "OhnlInvoiceFormat",
    "berichtsoort",
]

Berichtsoort = Literal["FACTUUR-UBL", "E-Factuur-UBL"]
FACTUUR_UBL: Final = "FACTUUR-UBL"
E_FACTUUR_UBL: Final = "E-Factuur-UBL"


def berichtsoort(invoice: Invoice) -> Berichtsoort:
    """The Digipoort berichtsoort for ``invoice`` as UBL-OHNL 1.9 defines them.

    FACTUUR-UBL answers a DigiInkoop order, which the invoice names in
    ``order_reference``; an invoice without one is an E-Factuur-UBL.
    """
    return FACTUUR_UBL if invoice.order_reference is not None else E_FACTUUR_UBL


class OhnlInvoiceFormat(Format):
    """UBL-OHNL Invoice of one release; subclasses name the release."""

    version: ClassVar[OhnlVersion]
    kind = DocumentKind.INVOICE
    # A credit note is an invoice of the credit type here: the standard has no
    # document of its own for one.
    also_kinds = frozenset({DocumentKind.CREDIT_NOTE})
    directions = frozenset({Direction.OUTBOUND, Direction.INBOUND})

    def detect(self, doc: Sniffed) -> Detection:
        return detect_root(doc.root, DOCUMENT, self.version)

    def layers(self) -> Sequence[ValidationLayer]:
        return self.version.layers(DOCUMENT)

    def encode(self, document: Any, context: EncodeContext) -> bytes:
        if not isinstance(document, Invoice):
            raise OhnlEncodeError(
                f"{self.key} encodes invoices and credit notes, not {type(document).__name__}"
            )
        return serialize(InvoiceWriter(self.version, document, context).invoice())

    def decode(self, data: bytes) -> Decoded:
        if not Sniffed(data).looks_like_xml:
            raise OhnlDecodeError(f"{self.key}: expected UBL-OHNL XML, got {describe(data)}")
        root = parse_xml(data).getroot()
        found = detect_root(root, DOCUMENT, self.version)
        if found is Detection.NO:
            raise OhnlDecodeError(
                f"{self.key}: not a UBL-OHNL invoice (UBL 2.0 Invoice with ProfileID NL); "
                f"got {describe(data)}"
            )
        if found is Detection.OTHER_VERSION:
            version = Sniffed(data).text("*[local-name()='CustomizationID']")
            raise OhnlDecodeError(
                f"{self.key}: this is a UBL-OHNL {version or '(unversioned)'} invoice; "
                f"this format reads version {self.version.version}"
            )
        try:
            invoice, warnings = InvoiceReader(root).invoice()
        except FieldProblem as exc:
            raise OhnlDecodeError(
                f"{self.key}: the invoice does not fit the canonical model: {exc}"
            ) from None
        arithmetic = [f"arithmetic {v.rule}: {v.message}" for v in invoice.arithmetic_errors()]
        return Decoded(invoice, tuple(warnings + arithmetic))

    def samples(self) -> Sequence[Sample]:
        return invoice_samples()


class OhnlInvoice19(OhnlInvoiceFormat):
    key = "ubl-ohnl:invoice:1.9"
    version = V1_9
    description = (
        "UBL-OHNL 1.9 Invoice (FACTUUR-UBL, E-Factuur-UBL): UBL 2.0 with the "
        "DigiInkoop NL extensions"
    )




class OhnlInvoice18(OhnlInvoiceFormat):
    key = "ubl-ohnl:invoice:1.8"
    version = V1_8
    description = (
        "UBL-OHNL 1.8 Invoice (FACTUUR-UBL, E-Factuur-UBL), for agencies still on 1.8: "
        "one note, one payment means, registration address optional"
    )
