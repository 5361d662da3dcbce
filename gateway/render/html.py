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

from gateway.model import CanonicalDocument, Invoice, InvoiceLine, Party, kind_of, vat_amount
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
    heading = title or _KIND_TITLES.get(kind.value, kind.value)
    if isinstance(document, Invoice):
        return _ENV.get_template("invoice.html").render(
            title=heading, invoice=document, kind=kind.value,
            seller=party_rows(document.seller), buyer=party_rows(document.buyer),
            fmt=text, amount=amount, pct=percent, line_vat=line_vat,
        )
    return _ENV.get_template("document.html").render(
        title=heading, kind=kind.value, number=_number(document), rows=field_rows(document),
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
}


def _number(document: CanonicalDocument) -> str:
    for name in ("number", "id", "document_id"):
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
        return format(value, "f")
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
    shown = f"{value:,.{places}f}"
    return f"{currency} {shown}".strip()


def percent(rate: Decimal | None) -> str:
    """A VAT rate as people write it: 21 %, 9 %, 0 % (never 21.00 %)."""
    if rate is None:
        return ""
    return f"{rate.normalize():f} %"


def line_vat(line: InvoiceLine) -> Decimal | None:
    """The line's VAT as stated, else as EN 16931 would compute it (for reading only)."""
    if line.vat_amount is not None:
        return line.vat_amount
    if line.vat_rate is None:
        return None
    return vat_amount(line.net_amount, line.vat_rate)


def party_rows(party: Party) -> list[tuple[str, str]]:
    """The identifying fields of a party, labelled as the portal asks for them."""
    rows: list[tuple[str, str]] = [
        ("Naam", text(party.name)),
        ("Statutaire naam", text(party.registration_name)),
    ]
    rows += [(f"Id ({pid.scheme})", pid.value) for pid in party.ids]
    if party.legal_id is not None:
        rows.append((f"Registratie ({party.legal_id.scheme})", party.legal_id.value))
    rows.append(("Btw-nummer", text(party.vat_id)))
    if party.endpoint_id is not None:
        rows.append((f"Elektronisch adres ({party.endpoint_id.scheme})", party.endpoint_id.value))
    address = party.address
    if address is not None:
        street = " ".join(filter(None, (address.street, address.building_number,
                                        address.building_addition)))
        rows += [
            ("Adres", street),
            ("Postcode en plaats", " ".join(filter(None, (address.postal_zone, address.city)))),
            ("Land", text(address.country_code)),
        ]
    contact = party.contact
    if contact is not None:
        rows += [("Contact", text(contact.name)), ("Telefoon", text(contact.telephone)),
                 ("E-mail", text(contact.email))]
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
