"""Where and when goods or services are delivered, and on what terms."""

from __future__ import annotations

import datetime as dt

import attrs

from gateway.model.common import Address, Contact, PartyId, Period
from gateway.model.record import Record


@attrs.frozen(kw_only=True)
class DeliveryTerms(Record):
    """Delivery terms: an Incoterms code (OHNL list NL-1002) and where they apply."""

    code: str | None = None
    description: str | None = None
    location: str | None = None


@attrs.frozen(kw_only=True)
class Delivery(Record):
    """Delivery data of a document or of one line.

    What ``date`` and ``period`` mean depends on the document: on an order the
    requested delivery, on an order response the promised one, on an invoice
    the actual delivery date (EN 16931 BT-72). ``location_id`` identifies the
    place (BT-71, e.g. a GLN), ``party_name`` who receives (BT-70).

    OHNL requires delivery data either on the order header or on every line,
    never mixed; :meth:`gateway.model.order.Order.delivery_for` reads either.
    """

    date: dt.date | None = None
    period: Period | None = None
    address: Address | None = None
    location_id: PartyId | None = None
    party_name: str | None = None
    contact: Contact | None = None
    terms: DeliveryTerms | None = None
