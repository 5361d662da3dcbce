"""What the UBL-OHNL formats raise when a document cannot be written or read."""

from __future__ import annotations

from gateway.errors import GatewayError
from gateway.formats import AnsweredUnknown


class OhnlEncodeError(GatewayError):
    """A canonical document holds something UBL-OHNL cannot carry, or lacks what it requires.

    The message names the canonical field and the OHNL rule, so the ERP
    integrator knows what to change.
    """


class OhnlAnsweredUnknown(OhnlEncodeError, AnsweredUnknown):
    """A response whose order the gateway has not received: it repeats that order's lines."""


class OhnlDecodeError(GatewayError):
    """Bytes that are not a readable UBL-OHNL document of the expected kind and version.

    ``xpath`` locates the fault in the document when there is one.
    """

    def __init__(self, message: str, xpath: str | None = None) -> None:
        self.xpath = xpath
        super().__init__(f"{xpath}: {message}" if xpath else message)
