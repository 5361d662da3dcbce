"""The vocabulary shared by routing, formats and channels.

A *document kind* is what a message is in business terms, independent of the
standard it is written in: an invoice is an invoice whether it travels as
SI-UBL, Peppol BIS or UBL-OHNL. Routing is configured per agency and kind.
"""

from __future__ import annotations

import enum


class DocumentKind(enum.StrEnum):
    """Business document kinds the gateway routes.

    The values are the words used in configuration files, the API and the CLI.
    """

    INVOICE = "invoice"
    CREDIT_NOTE = "credit-note"
    ORDER = "order"
    ORDER_RESPONSE = "order-response"
    STAFFING_ORDER = "staffing-order"
    HUMAN_RESOURCE = "human-resource"  # the SETU order confirmation
    TIMECARD = "timecard"
    REQUEST_FOR_QUOTATION = "request-for-quotation"
    QUOTATION = "quotation"
    REQUEST_FOR_QUOTATION_CANCELLATION = "request-for-quotation-cancellation"
    INVOICE_RESPONSE = "invoice-response"
    MESSAGE_LEVEL_RESPONSE = "message-level-response"

    @classmethod
    def parse(cls, text: str) -> DocumentKind:
        """Return the kind named by ``text`` or raise ValueError listing the known kinds."""
        try:
            return cls(text.strip().lower())
        except ValueError:
            known = ", ".join(k.value for k in cls)
            raise ValueError(f"unknown document kind {text!r}; known kinds: {known}") from None


KINDS = [kind.value for kind in DocumentKind]
"""Every kind's name, for filters that refuse an unknown one: a typo or a plural would
otherwise list nothing, and the caller conclude there is nothing of that kind."""


class Direction(enum.StrEnum):
    """Which way a document travels, seen from the supplier."""

    OUTBOUND = "outbound"  # supplier -> agency
    INBOUND = "inbound"  # agency -> supplier
