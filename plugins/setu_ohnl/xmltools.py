"""Writing and reading HR-XML 2.5 (SIDES) and OAGIS 8 trees.

The UBL helpers (:mod:`plugins.ubl`) work with prefixed UBL names; HR-XML
documents put almost everything in one default namespace, so paths here are
written bare (``"Id/IdValue"``) and :func:`hr` turns them into Clark notation.
That lets the SETU readers reuse :class:`plugins.ubl.TrackingReader` (which
accepts Clark paths as they are) for its "what was not mapped" report, and its
XPaths come out with bare local names, as people write HR-XML paths.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import TypeAlias

from lxml import etree

from plugins.setu_ohnl.errors import SetuDecodeError
from plugins.ubl import TrackingReader, format_decimal, path_of

HR_NS = "http://ns.hr-xml.org/2007-04-15"
OA_NS = "http://www.openapplications.org/oagis"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"

VERSION_ID = "2.0"
VERSION_TITLE = "VersionId"

Element: TypeAlias = etree._Element


def hr(path: str, namespace: str = HR_NS) -> str:
    """``"Id/IdValue"`` in Clark notation; steps with a predicate or ``..`` pass through."""
    return "/".join(
        step if step in {".", ".."} or step.startswith("{") else f"{{{namespace}}}{step}"
        for step in path.split("/")
    )


def oa(path: str) -> str:
    """Like :func:`hr`, in the OAGIS namespace."""
    return hr(path, OA_NS)


def make_root(name: str, namespace: str = HR_NS) -> Element:
    return etree.Element(f"{{{namespace}}}{name}", nsmap={None: namespace})


def add(
    parent: Element, name: str, text: str | None = None, /, *, ns: str | None = None,
    **attributes: str | None,
) -> Element:
    """A new child ``name`` in ``ns`` (default: the parent's); None attributes are left out."""
    namespace = ns if ns is not None else etree.QName(parent).namespace
    child = etree.SubElement(parent, f"{{{namespace}}}{name}" if namespace else name)
    if text is not None:
        child.text = text
    for key, value in attributes.items():
        if value is not None:
            child.set(key, value)
    return child


def opt(
    parent: Element, name: str, text: str | None, /, **attributes: str | None
) -> Element | None:
    """Like :func:`add`, but nothing at all when ``text`` is None: empty elements are noise."""
    return None if text is None else add(parent, name, text, **attributes)


def path_to(parent: Element, path: str) -> Element:
    """Create (or walk) the chain of children ``path`` below ``parent``."""
    current = parent
    for step in path.split("/"):
        namespace = etree.QName(current).namespace
        found: Element | None = current.find(f"{{{namespace}}}{step}")
        current = found if found is not None else add(current, step)
    return current


def to_bytes(root: Element) -> bytes:
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))


def format_when(value: dt.date | dt.datetime) -> str:
    """An HR-XML AnyDateTimeType: a date, or a moment as written (zone kept when known)."""
    return value.isoformat()


def format_number(value: Decimal) -> str:
    return format_decimal(value)


def format_bool(value: bool) -> str:
    return "true" if value else "false"


_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATE_ZONE = re.compile(r"^(\d{4}-\d{2}-\d{2})(Z|[+-]\d{2}:\d{2})$")


def parse_when(text: str, where: str) -> dt.date | dt.datetime:
    """AnyDateTimeType: xsd:date or xsd:dateTime. A zone on a bare date is dropped."""
    stripped = text.strip()
    try:
        if _DATE.match(stripped):
            return dt.date.fromisoformat(stripped)
        zoned = _DATE_ZONE.match(stripped)
        if zoned:
            return dt.date.fromisoformat(zoned.group(1))
        # fromisoformat on 3.11 takes "Z" and fractions of any length we meet here.
        return dt.datetime.fromisoformat(stripped)
    except ValueError:
        raise SetuDecodeError(f"{where}: {text!r} is not a date or date-time") from None


def as_date(value: dt.date | dt.datetime) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value


def parse_bool(text: str, where: str) -> bool:
    stripped = text.strip()
    if stripped in {"true", "1"}:
        return True
    if stripped in {"false", "0"}:
        return False
    raise SetuDecodeError(f"{where}: {text!r} is not a boolean")


class SetuReader(TrackingReader):
    """A :class:`TrackingReader` with the value types HR-XML uses."""

    def when(self, node: Element, path: str | None = None) -> dt.date | dt.datetime | None:
        found = node if path is None else self.first(node, path)
        if found is None:
            return None
        text = self.code(found)
        return parse_when(text, path_of(found)) if text is not None else None

    def flag(self, node: Element, name: str) -> bool | None:
        value = self.attr(node, name)
        return parse_bool(value, f"{path_of(node)}/@{name}") if value is not None else None

    def decimal_attr(self, node: Element, name: str) -> Decimal | None:
        value = self.attr(node, name)
        if value is None:
            return None
        try:
            number = Decimal(value)
        except ArithmeticError:
            number = Decimal("NaN")
        if not number.is_finite():
            raise SetuDecodeError(f"{path_of(node)}/@{name}: {value!r} is not a number")
        return number

    def id_value(self, node: Element, path: str = "Id") -> str | None:
        """The ``IdValue`` of an HR-XML EntityIdType at ``path``; its ``idOwner`` is read too.

        The owner says who issued the id (StaffingCustomer or StaffingCompany);
        the canonical documents keep only the value, so reading the owner here
        keeps it out of the "not mapped" warnings while the format docs state
        that it does not survive a round trip.
        """
        found = self.first(node, hr(path))
        if found is None:
            return None
        self.attr(found, "idOwner")
        value = self.first(found, hr("IdValue"))
        if value is not None:
            self.attr(value, "name")
        return self.code(found, hr("IdValue"))
