"""Why a business step cannot build the document the ERP asked for.

The errors carry the offending ids as data, so an ERP can point its user at
the lines or timecards to fix instead of parsing the message.
"""

from __future__ import annotations

from collections.abc import Iterable

from gateway.errors import GatewayError


class BusinessError(GatewayError, ValueError):
    """The source documents do not allow the requested answer or invoice."""


class UnknownLines(BusinessError):
    """Line ids given by the caller that the source document does not have."""

    def __init__(self, document: str, line_ids: Iterable[str]) -> None:
        self.line_ids = tuple(line_ids)
        listed = ", ".join(repr(i) for i in self.line_ids)
        super().__init__(f"{document} has no line(s) {listed}")


class MissingLineData(BusinessError):
    """Lines that lack a value only the caller can supply (a price, a VAT category, a rate)."""

    def __init__(self, what: str, line_ids: Iterable[str], hint: str) -> None:
        self.what = what
        self.line_ids = tuple(line_ids)
        listed = ", ".join(repr(i) for i in self.line_ids)
        super().__init__(f"no {what} for line(s) {listed}; {hint}")


class ProposalNotSendable(BusinessError):
    """A proposal invoice (voorstelfactuur) offered for sending as if it were the supplier's."""
