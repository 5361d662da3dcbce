"""The hardened parser refuses hostile input with a clear error."""

from __future__ import annotations

import pytest

from contracts import KIT_DIR
from gateway.errors import UnsafeXMLError
from gateway.xmlsafe import XMLParseError, parse_xml

FOREIGN = KIT_DIR / "foreign"


@pytest.mark.parametrize(
    ("name", "error", "says"),
    [
        ("billion-laughs.xml", UnsafeXMLError, "document type declarations"),
        ("external-entity.xml", UnsafeXMLError, "document type declarations"),
        ("external-dtd.xml", UnsafeXMLError, "document type declarations"),
        ("wrong-encoding-declared.xml", XMLParseError, "declares encoding 'UTF-16'"),
        ("invalid-utf8.xml", XMLParseError, "line 2"),
        ("not-well-formed.xml", XMLParseError, "line 3"),
        ("empty.bin", XMLParseError, "not well-formed"),
    ],
)
def test_hostile_corpus_is_refused_clearly(name: str, error: type[Exception], says: str) -> None:
    with pytest.raises(error, match=says):
        parse_xml((FOREIGN / name).read_bytes())


def test_oversized_document_is_refused_before_parsing() -> None:
    data = b"<a>" + b"x" * 2048 + b"</a>"
    with pytest.raises(UnsafeXMLError, match="exceeds the limit of 1,024 bytes"):
        parse_xml(data, max_bytes=1024)


def test_entity_declaration_hidden_in_utf16_is_refused() -> None:
    text = '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>'
    with pytest.raises(UnsafeXMLError):
        parse_xml(text.encode("utf-16"))


def test_no_network_or_file_access_during_parse(tmp_path: object) -> None:
    # The external DTD points at a closed loopback port; a parser that tried to
    # fetch it would hang or error differently. Ours refuses up front.
    with pytest.raises(UnsafeXMLError):
        parse_xml((FOREIGN / "external-dtd.xml").read_bytes())


def test_text_is_refused_only_bytes_accepted() -> None:
    with pytest.raises(TypeError, match="bytes"):
        parse_xml("<a/>")  # type: ignore[arg-type]


def test_ordinary_documents_parse() -> None:
    tree = parse_xml('<?xml version="1.0" encoding="ISO-8859-1"?><a>caf\xe9</a>'.encode("latin-1"))
    assert tree.getroot().text == "café"


def test_large_text_takes_a_long_text_node_and_still_refuses_what_is_unsafe() -> None:
    big = b"<r>" + b"A" * 11_000_000 + b"</r>"
    # Taken without large_text too (a large attachment in base64), held to the nesting
    # limit (tests/test_large_attachments.py).
    assert len(parse_xml(big).getroot().text or "") == 11_000_000
    assert len(parse_xml(big, large_text=True).getroot().text or "") == 11_000_000
    bomb = b"<!DOCTYPE r [<!ENTITY a 'aaaa'>]><r>&a;</r>"
    with pytest.raises(UnsafeXMLError):
        parse_xml(bomb, large_text=True)
    with pytest.raises(UnsafeXMLError, match="exceeds the limit"):
        parse_xml(big, max_bytes=1_000_000, large_text=True)
