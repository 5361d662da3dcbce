"""The invoice page shows every field a person checking or keying the invoice needs.

Each value here is in the canonical invoice (the UBL, OHNL and SETU decoders
fill them, and an ERP may send them): payee, tax representative, postbox and
extra address lines, VAT in the VAT currency, delivery, direct debit, the
lines' periods, timecards and cost centres, and VAT exemption codes.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import attrs
import lxml.html
import pytest

from gateway.model import (
    Address,
    Delivery,
    Invoice,
    Party,
    PartyId,
    PaymentMeans,
    Period,
    TaxSubtotal,
    VatCategory,
)
from gateway.model.samples import example_invoice
from gateway.render import render_html


def _invoice() -> Invoice:
    invoice = example_invoice()
    seller = attrs.evolve(invoice.seller, address=Address(
        postbox="88123", postal_zone="2500 AA", city="Den Haag", country_code="NL"))
    assert invoice.buyer.address is not None
    buyer = attrs.evolve(invoice.buyer, address=attrs.evolve(
        invoice.buyer.address, additional_street="Gebouw Zuid", address_line="3de etage groen"))
    first = attrs.evolve(invoice.lines[0],
                         period=Period(start=dt.date(2024, 2, 5), end=dt.date(2024, 2, 11)),
                         timecard_reference="TC-135664", accounting_cost="KP-4711")
    return attrs.evolve(
        invoice,
        seller=seller, buyer=buyer,
        payee=Party(name="Factoring Partner BV", ids=(PartyId(scheme="KvK", value="87654321"),)),
        tax_point_date=dt.date(2024, 2, 27),
        currency="USD", tax_currency="EUR", tax_total_in_tax_currency=Decimal("58.12"),
        delivery=Delivery(date=dt.date(2024, 2, 28), party_name="Magazijn Oost",
                          address=Address(street="Laan van Zuid", building_number="12",
                                          postal_zone="3500 AB", city="Utrecht")),
        payment_means=(PaymentMeans(code="49", mandate_reference="MANDAAT-2024-7",
                                    debited_account="NL02RABO0123456789"),),
        last_invoice_on_order=True,
        lines=(first, *invoice.lines[1:]),
        # Reverse charge carried as a code only, as Peppol invoices often do: the page must
        # still tell the reader the VAT is shifted ("btw verlegd").
        tax_breakdown=(*invoice.tax_breakdown, TaxSubtotal(
            category=VatCategory.REVERSE_CHARGE, rate=Decimal("0"), taxable_amount=Decimal("0"),
            tax_amount=Decimal("0"), exemption_reason_code="VATEX-EU-AE")),
    )


@pytest.mark.parametrize(("what", "expected"), [
    ("payee: who is to be paid, if not the supplier (BG-10)", "Factoring Partner BV"),
    ("payee's identifier", "87654321"),
    ("a postbox address (OHNL: street or postbox)", "88123"),
    ("address line: floor or department", "3de etage groen"),
    ("additional street line", "Gebouw Zuid"),
    ("VAT total in the VAT currency (BT-111, Wet OB art. 35a)", "EUR 58.12"),
    ("tax point date (BT-7)", "2024-02-27"),
    ("delivery address", "Laan van Zuid 12"),
    ("delivered to", "Magazijn Oost"),
    ("direct debit mandate (BT-89)", "MANDAAT-2024-7"),
    ("debited account (BT-91)", "NL02RABO0123456789"),
    ("invoiced period of a line (SETU hours per week)", "2024-02-05"),
    ("timecard a line invoices", "TC-135664"),
    ("cost centre of a line", "KP-4711"),
    ("OHNL last invoice on this order", "Laatste factuur"),
    ("VAT exemption code when no reason text is given (BT-121)", "VATEX-EU-AE"),
])
def test_the_page_shows(what: str, expected: str) -> None:
    page = render_html(_invoice())
    text = " ".join(lxml.html.fromstring(page).text_content().split())
    # Either notation: diff 07 of this review writes amounts the Dutch way.
    assert expected in text or expected.replace(".", ",") in text, what
