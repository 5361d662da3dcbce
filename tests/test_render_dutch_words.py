"""Dutch pages name document kinds in Dutch, and every heading carries its number."""

from __future__ import annotations

import lxml.html
import pytest

from gateway.kinds import DocumentKind
from gateway.model import CanonicalDocument, StaffingOrder, kind_of
from gateway.model.samples import example_credit_note, example_documents, example_invoice
from gateway.render import render_html


def _text(page: str) -> str:
    return " ".join(lxml.html.fromstring(page).text_content().split())


@pytest.mark.parametrize("document", example_documents(), ids=lambda d: kind_of(d).value)
def test_the_heading_names_the_kind_in_dutch(document: CanonicalDocument) -> None:
    heading = lxml.html.fromstring(render_html(document)).xpath("string(//h1)")
    kind = kind_of(document).value
    assert not heading.startswith(kind), f"heading {heading!r} is the English kind word"


def test_a_staffing_order_heading_carries_its_order_number() -> None:
    order = next(d for d in example_documents() if isinstance(d, StaffingOrder))
    tree = lxml.html.fromstring(render_html(order))
    assert order.order_id in tree.xpath("string(//h1)")
    assert order.order_id in tree.xpath("string(//title)")


@pytest.mark.parametrize(("document", "english"), [
    (example_invoice(), "Soort invoice"),
    (example_credit_note(), "Soort credit-note"),
])
def test_the_invoice_kind_is_in_dutch(document: CanonicalDocument, english: str) -> None:
    assert english not in _text(render_html(document))


@pytest.mark.parametrize("document", [d for d in example_documents()
                                      if kind_of(d) not in (DocumentKind.INVOICE,
                                                            DocumentKind.CREDIT_NOTE)],
                         ids=lambda d: kind_of(d).value)
def test_the_generic_page_names_the_kind_in_dutch(document: CanonicalDocument) -> None:
    assert f"Documentsoort: {kind_of(document).value}" not in _text(render_html(document))
