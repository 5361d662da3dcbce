"""A first look at inbound bytes, shared by every format's ``detect``.

Parsing happens once per document, with the hardened parser; each format then
looks at the root and at its own version markers.
"""

from __future__ import annotations

import functools
import json
from typing import Any

from lxml import etree

from gateway.errors import GatewayError
from gateway.xmlsafe import parse_xml


class Sniffed:
    """Lazily parsed views of one document: as XML or as JSON."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        # Why the bytes did not parse, with line and column: a rejected document's reason
        # must let the operator find the fault (a transfer cut off, a stray tag).
        self.xml_error: str | None = None
        self.json_error: str | None = None

    @functools.cached_property
    def looks_like_xml(self) -> bool:
        return self._head.startswith(b"<")

    @property
    def _head(self) -> bytes:
        return self.data[:256].lstrip(b"\xef\xbb\xbf \t\r\n")

    @functools.cached_property
    def root(self) -> etree._Element | None:
        """The XML root element, or None when the bytes are not (safe) XML."""
        if not self.looks_like_xml:
            return None
        try:
            return parse_xml(self.data).getroot()
        except GatewayError as exc:
            self.xml_error = str(exc)
            return None

    @functools.cached_property
    def json(self) -> Any:
        """The decoded JSON value, or None when the bytes are not JSON."""
        if self.looks_like_xml:
            return None
        try:
            return json.loads(self.data)
        except json.JSONDecodeError as exc:
            if self._head.startswith((b"{", b"[")):  # meant as JSON, not merely not XML
                self.json_error = (f"not well-formed JSON: line {exc.lineno}, column "
                                   f"{exc.colno}: {exc.msg}")
            return None
        except (ValueError, UnicodeDecodeError):
            return None

    @property
    def root_namespace(self) -> str | None:
        root = self.root
        return etree.QName(root).namespace if root is not None else None

    @property
    def root_name(self) -> str | None:
        root = self.root
        return etree.QName(root).localname if root is not None else None

    def text(self, xpath: str, namespaces: dict[str, str] | None = None) -> str | None:
        """The stripped text of the first node ``xpath`` selects under the root."""
        root = self.root
        if root is None:
            return None
        found = root.xpath(xpath, namespaces=namespaces or {})
        if not isinstance(found, list) or not found:
            return None
        first = found[0]
        value = first.text if isinstance(first, etree._Element) else str(first)
        return value.strip() if value else None

    def describe(self) -> str:
        """A short description of what the document looks like, for error messages."""
        if self.root is not None:
            parts = [f"root element {{{self.root_namespace or ''}}}{self.root_name}"]
            for label, path in (("CustomizationID", "*[local-name()='CustomizationID']"),
                                ("ProfileID", "*[local-name()='ProfileID']")):
                value = self.text(path)
                if value:
                    parts.append(f"{label} {value!r}")
            return ", ".join(parts)
        if self.json is not None:
            if isinstance(self.json, dict):
                return f"a JSON object with keys {sorted(self.json)[:8]}"
            return f"a JSON {type(self.json).__name__}"
        if self.looks_like_xml:
            return f"XML that the hardened parser refused: {self.xml_error or 'unreadable'}"
        if self.json_error is not None:
            return self.json_error
        return f"{len(self.data)} bytes that are neither XML nor JSON"
