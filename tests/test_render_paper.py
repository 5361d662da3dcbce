"""The PDF is printed on A4, and a VAT rate keeps its number and % together."""

from __future__ import annotations

import io

import pypdf
import pytest

from gateway.model.samples import example_invoice
from gateway.render import find_pdf_tool, render_html, render_pdf

needs_browser = pytest.mark.skipif(
    find_pdf_tool() is None or find_pdf_tool().kind != "chromium",  # type: ignore[union-attr]
    reason="no headless Chromium on PATH",
)


@needs_browser
def test_the_pdf_is_a4() -> None:
    """Dutch agencies print and archive on A4 (595 x 842 pt); Letter is 612 x 792."""
    reader = pypdf.PdfReader(io.BytesIO(render_pdf(render_html(example_invoice()))))
    for number, page in enumerate(reader.pages, start=1):
        size = (round(float(page.mediabox.width)), round(float(page.mediabox.height)))
        assert size == (595, 842), f"page {number} is {size} pt, not A4"


@needs_browser
def test_a_vat_rate_is_not_split_over_lines() -> None:
    """The Btw column showed 'S', '21' and '%' on three lines of the sample invoice."""
    reader = pypdf.PdfReader(io.BytesIO(render_pdf(render_html(example_invoice()))))
    text = "\n".join(page.extract_text() for page in reader.pages)
    lines = [line.strip() for line in text.splitlines()]
    assert "%" not in lines, "a '%' sign stands alone on a line"
    assert not any(line in ("S", "S 9", "S 21") for line in lines), (
        "the VAT category and its rate are split over lines")
