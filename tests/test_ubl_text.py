"""plugins/ubl/text.py writes what lxml writes for the same tree, and refuses what lxml refuses."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from lxml import etree

from plugins.ubl import build, text
from plugins.ubl.names import qname

HOSTILE = [
    "a & b < c > d \" e ' f",
    "line\nbreak\r\ncarriage\ttab",
    "]]> <![CDATA[x]]> &amp;",
    "ünïcødé € 𝄞 \x85 \x7f",
    "  spaced  ",
]


def written_by(module: Any, fill: Any) -> bytes:
    """``fill(module, root)`` run on a new Invoice root of ``module``'s tree, serialised."""
    root = module.make_root("Invoice")
    fill(module, root)
    written: bytes = module.to_bytes(root)
    return written


def both(fill: Any) -> tuple[bytes, bytes]:
    """``fill`` on an lxml tree and on a text tree; both serialised."""
    return written_by(build, fill), written_by(text, fill)


@pytest.mark.parametrize("value", HOSTILE)
def test_the_same_bytes_as_lxml_whatever_the_text_and_attributes(value: str) -> None:
    def fill(module: Any, root: Any) -> None:
        module.sub(root, "cbc:Note", value)
        party = module.element(root, "cac:AccountingSupplierParty")
        module.sub(module.element(party, "cac:Party"), "cbc:EndpointID", value,
                   schemeID=value, unused=None)
        module.element(root, "cac:Delivery")  # an empty element
        module.sub(root, "cbc:Note", "")

    written_by_lxml, written_as_text = both(fill)
    assert written_as_text == written_by_lxml


@given(st.text(st.characters(exclude_categories=["Cs"]), max_size=20),
       st.text(st.characters(exclude_categories=["Cs"]), max_size=20))
def test_any_text_is_written_as_lxml_writes_it_or_refused_as_lxml_refuses_it(
    value: str, attribute: str,
) -> None:
    def fill(module: Any, root: Any) -> None:
        module.sub(module.element(root, "cac:TaxTotal"), "cbc:TaxAmount", value,
                   currencyID=attribute)

    try:
        expected: bytes | str = written_by(build, fill)
    except ValueError as exc:
        expected = str(exc)
    try:
        got: bytes | str = written_by(text, fill)
    except ValueError as exc:
        got = str(exc)
    assert got == expected


@pytest.mark.parametrize("value", HOSTILE)
def test_what_is_written_reads_back_as_it_was(value: str) -> None:
    root = text.make_root("CreditNote")
    text.sub(root, "cbc:Note", value, languageID=value)
    parsed = etree.fromstring(text.to_bytes(root))
    [note] = parsed.findall(qname("cbc:Note"))
    # XML reads a carriage return in text as written, and normalises none in attributes
    # that were written as character references.
    assert note.text == value
    assert note.get("languageID") == value


@pytest.mark.parametrize("bad", ["nul\x00", "bell\x07", "vt\x0b", "\x1f", "\ufffe", "\uffff"])
def test_characters_xml_cannot_hold_are_refused_and_leave_no_element(bad: str) -> None:
    root = text.make_root("Invoice")
    with pytest.raises(ValueError, match="XML compatible") as refused:
        text.sub(root, "cbc:Note", bad)
    with pytest.raises(ValueError, match="XML compatible"):
        text.sub(root, "cbc:Note", "fine", languageID=bad)
    with pytest.raises(ValueError, match="XML compatible"):
        text.element(root, "cac:Party", schemeID=bad)
    assert root.children == []
    with pytest.raises(ValueError, match="XML compatible") as by_lxml:
        build.sub(build.make_root("Invoice"), "cbc:Note", bad)
    assert str(refused.value) == str(by_lxml.value)


def test_a_shared_subtree_is_indented_for_each_place_it_is_written() -> None:
    tax_scheme = text.Element("cac:TaxScheme")
    text.sub(tax_scheme, "cbc:ID", "VAT")
    tax_scheme.shared()

    def fill(module: Any, root: Any) -> None:
        if module is text:
            shallow, deep = tax_scheme, tax_scheme
        else:
            shallow = build.element(build.make_root("Invoice"), "cac:TaxScheme")
            build.sub(shallow, "cbc:ID", "VAT")
            deep = build.copy_of(shallow)
        category = module.element(module.element(root, "cac:TaxTotal"), "cac:TaxCategory")
        category.append(deep)
        root.append(shallow)

    written_by_lxml, written_as_text = both(fill)
    assert written_as_text == written_by_lxml
    # The second time from what the shared subtree remembers.
    assert written_by(text, fill) == written_by_lxml
