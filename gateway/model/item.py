"""What is ordered, quoted or invoiced: the item on a line."""

from __future__ import annotations

import attrs

from gateway.model.record import Record
from gateway.model.shape import COUNTRY_CODE


@attrs.frozen(kw_only=True)
class StandardItemId(Record):
    """An item identifier under a registered scheme, e.g. GTIN under ICD ``0160`` (BT-157)."""

    scheme: str
    value: str


@attrs.frozen(kw_only=True)
class ItemClassification(Record):
    """A classification code of an item (BT-158), e.g. UNSPSC (``list_id`` ``MP``) or CPV."""

    code: str
    list_id: str
    list_version: str | None = None


@attrs.frozen(kw_only=True)
class ItemProperty(Record):
    """A named attribute of an item (BT-160/BT-161), e.g. colour: blue."""

    name: str
    value: str


@attrs.frozen(kw_only=True)
class Item(Record):
    """The goods or service on a line.

    OHNL asks the buyer to fill ``name`` and the seller ``description``; the
    other standards require a name, so a decoder that finds only a description
    uses it as the name too.
    """

    name: str
    description: str | None = None
    seller_item_id: str | None = None
    buyer_item_id: str | None = None
    standard_item_id: StandardItemId | None = None
    classifications: tuple[ItemClassification, ...] = ()
    properties: tuple[ItemProperty, ...] = ()
    origin_country: str | None = attrs.field(default=None, metadata=COUNTRY_CODE)
