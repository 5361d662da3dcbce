"""Names in any script print in the PDF, not as empty boxes.

Latin beyond Latin-1, Greek, Cyrillic, the euro sign and Chinese or Japanese
(with the font scripts/ensure-system-packages.sh installs) all print, and the
PDF's text layer carries the names themselves.
"""

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


@needs_browser
@pytest.mark.parametrize("name", ["Łódź € Ελλάδα Москва İstanbul", "東京支店 北京"])
def test_the_item_name_is_in_the_pdf(name: str) -> None:
    invoice = example_invoice()
    line = attrs.evolve(invoice.lines[0], item=Item(name=name))
    data = render_pdf(render_html(attrs.evolve(invoice, lines=(line, *invoice.lines[1:]))))
    text = "".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(data)).pages)
    assert "\x00" not in text, "glyphs missing from every installed font"
    for word in name.split():
        assert word in text, word
