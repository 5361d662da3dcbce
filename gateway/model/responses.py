"""What an agency answers on a document we sent: an Invoice Response or a Message Level Response.

Both travel over Peppol as a UBL ApplicationResponse, but they answer
different questions. The Invoice Response (Peppol T111) is the agency's
business verdict on an invoice or credit note, from "received" to "paid".
The Message Level Response (Peppol T71) says whether the receiving system
could take the document in at all; a rejection means the document was not
processed and must be corrected and sent again.
"""

from __future__ import annotations

import datetime as dt
import enum

import attrs

from gateway.model.common import DocumentReference, Party
from gateway.model.record import Record


class InvoiceStatus(enum.StrEnum):
    """The agency's status of an invoice (Peppol T111, UNCL 4343 subset).

    AB acknowledged (received, nothing decided), IP in process, UQ under
    query (the agency needs something from the supplier), CA conditionally
    accepted, RE rejected (will not be processed), AP accepted (approved for
    payment), PD paid. The values equal the gateway's business states.
    """

    ACKNOWLEDGED = "acknowledged"
    IN_PROCESS = "in-process"
    UNDER_QUERY = "under-query"
    CONDITIONALLY_ACCEPTED = "conditionally-accepted"
    REJECTED = "rejected"
    ACCEPTED = "accepted"
    PAID = "paid"


@attrs.frozen(kw_only=True)
class StatusCondition(Record):
    """A field of the invoice the agency points at, and what it says about it.

    ``attribute_id`` names the field, in Peppol as an EN 16931 business term
    (``BT-48``, the buyer's VAT number); ``description`` is the value the
    agency found or expects.
    """

    attribute_id: str
    description: str | None = None


@attrs.frozen(kw_only=True)
class StatusClarification(Record):
    """One reason for a status, or one action the agency asks for.

    ``code`` is the clarification code (Peppol OPStatusReason such as
    ``REF`` "references incorrect", or OPStatusAction such as ``NIN`` "issue
    a new invoice"); ``code_list`` names its list as written (``listID``).
    ``text`` is the reason in words; ``conditions`` point at fields.
    """

    code: str | None = None
    code_list: str | None = None
    text: str | None = None
    conditions: tuple[StatusCondition, ...] = ()

    def _check(self) -> None:
        if self.code is None and self.text is None and not self.conditions:
            raise self._fail("code", "a clarification needs a code, a text or a condition")


@attrs.frozen(kw_only=True)
class InvoiceResponse(Record):
    """An agency's status of an invoice or credit note we sent (Peppol Invoice Response, T111).

    ``invoice_reference`` names the invoice: its number, issue date and type
    code (380 invoice, 381 credit note). ``sender`` is the agency (the
    invoice's buyer), ``receiver`` the supplier. ``effective_date`` is when
    the status took effect; ``clarifications`` give the reasons and the
    actions asked for (required for CA, UQ and RE). ``issuer`` and
    ``recipient`` are the invoice's seller and buyer when a third party
    answers on their behalf.
    """

    number: str
    issue_date: dt.date
    issue_time: dt.time | None = None
    note: str | None = None
    status: InvoiceStatus
    effective_date: dt.date | None = None
    clarifications: tuple[StatusClarification, ...] = ()
    invoice_reference: DocumentReference
    sender: Party
    receiver: Party
    issuer: Party | None = None
    recipient: Party | None = None


class MessageStatus(enum.StrEnum):
    """Whether the receiving system took a document in (Peppol T71, UNCL 4343 subset).

    AB acknowledged (received, not yet checked), AP accepted, RE rejected:
    the document was not processed.
    """

    ACKNOWLEDGED = "acknowledged"
    ACCEPTED = "accepted"
    REJECTED = "rejected"


@attrs.frozen(kw_only=True)
class MessageLineResponse(Record):
    """One problem the receiver found in the document.

    ``location`` points at the fault, in Peppol an XPath into the document
    (``/Invoice/cac:InvoiceLine[3]/cbc:ID[1]``). ``reason_code`` says how
    bad it is (Peppol: ``BV`` business rule violation, fatal; ``BW`` business
    rule warning; ``SV`` syntax violation). ``description`` is the finding,
    usually with the rule id.
    """

    location: str
    description: str
    reason_code: str
    status: MessageStatus | None = None


@attrs.frozen(kw_only=True)
class MessageLevelResponse(Record):
    """Whether a document we sent could be taken in (Peppol Message Level Response, T71).

    ``document_reference`` names the document answered: in Peppol the
    SBDH instance identifier or the document's own number, with its type
    code; ``document_version`` its version, when given. ``sender`` is the
    party that checked it, ``receiver`` the party that sent it (us).
    ``line_responses`` list the problems found.
    """

    number: str
    issue_date: dt.date
    issue_time: dt.time | None = None
    status: MessageStatus
    description: str | None = None
    document_reference: DocumentReference
    document_version: str | None = None
    sender: Party
    receiver: Party
    line_responses: tuple[MessageLineResponse, ...] = ()
