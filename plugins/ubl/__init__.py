"""Shared helpers for UBL formats. A library, not a plugin: it registers nothing.

Format plugins written in UBL (``plugins/ubl_invoice``, and any UBL 2.0 or 2.1
based format) import it for three things:

- names: the namespaces and the prefixes the official examples use
  (:data:`CBC`, :data:`CAC`, :data:`EXT`, :func:`document_namespace`,
  :data:`NSMAP`). UBL 2.0 and 2.1 share every namespace (the ``-2`` suffix is
  the major version), so one set serves both; the version shows only in
  ``cbc:UBLVersionID`` and in which XSD validates the document;
- building: :func:`make_root`, :func:`element`, :func:`sub` (which skips
  absent values; both resolve each name once, :func:`clark`), :func:`copy_of`,
  :func:`format_decimal` (keeps the scale, caps the places),
  :func:`format_date`, :func:`reorder` (puts children in XSD sequence order)
  and :func:`to_bytes`; :mod:`plugins.ubl.text` has the same builders for a
  light tree that writes itself as text, the same bytes at a quarter to half the
  cost, for writers on the hot path (the invoice);
- reading: :func:`first`, :func:`first_text`, :func:`all_of`,
  :func:`parse_decimal`, :func:`parse_date`, :func:`path_of`, and
  :class:`TrackingReader`, which remembers what a decoder read so that it can
  report everything it did not (``Decoded.warnings``).

Paths are written with the ``cbc:``/``cac:``/``ext:`` prefixes, e.g.
``first_text(party, "cac:PartyLegalEntity/cbc:CompanyID")``.
"""

from plugins.ubl.build import (
    clark,
    copy_of,
    element,
    format_amount,
    format_date,
    format_decimal,
    make_root,
    reorder,
    sub,
    to_bytes,
)
from plugins.ubl.names import (
    CAC,
    CBC,
    EXT,
    NSMAP,
    PREFIXES,
    UBL_VERSIONS,
    document_namespace,
    qname,
)
from plugins.ubl.read import (
    TrackingReader,
    UBLReadError,
    all_of,
    first,
    first_text,
    parse_date,
    parse_decimal,
    path_of,
)

__all__ = [
    "CAC",
    "CBC",
    "EXT",
    "NSMAP",
    "PREFIXES",
    "UBL_VERSIONS",
    "TrackingReader",
    "UBLReadError",
    "all_of",
    "clark",
    "copy_of",
    "document_namespace",
    "element",
    "first",
    "first_text",
    "format_amount",
    "format_date",
    "format_decimal",
    "make_root",
    "parse_date",
    "parse_decimal",
    "path_of",
    "qname",
    "reorder",
    "sub",
    "to_bytes",
]
