"""An order with an attachment of many megabytes embedded in base64 is read and validated.

libxml2 refuses a text node over 10 MB unless told otherwise, and an 8 MB PDF
is 10.7 MB of base64: such orders (Basisorder Rijk takes 20 MB) were refused
as "not well-formed XML" by every decoder and by validation. The hardened
parser now takes the long text node, and still holds the document to the
nesting limit and refuses DTDs.
"""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest
from digipoort_channel_support import registry

from gateway.model import Order
from gateway.model.common import Attachment
from gateway.validation import validator_for
from gateway.xmlsafe import MAX_DEPTH, XMLParseError, parse_xml

FORMAT = "ubl-ohnl:order:1.9"
PDF = b"%PDF-1.4\n" + bytes(range(256)) * (8 * 1024 * 1024 // 256)  # 8 MiB


def large_order() -> bytes:
    fmt = registry().format(FORMAT)
    sample = fmt.samples()[0]
    assert isinstance(sample.document, Order)
    order = attrs.evolve(sample.document, attachments=(
        *sample.document.attachments,
        Attachment(content=PDF, mime_type="application/pdf", filename="tekeningen.pdf"),
    ))
    return fmt.encode(order, sample.context)


def test_an_order_with_an_8_mb_pdf_decodes_with_the_pdf_whole() -> None:
    data = large_order()
    assert len(data) > 11_000_000
    decoded = registry().detect(data).format.decode(data).document
    assert isinstance(decoded, Order)
    [pdf] = [a for a in decoded.attachments if a.filename == "tekeningen.pdf"]
    assert pdf.content == PDF


def test_an_order_with_an_8_mb_pdf_is_validated_not_refused_as_malformed(
    installed_standards: Path,
) -> None:
    data = large_order()
    fmt = registry().format(FORMAT)
    report = validator_for(installed_standards).validate(data, fmt.layers(), format_key=FORMAT)
    assert report.valid, [str(f) for f in report.errors[:3]]


def test_a_long_text_node_does_not_lift_the_nesting_limit() -> None:
    """Parsed without libxml2's limits, the document is still held to its depth."""
    long_text = b"<x>" + b"A" * 11_000_000 + b"</x>"
    assert len(parse_xml(b"<r>" + long_text + b"</r>").getroot()[0].text or "") == 11_000_000
    deep = b"<a>" * MAX_DEPTH + b"</a>" * MAX_DEPTH
    with pytest.raises(XMLParseError, match=f"deeper than {MAX_DEPTH} levels"):
        parse_xml(b"<r>" + long_text + deep + b"</r>")
