"""UBL 2.0 XML with the NL extensions: names, a builder, and a reader that keeps count.

Built on the shared UBL library (:mod:`plugins.ubl`: namespaces, decimal and
date formatting and parsing, serialisation). What this module adds is what
that library does not know: the two NL extension namespaces (``nl-cbc``,
``nl-cac``) in every name and path, and a reader that also notes amounts in
a currency other than the document's.

The reader marks every element a decoder looks at. What is left unmarked at
the end is content the canonical model did not take, and the decoder reports
it as warnings naming each element's XPath: nothing is dropped silently.

Text is written and read as is (no stripping): canonical text round-trips
exactly. Numbers, dates, codes and identifiers used for matching are read
with surrounding whitespace removed, as XML Schema does for those types.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import TypeAlias

from lxml import etree

from plugins.ubl import (
    CAC,
    CBC,
    EXT,
    document_namespace,
    format_date,
    format_decimal,
    make_root,
    parse_date,
    parse_decimal,
    to_bytes,
)
from plugins.ubl_ohnl.errors import OhnlDecodeError
from plugins.ubl_ohnl.versions import NL_CAC_NS, NL_CBC_NS

NAMESPACES = {
    "cbc": CBC,
    "cac": CAC,
    "ext": EXT,
    "nl-cbc": NL_CBC_NS,
    "nl-cac": NL_CAC_NS,
}
_PREFIX_OF = {uri: prefix for prefix, uri in NAMESPACES.items()}

Element: TypeAlias = etree._Element


def document_ns(document: str) -> str:
    """The UBL 2.0 namespace of a main document (``Invoice``, ``Order``, ...)."""
    return document_namespace(document)


def qname(name: str) -> str:
    """Clark notation for a prefixed name: ``cbc:ID``, ``nl-cbc:LastInvoiceOnOrderIndicator``."""
    prefix, _, local = name.partition(":")
    return f"{{{NAMESPACES[prefix]}}}{local}"


# -- writing -------------------------------------------------------------------------------------


def root_element(document: str) -> Element:
    """An empty main document element; the document namespace is the default one."""
    return make_root(document, {"ext": EXT, "nl-cbc": NL_CBC_NS, "nl-cac": NL_CAC_NS})


def add(
    parent: Element, name: str, text: str | None = None,
    attributes: Mapping[str, str] | None = None,
) -> Element:
    """Append ``name`` to ``parent``; callers append in the order the XSD sequence gives."""
    tag = _TAGS.get(name)
    if tag is None:
        tag = _TAGS[name] = qname(name)
    element = etree.SubElement(parent, tag)
    if text is not None:
        element.text = text
    if attributes:
        for key, value in attributes.items():
            element.set(key, value)
    return element


# The writers use a fixed set of names: each is put in Clark notation once.
_TAGS: dict[str, str] = {}


def add_text(parent: Element, name: str, text: str | None) -> None:
    """Append ``name`` with ``text`` unless the value is absent."""
    if text is not None:
        add(parent, name, text)


def decimal_text(value: Decimal) -> str:
    """Plain notation with the value's own scale; XSD decimal has no exponent."""
    return format_decimal(value)


def add_amount(parent: Element, name: str, value: Decimal | None, currency: str) -> None:
    if value is not None:
        add(parent, name, decimal_text(value), {"currencyID": currency})


def add_decimal(parent: Element, name: str, value: Decimal | None) -> None:
    if value is not None:
        add(parent, name, decimal_text(value))


def add_date(parent: Element, name: str, value: dt.date | None) -> None:
    if value is not None:
        add(parent, name, format_date(value))


def add_indicator(parent: Element, name: str, value: bool) -> None:
    add(parent, name, "true" if value else "false")


def serialize(root: Element) -> bytes:
    return to_bytes(root)


# -- reading -------------------------------------------------------------------------------------


class Reader:
    """Reads one parsed document and remembers which elements were taken.

    Paths are ``/``-separated prefixed names relative to an element
    (``cac:Party/cac:PartyName/cbc:Name``). Empty elements (``<cbc:Note/>``)
    count as absent; they are marked as read, since they carry nothing.
    """

    def __init__(self, root: Element, currency: str | None = None) -> None:
        self.root = root
        self.currency = currency
        self.warnings: list[str] = []
        self._seen: set[Element] = {root}

    # navigation

    def mark(self, element: Element) -> Element:
        self._seen.add(element)
        return element

    def mark_tree(self, element: Element) -> None:
        """Mark ``element`` and everything below it: content handled as a whole."""
        for node in element.iter(etree.Element):
            self._seen.add(node)

    def all(self, parent: Element, path: str) -> list[Element]:
        """Every element ``path`` selects under ``parent``, marked as read."""
        found = [parent]
        for step in path.split("/"):
            found = [child for node in found for child in node.iterchildren(qname(step))]
            for node in found:
                self.mark(node)
        return found

    def first(self, parent: Element, path: str) -> Element | None:
        """The first element ``path`` selects under ``parent``, marked with its ancestors."""
        node: Element | None = parent
        for step in path.split("/"):
            assert node is not None
            node = next(node.iterchildren(qname(step)), None)
            if node is None:
                return None
            self.mark(node)
        return node

    def text(self, parent: Element, path: str) -> str | None:
        """The text of the first element at ``path``, None when absent or empty."""
        node = self.first(parent, path)
        return node_text(node) if node is not None else None

    def token(self, parent: Element, path: str) -> str | None:
        """Like :meth:`text`, stripped: for codes, identifiers matched against lists, numbers."""
        value = self.text(parent, path)
        if value is None:
            return None
        value = value.strip()
        return value or None

    def texts(self, parent: Element, path: str) -> tuple[str, ...]:
        return tuple(
            value for node in self.all(parent, path) if (value := node_text(node)) is not None
        )

    def decimal(self, parent: Element, path: str) -> Decimal | None:
        node = self.first(parent, path)
        return self.decimal_of(node) if node is not None else None

    def decimal_of(self, node: Element) -> Decimal | None:
        raw = node.text or ""
        if not raw.strip():
            return None
        return parse_decimal(raw, self.path(node))

    def amount(self, parent: Element, path: str) -> Decimal | None:
        """A money amount; one stated in a currency other than the document's is noted."""
        node = self.first(parent, path)
        if node is None:
            return None
        value = self.decimal_of(node)
        currency = (node.get("currencyID") or "").strip()
        if value is not None and self.currency and currency and currency != self.currency:
            self.warn(
                node,
                f"amount in {currency}, not the document currency {self.currency}; "
                f"kept as {value} {self.currency}",
            )
        return value

    def date(self, parent: Element, path: str) -> dt.date | None:
        node = self.first(parent, path)
        if node is None or not (node.text or "").strip():
            return None
        return parse_date(node.text, self.path(node))

    def indicator(self, parent: Element, path: str) -> bool | None:
        node = self.first(parent, path)
        if node is None:
            return None
        raw = (node.text or "").strip()
        if raw in ("true", "1"):
            return True
        if raw in ("false", "0"):
            return False
        if not raw:
            return None
        raise OhnlDecodeError(f"{raw!r} is not a boolean (true/false)", self.path(node))

    # reporting

    def warn(self, node: Element, message: str) -> None:
        self.warnings.append(f"{self.path(node)}: {message}")

    def path(self, node: Element) -> str:
        """An XPath of ``node`` with the usual UBL prefixes, positions where needed."""
        steps = []
        current: Element | None = node
        while current is not None:
            parent = current.getparent()
            name = _prefixed(current)
            if parent is not None:
                same = [c for c in parent.iterchildren(current.tag)]
                if len(same) > 1:
                    name += f"[{same.index(current) + 1}]"
            steps.append(name)
            current = parent
        return "/" + "/".join(reversed(steps))

    def unmapped(self) -> Iterator[Element]:
        """Elements not read whose parent was: the roots of content the model did not take."""
        for node in self.root.iter(etree.Element):
            if node in self._seen or _is_empty(node):
                continue
            parent = node.getparent()
            if parent is None or parent in self._seen:
                yield node

    def unmapped_warnings(self) -> list[str]:
        return [f"{self.path(node)}: not mapped to the canonical model" for node in self.unmapped()]


def _is_empty(node: Element) -> bool:
    # <cbc:Telefax/> and the like carry nothing worth a warning.
    return len(node) == 0 and not (node.text or "").strip()


def node_text(node: Element) -> str | None:
    """The element's text, None when empty; whitespace-only text counts as empty."""
    text = node.text
    if text is None or not text.strip():
        return None
    return str(text)


def _prefixed(node: Element) -> str:
    q = etree.QName(node)
    local = str(q.localname)
    if q.namespace in _PREFIX_OF:
        return f"{_PREFIX_OF[q.namespace]}:{local}"
    if q.namespace and q.namespace.startswith("urn:oasis:names:specification:ubl:schema:xsd:"):
        return local  # the main document element
    return f"*[local-name()='{local}']" if q.namespace else local
