"""UBL written as text: a small element tree that serialises itself, for hot writers.

Building the same document as an lxml tree and serialising it cost 0.26 ms
for the sample invoice against 0.15 ms for this tree, and more in a busy
process: lxml creates a C node, a Python proxy and a namespace lookup for
every element. A writer whose documents go out by the thousand (the
invoice) builds :class:`Element` trees instead; :func:`to_bytes` writes exactly
what :func:`plugins.ubl.build.to_bytes` writes for the same tree, indentation
and namespace declarations included. The rules lxml enforces still hold: a
value with a character XML cannot carry is refused when it is set, with lxml's
error, so a writer fails the same way with either tree.

Most of a document is values (an amount, a name, a date): each one is
written as text when it is added (:func:`sub`, :func:`plain`) instead of
becoming an element to walk later, which brought the sample invoice from
0.11 to 0.065 ms.

Elements are named by their prefixed UBL names (``"cbc:ID"``); the root
declares the prefixes of :data:`plugins.ubl.names.NSMAP` and its document's
namespace as the default, as :func:`plugins.ubl.build.make_root` does.
"""

from __future__ import annotations

import functools
import re

from lxml import etree

from plugins.ubl import build

_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
NOT_XML_COMPATIBLE = (
    "All strings must be XML compatible: Unicode or ASCII, no NULL bytes or control characters"
)
"""lxml's words for a value XML cannot hold: the same refusal, whichever tree wrote it."""

_TEXT_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"})
_ATTRIBUTE_ESCAPES = str.maketrans({
    "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;",
    "\n": "&#10;", "\r": "&#13;", "\t": "&#9;",
})
_INDENTS = tuple("\n" + "  " * depth for depth in range(32))
"""A newline and the indentation of each depth: lxml's pretty print, two spaces a level."""


class Element:
    """One element: its prefixed name, attributes in the order set, text or children.

    A subtree can be shared by several documents (a party written once and
    appended to every invoice to its agency); it must not change once shared,
    and :meth:`shared` lets it remember its text.
    """

    __slots__ = ("_written", "attributes", "content", "name", "text")

    def __init__(self, name: str, text: str | None = None, attributes: str = "") -> None:
        self.name = name
        self.attributes = attributes
        """Written already, as :func:`attribute` writes them: `` key="value"`` each."""
        self.text = text
        self.content: list[Element | str] = []
        """The children in order: an element, or a value's element already written (see sub)."""
        self._written: dict[int, str] | None = None

    @property
    def children(self) -> list[Element | Leaf]:
        """The children, a value's element as a :class:`Leaf`: for looking, not for writing."""
        return [Leaf(child) if isinstance(child, str) else child for child in self.content]

    def append(self, child: Element) -> None:
        self.content.append(child)

    def shared(self) -> Element:
        """This subtree, from now on the same in every document: written once per depth."""
        self._written = {}
        return self


class Leaf:
    """A value's element as :func:`sub` wrote it, for looking at: its name and its text."""

    __slots__ = ("written",)

    def __init__(self, written: str) -> None:
        self.written = written
        """The element as written but for its indentation: ``<cbc:ID>F-1</cbc:ID>``."""

    @property
    def name(self) -> str:
        # Read back from the text: a leaf is made only to be looked at, seldom.
        return self.written[1:].split(">", 1)[0].split(" ", 1)[0]


def element(parent: Element, name: str, /, **attributes: str | None) -> Element:
    """A new child ``name`` (``"cac:Party"``) of ``parent``; None attributes are left out."""
    child = Element(name, None, _attributes(attributes) if attributes else "")
    parent.content.append(child)
    return child


def sub(parent: Element, name: str, text: str | None, /, **attributes: str | None) -> None:
    """A new child ``name`` holding ``text``, or nothing at all when ``text`` is None.

    Absent values must leave no trace: an empty element is an error in Peppol
    (PEPPOL-EN16931-R008) and noise everywhere else.

    Most of a document is values, so each one is written here, while its text
    and attributes are at hand, and kept as text: writing the document then
    costs one concatenation per value, its indentation, and no element is made.
    """
    if text is None:
        return
    written = _checked_text(text)
    start = name + _attributes(attributes) if attributes else name
    parent.content.append(f"<{start}>{written}</{name}>")


def plain(parent: Element, name: str, text: str, attributes: str = "", /) -> None:
    """A new child ``name`` holding a ``text`` that needs no check and no escape.

    For what the writer makes itself, most of an invoice's values: numbers
    from :func:`plugins.ubl.build.format_decimal` and dates from
    ``date.isoformat`` (digits, ``-`` and ``.``), and constants. ``attributes``
    are :func:`attribute`'s text, checked as :func:`sub` checks them.
    """
    parent.content.append(f"<{name}{attributes}>{text}</{name}>")


@functools.lru_cache(maxsize=256)
def attribute(key: str, value: str | None) -> str:
    """`` key="value"``, escaped, for :func:`plain`; nothing for None.

    Kept per value: an invoice repeats its currency and units on every amount
    and quantity. A value XML cannot hold is refused each time, as by :func:`sub`.
    """
    if value is None:
        return ""
    _check(value)
    return f' {key}="{_attribute(value)}"'


def make_root(document: str) -> Element:
    """The root element of a UBL ``document`` (``"Invoice"``)."""
    return Element(document)


def to_bytes(top: Element) -> bytes:
    """The document as UTF-8 bytes with an XML declaration, indented for people."""
    parts = ["<?xml version='1.0' encoding='UTF-8'?>\n", _start_tag(top.name)]
    if top.content:
        parts.append(">")
        _write_content(top, 1, parts)
        parts.append(f"\n</{top.name}>\n")
    elif top.text is not None:
        parts.append(f">{_text(top.text)}</{top.name}>\n")
    else:
        parts.append("/>\n")
    return "".join(parts).encode("utf-8")


def _attributes(attributes: dict[str, str | None]) -> str:
    """The attributes that are not None, checked and written: `` key="value"`` each."""
    return "".join(attribute(key, value) for key, value in attributes.items())


def _check(value: str) -> None:
    # Printable ASCII, what nearly every value is, needs no closer look.
    if not (value.isascii() and value.isprintable()) and _NOT_XML.search(value):
        raise ValueError(NOT_XML_COMPATIBLE)


def _checked_text(value: str) -> str:
    """:func:`_check` and then :func:`_text`, with one look at printable ASCII for both."""
    if value.isascii() and value.isprintable():
        if "&" in value or "<" in value or ">" in value:
            return value.translate(_TEXT_ESCAPES)
        return value
    if _NOT_XML.search(value):
        raise ValueError(NOT_XML_COMPATIBLE)
    return _text(value)


def _text(value: str) -> str:
    if "&" in value or "<" in value or ">" in value or "\r" in value:
        return value.translate(_TEXT_ESCAPES)
    return value


def _attribute(value: str) -> str:
    if value.isalnum():  # codes, amounts' currencies, schemes: nothing to escape
        return value
    return value.translate(_ATTRIBUTE_ESCAPES)


@functools.cache
def _start_tag(document: str) -> str:
    """``<Invoice xmlns=... xmlns:cac=...``: the root's start tag as lxml writes it, unclosed."""
    written: str = etree.tostring(build.make_root(document), encoding="unicode")
    return written.removesuffix("/>")


def _write_content(parent: Element, depth: int, parts: list[str]) -> None:
    """The children of ``parent``, each on a line of its own at ``depth``."""
    indent = _INDENTS[depth] if depth < len(_INDENTS) else "\n" + "  " * depth
    for child in parent.content:
        if isinstance(child, str):
            parts.append(indent + child)
        elif child._written is not None:
            parts.append(_shared(child, depth))
        elif child.content and not child.attributes:
            # Nearly every element that is not a value: written here, which
            # spares a call for each.
            parts.append(f"{indent}<{child.name}>")
            _write_content(child, depth + 1, parts)
            parts.append(f"{indent}</{child.name}>")
        else:
            _write(child, depth, parts)


def _shared(node: Element, depth: int) -> str:
    """A shared subtree at ``depth``, written the first time it is asked for."""
    assert node._written is not None
    text = node._written.get(depth)
    if text is None:
        own: list[str] = []
        _write(node, depth, own)
        text = node._written[depth] = "".join(own)
    return text


def _write(node: Element, depth: int, parts: list[str]) -> None:
    indent = _INDENTS[depth] if depth < len(_INDENTS) else "\n" + "  " * depth
    name = node.name
    start = indent + "<" + name + node.attributes
    if node.content:
        parts.append(start + ">")
        _write_content(node, depth + 1, parts)
        parts.append(indent + "</" + name + ">")
    elif node.text is not None:
        parts.append(start + ">" + _text(node.text) + "</" + name + ">")
    else:
        parts.append(start + "/>")
