"""EN 16931 invoices and credit notes in UBL 2.1, and the CIUSes Dutch agencies accept.

Formats (see :mod:`.formats`):

- ``en16931:invoice:2017``, ``en16931:credit-note:2017``: the EN 16931 core;
- ``nlcius:invoice:1.0``, ``nlcius:credit-note:1.0``: SI-UBL 2.0 / NLCIUS;
- ``nlcius-gaccount:invoice:1.0``, ``nlcius-gaccount:credit-note:1.0``:
  NLCIUS with the G-account extension;
- ``peppol-bis:invoice:3.0``, ``peppol-bis:credit-note:3.0``: Peppol BIS
  Billing 3.0.

All of them encode a canonical :class:`gateway.model.Invoice` and decode
back to one, with warnings naming what a foreign document holds beyond it.
"""

from __future__ import annotations

from gateway.hookspecs import hookimpl
from gateway.registry import Registry
from plugins.ubl_invoice.formats import FORMATS

__version__ = "1.0.0"


@hookimpl
def register_formats(registry: Registry) -> None:
    for format_class in FORMATS:
        registry.add_format(format_class())
