"""UBL-OHNL formats: UBL 2.0 with the DigiInkoop NL extensions (Logius), as sent over Digipoort.

Registered: ``ubl-ohnl:invoice:1.9``, the one Invoice document behind the
berichtsoorten FACTUUR-UBL and E-Factuur-UBL (:func:`berichtsoort` tells them
apart for the Digipoort channel).

Layout, so that the 1.8 releases and the Order/OrderResponse formats reuse
everything but the document mapping:

- ``versions.py``: what differs per release (CustomizationID, NL namespaces,
  artifact paths and validation layers, rule limits), one instance each;
- ``codes.py``: OHNL code lists and fixed values (list attributes, type
  codes, party schemes, tax category names, the unit subset);
- ``detect.py``: recognising an OHNL document and its release;
- ``parties.py`` and ``tax.py``: parties, addresses, contacts and VAT
  categories, written and read the same way in every OHNL document;
- ``xmltools.py``: NL-aware names, builder and reader on top of
  :mod:`plugins.ubl`;
- ``invoice.py`` (the format), ``invoice_writer.py``, ``invoice_reader.py``;
- ``samples.py``: the canonical invoices the contract kit round-trips.
"""

from __future__ import annotations

from gateway.hookspecs import hookimpl
from gateway.registry import Registry
from plugins.ubl_ohnl.invoice import OhnlInvoice19, berichtsoort

__version__ = "1.0.0"
__all__ = ["berichtsoort"]


@hookimpl
def register_formats(registry: Registry) -> None:
    registry.add_format(OhnlInvoice19())
