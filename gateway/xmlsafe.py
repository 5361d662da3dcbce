"""The one XML parser every decoder uses: hostile input is normal input.

Documents arrive from networks, portals and folders the supplier does not
control. The parser therefore refuses anything with a document type
declaration (the vehicle of entity expansion and external entity attacks),
never touches the network or the file system, caps the input size, and turns
every failure into an error that says what was wrong and where.
"""

from __future__ import annotations

import re

from lxml import etree

from gateway.errors import GatewayError, UnsafeXMLError

DEFAULT_MAX_BYTES = 32 * 1024 * 1024
"""Larger than any procurement message we know of (Basisorder Rijk caps at 20 MB
including attachments), small enough that a flood of such files cannot
exhaust memory."""

_DOCTYPE = re.compile(rb"<!DOCTYPE", re.IGNORECASE)
_ENTITY = re.compile(rb"<!ENTITY", re.IGNORECASE)
_DECLARED_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*encoding\s*=\s*["']([A-Za-z0-9._\-]+)["']""")


class XMLParseError(GatewayError):
    """The bytes are not well-formed XML. ``line`` and ``column`` locate the fault."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None) -> None:
        self.line = line
        self.column = column
        where = f"line {line}, column {column}: " if line else ""
        super().__init__(f"not well-formed XML: {where}{message}")


def _parser(large_text: bool = False) -> etree.XMLParser:
    # A fresh parser per call: lxml parsers are not safe to share between threads.
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=large_text,
        remove_blank_text=False,
    )


def check_safe(data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
    """Refuse input that must not even reach the parser."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError(f"XML must be given as bytes, not {type(data).__name__}")
    if len(data) > max_bytes:
        raise UnsafeXMLError(
            f"document of {len(data):,} bytes exceeds the limit of {max_bytes:,} bytes"
        )
    # UTF-16/32 documents hide the markup from a byte scan; the parser's own
    # DOCTYPE check below catches them.
    head = bytes(data[:65536])
    if _DOCTYPE.search(head) or _ENTITY.search(head):
        raise UnsafeXMLError(
            "document type declarations (<!DOCTYPE>/<!ENTITY>) are not accepted: "
            "they enable entity expansion and external entity attacks"
        )


MAX_DEPTH = 256
"""Levels of nesting a document may have: libxml2's own limit, which a document with
a text node over 10 MB (parsed without libxml2's limits) is held to by a walk."""

_TEXT_TOO_LONG = "Text node too long"


def parse_xml(data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES,
              large_text: bool = False) -> etree._ElementTree:
    """Parse ``data`` with the hardened parser and return the element tree.

    ``large_text`` lifts libxml2's limits of 10 MB for one text node and of 256
    levels of nesting (to 2048), for a message that carries whole documents in
    base64; ``max_bytes`` still bounds the input, and DTDs and entities stay refused.
    Without it, a document whose only excess is a text node over 10 MB (an order
    or invoice with a large attachment embedded in base64: Basisorder Rijk takes
    20 MB) is parsed again without that limit and held to :data:`MAX_DEPTH`.

    Raises :class:`UnsafeXMLError` for refused constructs and sizes, and
    :class:`XMLParseError` (with line and column) for malformed input.
    """
    check_safe(data, max_bytes=max_bytes)
    try:
        try:
            root = etree.fromstring(bytes(data), parser=_parser(large_text))
        except etree.XMLSyntaxError as exc:
            if large_text or _TEXT_TOO_LONG not in (exc.msg or ""):
                raise
            root = etree.fromstring(bytes(data), parser=_parser(True))
            _check_depth(root)
    except etree.XMLSyntaxError as exc:
        line, column = exc.position if exc.position else (None, None)
        message = _plain(exc.msg or str(exc))
        declared = _DECLARED_ENCODING.search(bytes(data[:200]))
        if declared and (line == 1 or "encoding" in message.lower()):
            encoding = declared.group(1).decode("ascii", "replace")
            message += (
                f" (the document declares encoding {encoding!r};"
                " check that its bytes are in that encoding)"
            )
        raise XMLParseError(message, line, column) from None
    except ValueError as exc:  # e.g. an encoding lxml does not know
        raise XMLParseError(str(exc)) from None
    tree = root.getroottree()
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        raise UnsafeXMLError("document type declarations (<!DOCTYPE>) are not accepted")
    for node in root.iter(etree.Entity):
        raise UnsafeXMLError(f"entity reference &{node.name}; is not accepted")
    return tree


def _plain(message: str) -> str:
    # libxml2 messages end in ", line N, column M"; the position is reported separately.
    return re.sub(r",? line \d+, column \d+\s*$", "", message).strip()


def _check_depth(root: etree._Element) -> None:
    """Raise XMLParseError when ``root`` nests deeper than :data:`MAX_DEPTH`, as libxml2 would."""
    depth = 0
    for event, _ in etree.iterwalk(root, events=("start", "end")):
        depth += 1 if event == "start" else -1
        if depth > MAX_DEPTH:
            raise XMLParseError(f"the document nests deeper than {MAX_DEPTH} levels")
