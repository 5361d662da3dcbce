"""A credit note's page says the amount is credited, not to be paid.

Its amounts are written positive and the sign lives in the type
(gateway.model.invoice), so the label says which way the money goes.
"""

from __future__ import annotations

import lxml.html

from gateway.model.samples import example_credit_note, example_invoice
from gateway.render import render_html


def _payable_label(page: str) -> str:
    tree = lxml.html.fromstring(page)
    return " ".join(tree.xpath("string(//tr[@class='payable']/th)").split())


def test_a_credit_note_does_not_ask_the_buyer_to_pay() -> None:
    label = _payable_label(render_html(example_credit_note()))
    assert label != "Te betalen", "a credit note says 'Te betalen' for the amount credited"
    assert "credit" in label.lower()


def test_an_invoice_still_says_te_betalen() -> None:
    assert _payable_label(render_html(example_invoice())) == "Te betalen"
