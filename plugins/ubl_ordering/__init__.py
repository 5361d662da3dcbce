"""Peppol BIS Ordering 3 in UBL 2.1: orders, order responses and the Peppol application responses.

Formats (see :mod:`.formats`):

- ``peppol-bis:order:3``: T01 under the order_only and ordering profiles,
  inbound; Basisorder Rijk (the central government's T01 profile) is checked
  on top, as warnings when decoding and errors when encoding for an agency;
- ``peppol-bis:order-response:3``: T76, outbound, answering AP, CA, RE or AB
  from the canonical response status, with per-line changes under CA;
- ``peppol-bis:invoice-response:3``: T111, inbound, an agency's status of
  an invoice (AB, IP, UQ, CA, RE, AP, PD) with its clarification codes;
- ``peppol-bis:mlr:3``: T71, inbound, whether a document was taken in (AB,
  AP, RE), with one line per problem found.
"""

from __future__ import annotations

from gateway.hookspecs import hookimpl
from gateway.registry import Registry
from plugins.ubl_ordering.formats import FORMATS

__version__ = "1.0.0"


@hookimpl
def register_formats(registry: Registry) -> None:
    for format_class in FORMATS:
        registry.add_format(format_class())
