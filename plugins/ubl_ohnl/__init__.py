"""UBL-OHNL formats: UBL 2.0 with the DigiInkoop NL extensions (Logius), as sent over Digipoort.

Registered, each for release 1.9 and 1.8 (agencies pinned to 1.8 get 1.8
from the same canonical document):

- ``ubl-ohnl:invoice:*``, the one Invoice document behind the berichtsoorten
  FACTUUR-UBL and E-Factuur-UBL (:func:`berichtsoort` tells them apart for
  the Digipoort channel);
- ``ubl-ohnl:order:*``, BESTELLING-UBL (inbound; encodes for the simulators);
- ``ubl-ohnl:order-response:*``, BESTELLING-BEVESTIGING-UBL (outbound; cannot
  reject, see :mod:`plugins.ubl_ohnl.order_response`).

Release 1.8 only (1.9 suspended the quote flow):
``ubl-ohnl:request-for-quotation:1.8`` (OFFERTE-AANVRAAG-UBL, ``rfq.py``),
``ubl-ohnl:quotation:1.8`` (OFFERTE-UBL, ``quotation.py``) and
``ubl-ohnl:request-for-quotation-cancellation:1.8`` (AFWIJZING-UBL,
``quote_cancellation.py``).

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
- ``order.py`` (the format), ``order_writer.py``, ``order_reader.py`` (which
  also holds the reader base the other non-invoice documents share);
- ``order_response.py`` (format, writer and reader);
- ``samples.py``: the canonical documents the contract kit round-trips.
"""

from __future__ import annotations

from gateway.hookspecs import hookimpl
from gateway.registry import Registry
from plugins.ubl_ohnl.invoice import OhnlInvoice18, OhnlInvoice19, berichtsoort
from plugins.ubl_ohnl.order import OhnlOrder18, OhnlOrder19
from plugins.ubl_ohnl.order_response import OhnlOrderResponse18, OhnlOrderResponse19
from plugins.ubl_ohnl.quotation import OhnlQuotation18
from plugins.ubl_ohnl.quote_cancellation import OhnlRfqCancellation18
from plugins.ubl_ohnl.rfq import OhnlRequestForQuotation18

__version__ = "1.0.0"
__all__ = ["berichtsoort"]


@hookimpl
def register_formats(registry: Registry) -> None:
    registry.add_format(OhnlInvoice19())
    registry.add_format(OhnlInvoice18())
    registry.add_format(OhnlOrder19())
    registry.add_format(OhnlOrder18())
    registry.add_format(OhnlOrderResponse19())
    registry.add_format(OhnlOrderResponse18())
    registry.add_format(OhnlRequestForQuotation18())
    registry.add_format(OhnlQuotation18())
    registry.add_format(OhnlRfqCancellation18())
