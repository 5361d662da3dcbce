"""A Dutch page writes numbers the Dutch way: 1.234,50 and 12,345.

The person reading it keys the figures into a Dutch portal, where '12.345'
would read as twelve thousand three hundred and forty-five.
"""

from __future__ import annotations

from decimal import Decimal

import attrs
import lxml.html

from gateway.model import AllowanceCharge
from gateway.model.samples import example_invoice
from gateway.render import render_html


def test_a_three_decimal_price_does_not_read_as_thousands() -> None:
    tree = lxml.html.fromstring(render_html(example_invoice()))
    price = tree.xpath("string(//table[@id='lines']/tbody/tr[3]/td[6])").strip()
    assert price == "12,345", f"the price per KGM shows as {price!r}"


def test_amounts_use_the_dutch_decimal_comma_and_thousands_point() -> None:
    invoice = example_invoice()
    big = AllowanceCharge(is_charge=True, amount=Decimal("1234.50"), reason="Montage",
                          vat_category=invoice.allowance_charges[1].vat_category,
                          vat_rate=invoice.allowance_charges[1].vat_rate)
    tree = lxml.html.fromstring(render_html(attrs.evolve(
        invoice, allowance_charges=(*invoice.allowance_charges, big))))
    assert tree.get_element_by_id("total-payable").text_content() == "EUR 338,00"
    cells = [" ".join(td.text_content().split())
             for td in tree.xpath("//table[@id='allowances']/tbody/tr/td[4]")]
    assert "EUR 1.234,50" in cells, cells
