"""Writing UBL: elements by prefixed name, values formatted the way the XSD and rules want."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from decimal import ROUND_HALF_UP, Decimal

from lxml import etree

from plugins.ubl.names import NSMAP, document_namespace, prefixed, qname


def make_root(document: str, nsmap: Mapping[str | None, str] | None = None) -> etree._Element:
    """The root element of a UBL ``document`` (``"Invoice"``), its namespace the default one."""
    namespaces: dict[str | None, str] = {None: document_namespace(document), **NSMAP}
    namespaces.update(nsmap or {})
    return etree.Element(f"{{{document_namespace(document)}}}{document}", nsmap=namespaces)


def element(parent: etree._Element, name: str, /, **attributes: str | None) -> etree._Element:
    """A new child ``name`` (``"cac:Party"``) of ``parent``; None attributes are left out."""
    child = etree.SubElement(parent, qname(name))
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
    child = element(parent, name, **attributes)
    child.text = text
    return child


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
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)  # finite values have an int exponent
    if max_places is not None and exponent < -max_places:
        value = value.quantize(Decimal(1).scaleb(-max_places), rounding=ROUND_HALF_UP)
    # format "f" never switches to exponent notation, which xsd:decimal refuses.
    return format(value, "f")


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
    rank = {name: i for i, name in enumerate(sequence)}
    children = [child for child in parent if isinstance(child.tag, str)]
    unknown = [prefixed(child.tag) for child in children if prefixed(child.tag) not in rank]
    if unknown:
        raise ValueError(f"no place in the sequence for {', '.join(sorted(set(unknown)))}")
    for child in sorted(children, key=lambda child: rank[prefixed(child.tag)]):
        parent.append(child)  # appending an existing child moves it to the end


def to_bytes(root: etree._Element) -> bytes:
    """The document as UTF-8 bytes with an XML declaration, indented for people."""
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))
