"""Business keys: what makes two messages the same business document.

The key is built from the parties and the document's own number, never from
the bytes, so the same invoice submitted twice (or the same order delivered
twice under different transport ids) is recognised as one document.

A corrected timecard is the exception: SETU-OHNL sends it under the id of the
timecard it replaces, so by number alone it would pass for a repeat of the
original and never reach the ERP. Its key carries a digest of the decoded
correction, so each correction is a document of its own while the same
correction delivered again is still one.

So is a timecard sent again under its id, unmarked, in another status than
approved: the agency withdrawing its approval sends the timecard again as
"rejected". Its key carries the status, so the withdrawal reaches the ERP (and
the intake check of invoices) instead of passing for a changed repeat of the
approved timecard, while the same withdrawal delivered again is still one.
An approval given again after it, and a withdrawal after that, are turns of
their own alike: the inbound pipeline numbers their keys by the versions
before them (``<id>:status:approved:3``), as the document alone cannot tell a
new turn from an earlier one sent again late.

So is a staffing order that is not a new one: SETU-OHNL 2.0 allows
``OrderClassification/@orderStatus`` "new" and "closed" (its StaffingOrder
Schematron refuses every other value), and the agency closes an order under
the order's own id. Its key carries the status, so the closing reaches the ERP
instead of passing for a repeat of the order it closes.

So is a staffing confirmation (HumanResource): its id is the supplier's
HumanResourceId, which names the person proposed and comes back on every
order that person is proposed for. Its key carries the staffing order it
confirms, so the confirmation of a second order is not taken for a repeat of
the first, while the same confirmation again still is.
"""

from __future__ import annotations

import hashlib
import re

from gateway.identifiers import OIN, is_oin_scheme
from gateway.kinds import DocumentKind
from gateway.model import CanonicalDocument, Party, TimeCard, TimeCardStatus, kind_of
from gateway.model.json import dumps
from gateway.model.staffing import HumanResource, StaffingOrder

CORRECTION = "correction"
"""Marks the number of a corrected timecard: ``<id>:correction:<digest>``."""

STATUS = "status"
"""Marks the number of a staffing order that is not new (``<id>:status:<orderStatus>``)
and of a timecard that is neither approved nor a correction (``<id>:status:rejected``)."""

ORDER = "order"
"""Marks the number of a staffing confirmation: ``<id>:order:<staffing order number>``."""

NEW_ORDER = "new"
"""The status of a staffing order that is no change to an earlier one (and of one without)."""


def document_number(document: CanonicalDocument) -> str:
    """The number the issuer gave the document (invoice number, order id, timecard id)."""
    if isinstance(document, StaffingOrder):
        return document.order_id
    number = getattr(document, "number", None) or getattr(document, "id", None)
    if not isinstance(number, str) or not number:
        raise ValueError(f"a {kind_of(document).value} without a document number")
    return number


def number_field(document: CanonicalDocument) -> str:
    """The canonical JSON field that holds :func:`document_number`, to point an ERP at it."""
    if isinstance(document, StaffingOrder):
        return "order_id"
    return "number" if getattr(document, "number", None) else "id"


def key_number(document: CanonicalDocument) -> str:
    """The number in the document's business key: its own, marked for a corrected timecard,
    a timecard not approved and a staffing order that is not new.

    A correction's is ``<id>:correction:<digest of its content>``, a rejected
    timecard's ``<id>:status:rejected``, a closed staffing order's
    ``<id>:status:closed``, a confirmation's ``<id>:order:<order number>``;
    :func:`issued_number` gives the document's own number back.
    """
    number = document_number(document)
    if isinstance(document, TimeCard) and document.corrects is not None:
        digest = hashlib.sha256(dumps(document, indent=None).encode()).hexdigest()[:16]
        return f"{number}:{CORRECTION}:{digest}"
    if isinstance(document, TimeCard) and document.status is not TimeCardStatus.APPROVED:
        return f"{number}:{STATUS}:{document.status.value}"
    if isinstance(document, StaffingOrder) and document.order_status not in (None, NEW_ORDER):
        return f"{number}:{STATUS}:{document.order_status}"
    if isinstance(document, HumanResource):
        return f"{number}:{ORDER}:{document.order_reference}"
    return number


# The order number goes to the end of the key, whatever it holds.
_MARK = re.compile(rf":(?:{CORRECTION}:[0-9a-f]{{16}}|{STATUS}:\S+|{ORDER}:.*)$", re.DOTALL)
_MARKED_KINDS = (DocumentKind.TIMECARD.value, DocumentKind.HUMAN_RESOURCE.value)


def issued_number(number: str) -> str:
    """The document's own number from the number in its key (see :func:`key_number`)."""
    return _MARK.sub("", number)


AGENCY_PARTY_FIELDS = ("buyer", "customer", "sender")
"""The fields that may hold the agency party, in the order :func:`agency_party` tries them."""


def _agency_party_field(document: CanonicalDocument) -> tuple[str, Party]:
    """The agency party and the field holding it: the first of the fields that is set
    decides, and must be a Party (as the ``or`` chain this replaces had it)."""
    for field in AGENCY_PARTY_FIELDS:
        party = getattr(document, field, None)
        if party:
            if not isinstance(party, Party):
                break
            return field, party
    raise ValueError(f"a {kind_of(document).value} without a buyer, customer or sender party")


def agency_party(document: CanonicalDocument) -> Party:
    """The government side of a document: the buyer, the customer in SETU documents, or the
    sender of an invoice or message level response (the agency answers)."""
    return _agency_party_field(document)[1]


def party_oin(party: Party) -> str | None:
    """The party's OIN from its endpoint, legal id or identifiers, whichever states one.

    Normalised, so that it keys and compares like the agency directory's; an
    invalid OIN raises InvalidIdentifier (a ValueError) naming what is wrong.
    """
    for candidate in (party.endpoint_id, party.legal_id, *party.ids):
        if candidate is not None and is_oin_scheme(candidate.scheme):
            return OIN(candidate.value).value
    return None


def stated_oins(document: CanonicalDocument) -> list[tuple[str, str]]:
    """Every OIN the agency party states, as (model path of the value, value as written).

    In the order :func:`party_oin` reads them: endpoint, legal id, then each
    identifier. Paths are the canonical JSON's, e.g. ``buyer.ids[0].value``. The
    values are not checked here, so a caller can name the one at fault. Raises
    ValueError for a document without an agency party.
    """
    field, party = _agency_party_field(document)
    candidates = [(f"{field}.endpoint_id", party.endpoint_id),
                  (f"{field}.legal_id", party.legal_id),
                  *((f"{field}.ids[{i}]", oin) for i, oin in enumerate(party.ids))]
    return [(f"{path}.value", candidate.value) for path, candidate in candidates
            if candidate is not None and is_oin_scheme(candidate.scheme)]


def outbound_key(supplier_kvk: str, agency_oin: str, kind: DocumentKind, number: str) -> str:
    """Sender, receiver, kind and number: the document number alone is only unique per sender."""
    return f"{supplier_kvk}:{agency_oin}:{kind.value}:{number}"


def inbound_key(agency_oin: str, kind: DocumentKind, number: str) -> str:
    return f"{agency_oin}:{kind.value}:{number}"


def number_from_key(business_key: str) -> str:
    """The document's own number back from an outbound key (numbers may hold colons).

    Without the mark of a corrected timecard or a staffing confirmation (see
    :func:`key_number`): the number names the sent file and goes into e-mail
    subjects and portal tasks, where the agency knows the document by its own id.
    """
    parts = business_key.split(":", 3)
    if len(parts) == 4 and parts[2] in _MARKED_KINDS:
        return issued_number(parts[3])  # only these kinds' outbound keys carry a mark
    return parts[-1]

