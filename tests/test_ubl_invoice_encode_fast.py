"""The invoice writer's shortcuts write what the general path writes, and fail as it fails.

Values the writer makes itself (amounts, quantities, dates) go through
:func:`plugins.ubl.text.plain` with attributes from
:func:`plugins.ubl.text.attribute`, which skip the checks a number cannot
need; values are kept as text in their parent (:attr:`Element.content`).
These tests hold both to lxml's bytes and refusals, and the invoice writer
to its errors where it takes them.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

import attrs
import pytest

from gateway.model import InvoiceType
from plugins.ubl import build, text
from plugins.ubl_invoice.encode import WriteOptions, write_invoice
from plugins.ubl_invoice.formats import EN16931_CUSTOMIZATION
from plugins.ubl_invoice.samples import dutch_invoice

OPTIONS = WriteOptions(customization_id=EN16931_CUSTOMIZATION)
EXACTLY_LXMLS_WORDS = f"^{re.escape(text.NOT_XML_COMPATIBLE)}$"


def written(module: Any, fill: Any) -> bytes:
    root = module.make_root("Invoice")
    fill(root)
    data: bytes = module.to_bytes(root)
    return data


@pytest.mark.parametrize("value", ["EUR", "a&b<c>\"d'e", "tab\tnew\nline\rcr", "ünï €", ""])
def test_plain_values_are_written_as_sub_writes_them(value: str) -> None:
    def fill_text(root: text.Element) -> None:
        total = text.element(root, "cac:LegalMonetaryTotal")
        text.plain(total, "cbc:PayableAmount", "-12.50", text.attribute("currencyID", value))
        text.plain(total, "cbc:PrepaidAmount", "0", text.attribute("currencyID", None))
        text.plain(root, "cbc:IssueDate", dt.date(2024, 2, 29).isoformat())

    def fill_lxml(root: Any) -> None:
        total = build.element(root, "cac:LegalMonetaryTotal")
        build.sub(total, "cbc:PayableAmount", "-12.50", currencyID=value)
        build.sub(total, "cbc:PrepaidAmount", "0", currencyID=None)
        build.sub(root, "cbc:IssueDate", "2024-02-29")

    assert written(text, fill_text) == written(build, fill_lxml)


@pytest.mark.parametrize("bad", ["nul\x00", "\x1f", "\ufffe"])
def test_an_attribute_xml_cannot_hold_is_refused_every_time(bad: str) -> None:
    for _ in range(2):  # not remembered as a success, nor as nothing
        with pytest.raises(ValueError, match=EXACTLY_LXMLS_WORDS):
            text.attribute("currencyID", bad)
    with pytest.raises(ValueError, match=EXACTLY_LXMLS_WORDS):
        build.sub(build.make_root("Invoice"), "cbc:Amount", "1", currencyID=bad)


def test_children_show_values_by_name_and_elements_as_they_are() -> None:
    root = text.make_root("Invoice")
    text.sub(root, "cbc:Note", "a > b", languageID="nl")
    text.plain(root, "cbc:IssueDate", "2024-02-29")
    party = text.element(root, "cac:AccountingSupplierParty")
    text.sub(root, "cbc:Absent", None)
    children = root.children
    assert [child.name for child in children] == [
        "cbc:Note", "cbc:IssueDate", "cac:AccountingSupplierParty"]
    assert children[2] is party
    note = children[0]
    assert isinstance(note, text.Leaf)
    assert note.written == '<cbc:Note languageID="nl">a &gt; b</cbc:Note>'


def test_a_subtree_built_apart_is_indented_where_it_is_appended() -> None:
    def fill_text(root: text.Element) -> None:
        apart = text.Element("cac:Party")
        text.sub(text.element(apart, "cac:PartyName"), "cbc:Name", "Gemeente")
        text.element(text.element(root, "cac:AccountingCustomerParty"), "cac:Empty")
        supplier = text.element(root, "cac:AccountingSupplierParty", schemeID="x&y")
        supplier.append(apart)

    def fill_lxml(root: Any) -> None:
        apart = build.element(build.make_root("Invoice"), "cac:Party")
        build.sub(build.element(apart, "cac:PartyName"), "cbc:Name", "Gemeente")
        build.element(build.element(root, "cac:AccountingCustomerParty"), "cac:Empty")
        supplier = build.element(root, "cac:AccountingSupplierParty", schemeID="x&y")
        supplier.append(apart)

    assert written(text, fill_text) == written(build, fill_lxml)


def unchecked(record: Any, **fields: Any) -> Any:
    """``record`` with ``fields`` set past the model's own checks, as a bad caller might."""
    copy = attrs.evolve(record)
    for name, value in fields.items():
        object.__setattr__(copy, name, value)
    return copy


def test_a_currency_xml_cannot_hold_is_refused_with_lxmls_words() -> None:
    invoice = unchecked(dutch_invoice(InvoiceType.DEBIT), currency="EU\x00R")
    with pytest.raises(ValueError, match=EXACTLY_LXMLS_WORDS):
        write_invoice(invoice, OPTIONS)


def test_a_price_that_is_no_number_is_refused() -> None:
    invoice = dutch_invoice(InvoiceType.DEBIT)
    first = invoice.lines[0]
    line = unchecked(first, price=unchecked(first.price, amount=Decimal("NaN")))
    with pytest.raises(ValueError, match=r"^cannot write NaN as an XML decimal$"):
        write_invoice(unchecked(invoice, lines=(line, *invoice.lines[1:])), OPTIONS)


def test_a_line_with_a_bad_unit_code_is_refused_and_none_leaves_no_attribute() -> None:
    invoice = dutch_invoice(InvoiceType.DEBIT)
    first = invoice.lines[0]
    bad = unchecked(first, quantity=unchecked(first.quantity, unit_code="H\x07UR"))
    with pytest.raises(ValueError, match=EXACTLY_LXMLS_WORDS):
        write_invoice(unchecked(invoice, lines=(bad, *invoice.lines[1:])), OPTIONS)
    none = unchecked(first, quantity=unchecked(first.quantity, unit_code=None))
    data = write_invoice(unchecked(invoice, lines=(none, *invoice.lines[1:])), OPTIONS)
    quantity = first.quantity.value
    assert f"<cbc:InvoicedQuantity>{quantity}</cbc:InvoicedQuantity>".encode() in data
