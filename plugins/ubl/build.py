"""Writing UBL: elements by prefixed name, values formatted the way the XSD and rules want."""

from __future__ import annotations

import copy
import datetime as dt
import functools
from collections.abc import Mapping, Sequence
from decimal import ROUND_HALF_UP, Decimal

from lxml import etree

from plugins.ubl.names import NSMAP, document_namespace, prefixed, qname


def make_root(document: str, nsmap: Mapping[str | None, str] | None = None) -> etree._Element:
    """The root element of a UBL ``document`` (``"Invoice"``), its namespace the default one."""
    namespaces: dict[str | None, str] = {None: document_namespace(document), **NSMAP}
    namespaces.update(nsmap or {})
    return etree.Element(f"{{{document_namespace(document)}}}{document}", nsmap=namespaces)


# Writers name elements by a few hundred constant prefixed names; turning each
# into Clark notation once instead of per element is a large part of the
# encoding cost saved. Only names that resolve are kept, so a bad name still
# raises every time, and the set of names in the code bounds the cache.
_CLARK: dict[str, str] = {}


def clark(name: str) -> str:
    """:func:`qname`, remembered: ``"cbc:ID"`` as ``"{urn:...}ID"``."""
    tag = _CLARK.get(name)
    if tag is None:
        tag = _CLARK[name] = qname(name)
    return tag


_SubElement = etree.SubElement


def element(parent: etree._Element, name: str, /, **attributes: str | None) -> etree._Element:
    """A new child ``name`` (``"cac:Party"``) of ``parent``; None attributes are left out."""
    child = _SubElement(parent, _CLARK.get(name) or clark(name))
    if attributes:
        for key, value in attributes.items():
            if value is not None:
                child.set(key, value)
    return child


def sub(
    parent: etree._Element, name: str, text: str | None, /, **attributes: str | None
) -> etree._Element | None:
    """A new child ``name`` holding ``text``, or nothing at all when ``text`` is None.

    Absent values must leave no trace: an empty element is an error in Peppol
    (PEPPOL-EN16931-R008) and noise everywhere else.
    """
    if text is None:
        return None
    child = _SubElement(parent, _CLARK.get(name) or clark(name))
    if attributes:
        for key, value in attributes.items():
            if value is not None:
                child.set(key, value)
    child.text = text
    return child


def copy_of(prototype: etree._Element) -> etree._Element:
    """A new copy of ``prototype`` and everything below it, in no document yet.

    For lxml elements ``copy.copy`` already copies the whole subtree;
    ``copy.deepcopy`` would do the same and add a memo that costs three times
    the copy.
    """
    return copy.copy(prototype)


def format_decimal(value: Decimal, max_places: int | None = None) -> str:
    """``value`` in plain notation with its own scale, at most ``max_places`` decimals.

    The scale is kept because it is part of what the sender wrote (``21`` and
    ``21.00`` are both valid rates); a value with more places than allowed is
    rounded half away from zero, as :func:`gateway.model.round_amount` does.
    Negative zero stays negative zero: it is a valid xsd:decimal, and writing
    what the model holds keeps a round trip exact.
    """
    if not value.is_finite():
        raise ValueError(f"cannot write {value} as an XML decimal")
    # Plain notation, which xsd:decimal wants, with exactly as many places as
    # the exponent says: str() writes that unless it switches to exponent
    # notation, and costs a fifth of format "f", which never switches.
    # Counting places in the text is cheaper than taking the value apart.
    text = str(value)
    if "E" in text or "e" in text:
        text = format(value, "f")
    if max_places is not None:
        point = text.find(".")
        if point >= 0 and len(text) - point - 1 > max_places:
            step = _STEPS.get(max_places) or Decimal(1).scaleb(-max_places)
            text = format(value.quantize(step, rounding=ROUND_HALF_UP), "f")
    return text


_STEPS = {places: Decimal(1).scaleb(-places) for places in range(7)}


def format_amount(value: Decimal) -> str:
    """A money amount: two decimals at most (EN 16931 UBL-DT-01)."""
    return format_decimal(value, 2)


def format_date(value: dt.date) -> str:
    """An xsd:date, ``YYYY-MM-DD``."""
    return value.isoformat()


def reorder(parent: etree._Element, sequence: Sequence[str]) -> None:
    """Put the children of ``parent`` in the order of ``sequence`` (prefixed names).

    The sort is stable, so repeated elements keep their order. UBL types are
    ``xsd:sequence``s: an element out of place makes the document invalid.
    """
    rank = _ranks(tuple(sequence))
    children = [child for child in parent if isinstance(child.tag, str)]
    names = [prefixed(child.tag) for child in children]
    unknown = [name for name in names if name not in rank]
    if unknown:
        raise ValueError(f"no place in the sequence for {', '.join(sorted(set(unknown)))}")
    ranks = [rank[name] for name in names]
    if len(children) == len(parent) and ranks == sorted(ranks):
        # Already in order, with nothing but elements: moving every child to
        # the end would rebuild the same tree, at the price of a walk through
        # each moved subtree.
        return
    for _, child in sorted(zip(ranks, children, strict=True), key=_first):
        parent.append(child)  # appending an existing child moves it to the end


@functools.lru_cache(maxsize=64)
def _ranks(sequence: tuple[str, ...]) -> dict[str, int]:
    return {name: i for i, name in enumerate(sequence)}


def _first(pair: tuple[int, etree._Element]) -> int:
    return pair[0]


def to_bytes(root: etree._Element) -> bytes:
    """The document as UTF-8 bytes with an XML declaration, indented for people."""
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))
