"""Building blocks shared by every document: parties, addresses, references, periods.

All classes are frozen attrs classes with keyword-only constructors. Absent
values are ``None``, never empty text; repeated values are tuples.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import attrs

from gateway.model.record import Record
from gateway.model.shape import COUNTRY_CODE


@attrs.frozen(kw_only=True)
class PartyId(Record):
    """An identifier of a party under a named scheme.

    ``scheme`` is the word the source standard uses: an OHNL/SETU scheme name
    (``OIN``, ``KvK``, ``Vest``, ``BTW``, ``Fi``, ``BSN``, ``GLN``, ``XXX`` for
    "other") or a Peppol ICD/EAS code such as ``0190`` (OIN) or ``0106`` (KvK).
    The value is kept exactly as written; :mod:`gateway.identifiers` checks it.
    """

    scheme: str
    value: str


@attrs.frozen(kw_only=True)
class Address(Record):
    """A postal or physical address.

    OHNL keeps the building number and its addition apart and allows either a
    postbox or street data, not both; that rule belongs to OHNL validation.
    """

    street: str | None = None
    additional_street: str | None = None
    address_line: str | None = None
    building_number: str | None = None
    building_addition: str | None = None
    postbox: str | None = None
    postal_zone: str | None = None
    city: str | None = None
    country_subdivision: str | None = None
    country_code: str | None = attrs.field(default=None, metadata=COUNTRY_CODE)


@attrs.frozen(kw_only=True)
class Contact(Record):
    """A person or desk to contact at a party."""

    name: str | None = None
    telephone: str | None = None
    email: str | None = None


@attrs.frozen(kw_only=True)
class Party(Record):
    """A trading party: the agency, the supplier, a payee.

    ``ids`` are the party identifications (OHNL allows up to three, e.g. KvK,
    Vest and BTW); ``legal_id`` is the legal registration (EN 16931 BT-30,
    e.g. scheme ``0106`` KvK or ``0190`` OIN); ``vat_id`` the VAT number with
    country prefix (BT-31); ``tax_registration_id`` a local tax number (BT-32).
    ``endpoint_id`` is the electronic address the party receives documents on
    (Peppol ``EndpointID``; for agencies the OIN under ``0190``).
    """

    name: str | None = None
    registration_name: str | None = None
    ids: tuple[PartyId, ...] = ()
    legal_id: PartyId | None = None
    legal_form: str | None = None
    vat_id: str | None = None
    tax_registration_id: str | None = None
    address: Address | None = None
    contact: Contact | None = None
    endpoint_id: PartyId | None = None

    def id_for(self, scheme: str) -> str | None:
        """The value of the first identifier under ``scheme`` in ``ids``, if any."""
        for party_id in self.ids:
            if party_id.scheme == scheme:
                return party_id.value
        return None


@attrs.frozen(kw_only=True)
class Attachment(Record):
    """A file carried with a document, embedded (``content``) or pointed to (``uri``).

    Embedded content needs its MIME type: every standard that embeds files
    requires it (OHNL ``@mimeCode``, EN 16931 BT-125-1).
    """

    content: bytes | None = None
    mime_type: str | None = None
    filename: str | None = None
    description: str | None = None
    uri: str | None = None

    def _check(self) -> None:
        if self.content is None and self.uri is None:
            raise self._fail("content", "an attachment needs content or a uri")
        if self.content is not None and self.mime_type is None:
            raise self._fail("mime_type", "embedded content needs a MIME type")


@attrs.frozen(kw_only=True)
class DocumentReference(Record):
    """A reference to another document, optionally with the document itself.

    ``type_code`` is the code or word the source uses for the kind of document
    (UNCL 1001 such as ``130`` for an invoiced object, or OHNL ``DocumentType``
    text such as ``Contract``).
    """

    id: str
    type_code: str | None = None
    issue_date: dt.date | None = None
    description: str | None = None
    attachment: Attachment | None = None


@attrs.frozen(kw_only=True)
class OrderReference(Record):
    """A reference to a purchase order.

    ``sales_order_id`` is the supplier's own number for the order: on an
    invoice EN 16931 BT-14, on an order response the supplier's sales order.
    """

    id: str
    sales_order_id: str | None = None
    issue_date: dt.date | None = None


@attrs.frozen(kw_only=True)
class Period(Record):
    """A span of days; either end may be open, but not both (EN 16931 BR-CO-19).

    ``description_code`` carries a code some standards put on a period
    (e.g. OHNL InvoicePeriodDescriptionCode, EN 16931 BT-8).
    """

    start: dt.date | None = None
    end: dt.date | None = None
    description_code: str | None = None

    def _check(self) -> None:
        if self.start is None and self.end is None:
            raise self._fail("start", "a period needs a start date, an end date or both")
        if self.start is not None and self.end is not None and self.end < self.start:
            raise self._fail("end", f"ends ({self.end}) before it starts ({self.start})")


@attrs.frozen(kw_only=True)
class Quantity(Record):
    """An amount of something in a unit, e.g. 8 HUR or 12 EA.

    ``unit_code`` is a UN/ECE Recommendation 20 code where the standard uses
    them; SETU documents also use words such as ``regular``, kept as written.
    """

    value: Decimal
    unit_code: str
