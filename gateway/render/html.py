"""Canonical document to a self-contained HTML page.

Invoices and credit notes get a page laid out like the portal's entry form
(parties, header, lines, VAT breakdown, totals, payment); every other document
kind gets a generic page that walks the model's fields, so a new document
class renders without a new template.
"""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal
from typing import Any

import jinja2

from gateway.model import (
    Address,
    CanonicalDocument,
    Invoice,
    InvoiceLine,
    Party,
    kind_of,
    vat_amount,
)
from gateway.model.shape import fields_of, is_record

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("gateway.render", "templates"),
    # Every value is escaped: document text comes from outside and is never markup.
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def render_html(document: CanonicalDocument, *, title: str | None = None) -> str:
    """The document as one HTML page with inline CSS and no external references."""
    kind = kind_of(document)
    kind_name = _KIND_TITLES.get(kind.value, kind.value)
    heading = title or kind_name
    if isinstance(document, Invoice):
        return _ENV.get_template("invoice.html").render(
            title=heading, invoice=document, kind=kind.value, kind_name=kind_name,
            seller=party_rows(document.seller), buyer=party_rows(document.buyer),
            payee=party_rows(document.payee) if document.payee else [],
            tax_representative=(party_rows(document.tax_representative)
                                if document.tax_representative else []),
            delivery_address=(address_rows(document.delivery.address)
                              if document.delivery and document.delivery.address else []),
            fmt=text, amount=amount, pct=percent, line_vat=line_vat,
            vat_computed=vat_computed,
            any_vat_computed=any(vat_computed(line) for line in document.lines),
            computed_vat_note=COMPUTED_VAT_NOTE,
        )
    return _ENV.get_template("document.html").render(
        title=heading, kind=kind.value, kind_name=kind_name, number=_number(document),
        rows=field_rows(document),
    )


_KIND_TITLES = {
    "invoice": "Factuur",
    "credit-note": "Creditnota",
    "order": "Order",
    "order-response": "Orderbevestiging",
    "quotation": "Offerte",
    "request-for-quotation": "Offerteaanvraag",
    "human-resource": "Aanbieding kandidaat (HumanResource)",
    "staffing-order": "Inhuuropdracht",
    "timecard": "Urenstaat",
    "request-for-quotation-cancellation": "Afwijzing offerteaanvraag",
    "invoice-response": "Factuurreactie",
    "message-level-response": "Berichtreactie",
}


def _number(document: CanonicalDocument) -> str:
    for name in ("number", "id", "document_id", "order_id"):
        value = getattr(document, name, None)
        if isinstance(value, str):
            return value
    return ""


def text(value: Any) -> str:
    """One value as display text; None is an empty cell."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "ja" if value else "nee"
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, Decimal):
        return dutch(f"{value:,f}")
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, bytes):
        return f"({len(value)} bytes)"
    return str(value)


def amount(value: Decimal | None, currency: str = "") -> str:
    """Money with two decimals at least (a price may carry more), grouped for reading."""
    if value is None:
        return ""
    exponent = value.as_tuple().exponent
    places = max(2, -exponent) if isinstance(exponent, int) else 2
    shown = dutch(f"{value:,.{places}f}")
    return f"{currency} {shown}".strip()


def percent(rate: Decimal | None) -> str:
    """A VAT rate as people write it: 21 %, 9 %, 0 % (never 21.00 %).

    A no-break space keeps the sign with its number in a narrow column.
    """
    if rate is None:
        return ""
    return f"{dutch(format(rate.normalize(), 'f'))}\u00a0%"


_TO_DUTCH = str.maketrans(",.", ".,")


def dutch(number: str) -> str:
    """A number Python wrote (1,234.5) as the Dutch reader writes it (1.234,5).

    The person reading the page keys the figures into a Dutch portal, where
    12.345 is twelve thousand and the comma marks the decimals.
    """
    return number.translate(_TO_DUTCH)


COMPUTED_VAT_NOTE = "berekend door Wissel per regel; het btw-totaal is dat van de factuur"
"""Under the lines table when a line's VAT was computed here (the ``*`` it is marked with).

Computed per line, those amounts need not add up to the document's VAT total, which
EN 16931 rounds per rate and which document level allowances and charges change: the
reader has to know which figures are the document's own.
"""


def line_vat(line: InvoiceLine) -> Decimal | None:
    """The line's VAT as stated, else as EN 16931 would compute it (for reading only)."""
    if line.vat_amount is not None:
        return line.vat_amount
    if line.vat_rate is None:
        return None
    return vat_amount(line.net_amount, line.vat_rate)


def vat_computed(line: InvoiceLine) -> bool:
    """Whether :func:`line_vat` shows a figure computed here rather than the document's."""
    return line.vat_amount is None and line.vat_rate is not None


def party_rows(party: Party) -> list[tuple[str, str]]:
    """The identifying fields of a party, labelled as the portal asks for them."""
    rows: list[tuple[str, str]] = [
        ("Naam", text(party.name)),
        ("Statutaire naam", text(party.registration_name)),
    ]
    rows += [(f"Id ({pid.scheme})", pid.value) for pid in party.ids]
    if party.legal_id is not None:
        rows.append((f"Registratie ({party.legal_id.scheme})", party.legal_id.value))
    rows.append(("Rechtsvorm", text(party.legal_form)))
    rows.append(("Btw-nummer", text(party.vat_id)))
    rows.append(("Fiscaal nummer", text(party.tax_registration_id)))
    if party.endpoint_id is not None:
        rows.append((f"Elektronisch adres ({party.endpoint_id.scheme})", party.endpoint_id.value))
    if party.address is not None:
        rows += address_rows(party.address)
    contact = party.contact
    if contact is not None:
        rows += [("Contact", text(contact.name)), ("Telefoon", text(contact.telephone)),
                 ("E-mail", text(contact.email))]
    return [(label, value) for label, value in rows if value]


def address_rows(address: Address) -> list[tuple[str, str]]:
    """Every line of an address; OHNL has either a street or a postbox."""
    street = " ".join(filter(None, (address.street, address.building_number,
                                    address.building_addition)))
    rows = [
        ("Adres", street),
        ("Adresregel", text(address.additional_street)),
        ("Adresregel", text(address.address_line)),
        ("Postbus", text(address.postbox)),
        ("Postcode en plaats", " ".join(filter(None, (address.postal_zone, address.city)))),
        ("Regio", text(address.country_subdivision)),
        ("Land", text(address.country_code)),
    ]
    return [(label, value) for label, value in rows if value]


def field_rows(record: Any, depth: int = 0) -> list[dict[str, Any]]:
    """Every set field of a model record as nested rows: label, text or children."""
    rows: list[dict[str, Any]] = []
    for info in fields_of(type(record)):
        value = getattr(record, info.name)
        if value is None or value == ():
            continue
        label = info.name.replace("_", " ")
        if is_record(type(value)):
            rows.append({"label": label, "children": field_rows(value, depth + 1)})
        elif isinstance(value, tuple):
            for index, item in enumerate(value, start=1):
                if is_record(type(item)):
                    rows.append({"label": f"{label} {index}",
                                 "children": field_rows(item, depth + 1)})
                else:
                    rows.append({"label": label if len(value) == 1 else f"{label} {index}",
                                 "text": text(item)})
        else:
            rows.append({"label": label, "text": text(value)})
    return rows
