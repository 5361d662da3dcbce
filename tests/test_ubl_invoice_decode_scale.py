"""Decoding grows linearly with the invoice's lines, and still names the element at fault.

Decoding used to work out each amount's XPath (counting its siblings) before
knowing whether the value was bad, which made a 1,000-line invoice take half
a second and a 10,000-line one nearly a minute.
"""

from __future__ import annotations

import copy
import time

import pytest
from lxml import etree

from gateway.formats import EncodeContext
from gateway.model import Invoice
from plugins.ubl import PREFIXES, UBLReadError
from plugins.ubl_invoice.formats import PeppolBISInvoice
from plugins.ubl_invoice.samples import dutch_invoice


def _invoice(lines: int, *, bad_line: int | None = None, unmapped_line: int | None = None,
             ) -> bytes:
    """The sample invoice with ``lines`` copies of its first line (the totals do not matter)."""
    root = etree.fromstring(PeppolBISInvoice().encode(dutch_invoice(), EncodeContext()))
    template = root.find("cac:InvoiceLine", PREFIXES)
    assert template is not None
    for line in root.findall("cac:InvoiceLine", PREFIXES):
        root.remove(line)
    for number in range(1, lines + 1):
        line = copy.deepcopy(template)
        identifier = line.find("cbc:ID", PREFIXES)
        assert identifier is not None
        identifier.text = str(number)
        if number == bad_line:
            amount = line.find("cbc:LineExtensionAmount", PREFIXES)
            assert amount is not None
            amount.text = "12,50"
        if number == unmapped_line:
            etree.SubElement(line, "{urn:example:x}Extra").text = "kept?"
        root.append(line)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


def _cpu_seconds(data: bytes) -> float:
    started = time.process_time()
    decoded = PeppolBISInvoice().decode(data)
    spent = time.process_time() - started
    assert isinstance(decoded.document, Invoice)
    return spent


def test_ten_times_the_lines_take_about_ten_times_as_long() -> None:
    small, large = _invoice(300), _invoice(3_000)
    _cpu_seconds(small)  # warm the caches the first decode fills
    ratio = min(_cpu_seconds(large) for _ in range(2)) / min(
        _cpu_seconds(small) for _ in range(3))
    # Linear is 10x; the quadratic step this replaced made it about 40x.
    assert ratio < 20, ratio


def test_a_bad_amount_deep_in_a_long_invoice_is_named_by_its_path() -> None:
    data = _invoice(2_000, bad_line=1_999)
    with pytest.raises(UBLReadError, match=r"^/Invoice/cac:InvoiceLine\[1999\]/"
                                           r"cbc:LineExtensionAmount: '12,50' is not a decimal"):
        PeppolBISInvoice().decode(data)


def test_an_unmapped_element_deep_in_a_long_invoice_is_named_by_its_path() -> None:
    decoded = PeppolBISInvoice().decode(_invoice(2_000, unmapped_line=1_500))
    assert "/Invoice/cac:InvoiceLine[1500]/Extra ('kept?') is not mapped" in (
        decoded.warnings)
