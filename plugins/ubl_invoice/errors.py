"""What the UBL invoice formats refuse, and why."""

from __future__ import annotations

from gateway.errors import GatewayError
from plugins.ubl import UBLReadError


class UBLInvoiceError(GatewayError):
    """A canonical invoice that cannot be written in the format asked for."""


class WrongDocumentError(UBLInvoiceError):
    """The document is not an invoice, or a credit note was handed to an invoice format."""


class ProposalInvoiceError(UBLInvoiceError):
    """A voorstelfactuur (proposal invoice) has no place in EN 16931 based formats.

    Only UBL-OHNL knows proposal invoices (type codes VD/VC), and only the
    Rijk creates them; a supplier answers one in the portal.
    """


class AgencyMismatchError(UBLInvoiceError):
    """The buyer's OIN on the invoice is not the agency the invoice is routed to."""


class GAccountError(UBLInvoiceError):
    """A G-account invoice that cannot be split: settings missing, or not one payment means."""


class NotThisFormatError(UBLReadError):
    """The bytes are UBL, but not the document type or CustomizationID of this format."""
