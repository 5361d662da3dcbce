"""What the Peppol ordering formats refuse, and why."""

from __future__ import annotations

from gateway.errors import GatewayError
from plugins.ubl import UBLReadError


class UBLOrderingError(GatewayError):
    """A canonical order or order response that cannot be written in the format asked for."""


class WrongDocumentError(UBLOrderingError):
    """The document is not of the kind the format writes."""


class BasisorderRijkError(UBLOrderingError):
    """An order that breaks a Basisorder Rijk rule stricter than Peppol T01."""


class AgencyMismatchError(UBLOrderingError):
    """The buyer's OIN on the order is not the agency the order is routed to."""


class NotThisFormatError(UBLReadError):
    """The bytes are UBL, but not the document type or CustomizationID of this format."""
