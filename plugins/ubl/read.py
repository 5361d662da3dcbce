"""Reading UBL: prefixed paths, strict value parsing, and a record of what was read."""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import TypeVar

from lxml import etree

from gateway.errors import GatewayError
from plugins.ubl.names import PREFIXES, prefixed

_XSI = "http://www.w3.org/2001/XMLSchema-instance"
# xsd:decimal: no exponent, no NaN or infinity, which Decimal() would accept.
_DECIMAL = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")
# xsd:date with an optional time zone; the zone says nothing about which day it is.
_DATE = re.compile(r"^(\d{4}-\d{2}-\d{2})(Z|[+-]\d{2}:\d{2})?$")
_T = TypeVar("_T")


class UBLReadError(GatewayError):
    """A UBL document that cannot be read: a required element is missing or a value is malformed.

    The message names the XPath of the offending element.
    """


def first(node: etree._Element, path: str) -> etree._Element | None:
    """The first element ``path`` (``"cac:Party/cbc:EndpointID"``) selects under ``node``."""
    return node.find(path, namespaces=PREFIXES)


def all_of(node: etree._Element, path: str) -> list[etree._Element]:
    """Every element ``path`` selects under ``node``, in document order."""
    return list(node.findall(path, namespaces=PREFIXES))


def first_text(node: etree._Element, path: str) -> str | None:
    """The text of the first element ``path`` selects, or None when absent or empty."""
    found = first(node, path)
    return found.text if found is not None and found.text else None


def parse_decimal(text: str, where: str) -> Decimal:
    """An xsd:decimal as a Decimal with its scale; ``where`` names the element in errors."""
    stripped = text.strip()
    if not _DECIMAL.match(stripped):
        raise UBLReadError(f"{where}: {text!r} is not a decimal number")
    try:
        return Decimal(stripped)
    except InvalidOperation:  # pragma: no cover - the pattern admits only valid numbers
        raise UBLReadError(f"{where}: {text!r} is not a decimal number") from None


def parse_date(text: str, where: str) -> dt.date:
    """An xsd:date (a time zone, if any, is dropped); ``where`` names the element in errors."""
    match = _DATE.match(text.strip())
    if match:
        try:
            return dt.date.fromisoformat(match.group(1))
        except ValueError:
            pass
    raise UBLReadError(f"{where}: {text!r} is not a date (YYYY-MM-DD)")


def path_of(node: etree._Element) -> str:
    """An XPath naming ``node`` with the usual prefixes: ``/Invoice/cac:InvoiceLine[2]/cbc:ID``.

    Positions are given only where a parent has several children of the name.
    """
    steps = []
    current: etree._Element | None = node
    while current is not None:
        name = prefixed(current.tag)
        parent = current.getparent()
        if parent is not None:
            same = [child for child in parent if child.tag == current.tag]
            if len(same) > 1:
                name += f"[{same.index(current) + 1}]"
        steps.append(name)
        current = parent
    return "/" + "/".join(reversed(steps))


def _shorten(text: str, limit: int = 40) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


class TrackingReader:
    """Reads a UBL tree and remembers every element and attribute it touched.

    A decoder reads through one of these; :meth:`unread` then lists what it
    never looked at, which is exactly what the canonical document does not
    hold. Reading an element marks its ancestors too, so an unread
    container is reported once as a whole rather than leaf by leaf.

    Text is returned as written (free text keeps its spaces); :meth:`code`
    strips, for identifiers and code values.
    """

    def __init__(self, root: etree._Element) -> None:
        self.root = root
        # lxml hands out the same proxy object for a node while a reference to
        # it lives, and these sets hold one: identity is stable.
        self._elements: set[etree._Element] = set()
        self._attributes: set[tuple[etree._Element, str]] = set()

    # -- marking ---------------------------------------------------------------

    def mark(self, node: etree._Element) -> etree._Element:
        """Record ``node`` (and its ancestors) as read."""
        current: etree._Element | None = node
        while current is not None and current not in self._elements:
            self._elements.add(current)
            current = current.getparent()
        return node

    def mark_all(self, node: etree._Element) -> None:
        """Record ``node`` with everything below it, attributes included, as read."""
        for each in node.iter():
            if isinstance(each.tag, str):
                self.mark(each)
                for name in each.attrib:
                    self._attributes.add((each, name))

    # -- navigation --------------------------------------------------------------

    def peek(self, node: etree._Element, path: str) -> etree._Element | None:
        """Like :meth:`first`, without marking: for looking before deciding to map."""
        return first(node, path)

    def peek_all(self, node: etree._Element, path: str) -> list[etree._Element]:
        """Like :meth:`all`, without marking."""
        return all_of(node, path)

    def peek_text(self, node: etree._Element, path: str) -> str | None:
        """The stripped text at ``path``, without marking."""
        text = first_text(node, path)
        return text.strip() or None if text is not None else None

    def first(self, node: etree._Element, path: str) -> etree._Element | None:
        found = first(node, path)
        return self.mark(found) if found is not None else None

    def all(self, node: etree._Element, path: str) -> list[etree._Element]:
        return [self.mark(found) for found in all_of(node, path)]

    # -- values --------------------------------------------------------------------

    def text(self, node: etree._Element, path: str | None = None) -> str | None:
        """The text of ``node`` (or of the first element ``path`` selects); None when empty."""
        found = node if path is None else first(node, path)
        if found is None:
            return None
        self.mark(found)
        return found.text if found.text else None

    def code(self, node: etree._Element, path: str | None = None) -> str | None:
        """Like :meth:`text`, stripped: for identifiers and codes."""
        text = self.text(node, path)
        stripped = text.strip() if text is not None else None
        return stripped or None

    def attr(self, node: etree._Element | None, name: str) -> str | None:
        """Attribute ``name`` of ``node``, stripped; None when absent or empty."""
        if node is None:
            return None
        self._attributes.add((node, name))
        value = node.get(name)
        stripped = value.strip() if value is not None else None
        return stripped or None

    def decimal(self, node: etree._Element, path: str | None = None) -> Decimal | None:
        found = node if path is None else first(node, path)
        if found is None:
            return None
        text = self.text(found)
        return _read_at(parse_decimal, text, found) if text is not None else None

    def required_decimal(self, node: etree._Element, path: str) -> Decimal:
        value = self.decimal(node, path)
        if value is None:
            raise UBLReadError(f"{path_of(node)}/{path} is required and missing or empty")
        return value

    def date(self, node: etree._Element, path: str | None = None) -> dt.date | None:
        found = node if path is None else first(node, path)
        if found is None:
            return None
        text = self.text(found)
        return _read_at(parse_date, text, found) if text is not None else None

    def required_text(self, node: etree._Element, path: str) -> str:
        value = self.text(node, path)
        if value is None:
            raise UBLReadError(f"{path_of(node)}/{path} is required and missing or empty")
        return value

    # -- what was left -----------------------------------------------------------------

    def unread(self) -> list[str]:
        """One line per element or attribute never read, naming its XPath and value."""
        found: list[str] = []
        self._collect(self.root, found)
        return found

    def _collect(
        self, node: etree._Element, found: list[str], where: Callable[[], str] | None = None,
    ) -> None:
        # The path is worked out only for what is reported: most elements were read.
        where = where or functools.partial(path_of, node)
        if node not in self._elements:
            text = "".join(node.itertext())
            value = f" ({_shorten(text)!r})" if text.strip() else ""
            found.append(f"{where()}{value} is not mapped")
            return
        for name, value in node.attrib.items():
            if (node, name) in self._attributes or name.startswith(f"{{{_XSI}}}"):
                continue
            found.append(f"{where()}/@{name} ({_shorten(value)!r}) is not mapped")
        children = [child for child in node if isinstance(child.tag, str)]
        for child, position in zip(children, _positions(children), strict=True):
            self._collect(child, found, functools.partial(_step, where, child, position))


def _read_at(parse: Callable[[str, str], _T], text: str, element: etree._Element) -> _T:
    """``parse(text, where)``, naming the element's path only when the value is bad.

    :func:`path_of` counts an element's siblings; doing that for every amount
    of every line of a long invoice made decoding quadratic in its lines.
    """
    try:
        return parse(text, "")
    except UBLReadError:
        return parse(text, path_of(element))  # raises again, now saying where


def _positions(children: list[etree._Element]) -> list[int | None]:
    """Each child's position among its parent's children of its name; None if it is the only one.

    One pass over the children: :func:`path_of` counts them again for each child.
    """
    totals: dict[object, int] = {}
    for child in children:
        totals[child.tag] = totals.get(child.tag, 0) + 1
    seen: dict[object, int] = {}
    positions: list[int | None] = []
    for child in children:
        seen[child.tag] = seen.get(child.tag, 0) + 1
        positions.append(seen[child.tag] if totals[child.tag] > 1 else None)
    return positions


def _step(parent: Callable[[], str], child: etree._Element, position: int | None) -> str:
    """:func:`path_of` of ``child``, given its parent's and its position."""
    name = prefixed(child.tag)
    return f"{parent()}/{name}" if position is None else f"{parent()}/{name}[{position}]"
