"""Berichtsoort (the WUS ``berichtsoort`` value) <-> document kind and format (domain.md 1.2).

A ``Berichtsoort`` names its document kind (the gateway's kind, as in
``gateway formats``), the format key prefix ``standard:document`` (any version
of it fits) and the direction seen from the supplier: "outbound" is supplier to
Rijk (aanleveren), "inbound" is Rijk to supplier (afleveren / ophalen).

Two UBL-OHNL invoices exist: ``FACTUUR-UBL`` for an invoice on a DigiInkoop
order and ``E-Factuur-UBL`` for one without; ``for_document`` picks by
``with_order``. Same for FACTUUR-HRXML / E-FACTUUR-HRXML. Names compare
case-insensitively, since sources spell some of them differently
(``E-Factuur-HRXML`` / ``E-FACTUUR-HRXML``); the canonical spelling is kept.
Suspended message types are listed with ``active=False``.
"""

from __future__ import annotations

from typing import Final

import attrs


@attrs.frozen
class Berichtsoort:
    name: str
    kind: str
    format_prefix: str
    direction: str  # "outbound" (supplier -> Rijk) or "inbound"
    active: bool = True
    on_order: bool | None = None  # invoices: True for FACTUUR-*, False for E-Factuur-*

    def matches_format(self, format_key: str) -> bool:
        return format_key.rsplit(":", 1)[0] == self.format_prefix


BERICHTSOORTEN: Final = (
    Berichtsoort(
        "OFFERTE-AANVRAAG-UBL", "request-for-quotation", "ubl-ohnl:request-for-quotation",
        "inbound", active=False,
    ),
    Berichtsoort("OFFERTE-UBL", "quotation", "ubl-ohnl:quotation", "outbound", active=False),
    Berichtsoort(
        "AFWIJZING-UBL", "request-for-quotation-cancellation",
        "ubl-ohnl:request-for-quotation-cancellation", "inbound", active=False,
    ),
    Berichtsoort("BESTELLING-UBL", "order", "ubl-ohnl:order", "inbound"),
    Berichtsoort(
        "BESTELLING-BEVESTIGING-UBL", "order-response", "ubl-ohnl:order-response", "outbound"
    ),
    Berichtsoort("FACTUUR-UBL", "invoice", "ubl-ohnl:invoice", "outbound", on_order=True),
    Berichtsoort("E-Factuur-UBL", "invoice", "ubl-ohnl:invoice", "outbound", on_order=False),
    Berichtsoort("BESTELLING-HRXML", "staffing-order", "setu-ohnl:staffing-order", "inbound"),
    Berichtsoort(
        "BESTELLING-BEVESTIGING-HRXML", "human-resource", "setu-ohnl:human-resource", "outbound"
    ),
    Berichtsoort("TIMECARD-HRXML", "timecard", "setu-ohnl:timecard", "inbound"),
    Berichtsoort("FACTUUR-HRXML", "invoice", "setu-ohnl:invoice", "outbound", on_order=True),
    Berichtsoort("E-FACTUUR-HRXML", "invoice", "setu-ohnl:invoice", "outbound", on_order=False),
    Berichtsoort(
        "OFFERTE-AANVRAAG-HRXML", "staffing-order", "setu-ohnl:staffing-order", "inbound",
        active=False,
    ),
    Berichtsoort(
        "OFFERTE-HRXML", "human-resource", "setu-ohnl:human-resource", "outbound", active=False
    ),
)

_BY_NAME: Final = {b.name.upper(): b for b in BERICHTSOORTEN}


class UnknownBerichtsoort(KeyError):
    def __str__(self) -> str:
        return str(self.args[0])


def by_name(name: str) -> Berichtsoort:
    found = _BY_NAME.get(name.strip().upper())
    if found is None:
        raise UnknownBerichtsoort(
            f"unknown berichtsoort {name!r}; known: {', '.join(b.name for b in BERICHTSOORTEN)}"
        )
    return found


def for_document(kind: str, format_key: str, *, with_order: bool = True) -> Berichtsoort:
    """The active berichtsoort for a kind in a format, e.g. invoice in ubl-ohnl:invoice:1.9."""
    candidates = [
        b for b in BERICHTSOORTEN if b.active and b.kind == kind and b.matches_format(format_key)
    ]
    if len(candidates) > 1:
        candidates = [b for b in candidates if b.on_order is None or b.on_order == with_order]
    if not candidates:
        raise UnknownBerichtsoort(
            f"no Digipoort berichtsoort for a {kind} in format {format_key}"
        )
    return candidates[0]
