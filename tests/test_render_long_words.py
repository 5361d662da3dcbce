"""A long unbroken word wraps: the invoice's amounts stay on the PDF page."""

from __future__ import annotations

import io

import attrs
import pypdf
import pytest

from gateway.model import Item
from gateway.model.samples import example_invoice
from gateway.render import find_pdf_tool, render_html, render_pdf

needs_browser = pytest.mark.skipif(
    find_pdf_tool() is None or find_pdf_tool().kind != "chromium",  # type: ignore[union-attr]
    reason="no headless Chromium on PATH",
)


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(data)).pages)


@needs_browser
def test_a_long_item_name_keeps_every_line_amount_on_the_page() -> None:
    # Article codes, URLs and joined part lists come without spaces; 150 characters is
    # well within what UBL and the ERP allow for an item name.
    invoice = example_invoice()
    first = invoice.lines[0]
    line = attrs.evolve(first, item=Item(name="Onderhoudscontract-" + "X" * 150))
    page = render_html(attrs.evolve(invoice, lines=(line, *invoice.lines[1:])))
    text = pdf_text(render_pdf(page))
    # Net amounts of lines 1-3 and the VAT of line 2: the columns right of the description.
    for figure in ("100.00", "190.00", "37.04", "39.90"):
        # Either notation: diff 07 of this review writes amounts the Dutch way.
        assert figure in text or figure.replace(".", ",") in text, (
            f"{figure} is not on the PDF page")
    assert "Netto" in text


@needs_browser
def test_a_long_note_is_printed_whole() -> None:
    note = "https://leverancier.example/facturen/" + "a" * 300
    text = pdf_text(render_pdf(render_html(attrs.evolve(example_invoice(), notes=(note,)))))
    assert note in "".join(text.split()), "the note is cut off at the edge of the page"
