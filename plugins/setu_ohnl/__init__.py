"""SETU (HR-XML)-OHNL 2.0 formats: hiring staff (inhuur) with Dutch government agencies.

Registered, in this order: ``setu-ohnl:timecard:2.0`` (TIMECARD-HRXML, the
agency's approved hours), ``setu-ohnl:invoice:2.0`` (FACTUUR-HRXML, the
supplier's invoice for them), ``setu-ohnl:staffing-order:2.0``
(BESTELLING-HRXML, the agency's order) and ``setu-ohnl:human-resource:2.0``
(BESTELLING-BEVESTIGING-HRXML, accepting or rejecting it). Each format class
has a ``berichtsoort`` constant for the Digipoort envelope.

Layout:

- ``messages.py``: per message the root, where its VersionId sits, the
  berichtsoort and the validation layers; detection, and the check every
  decoder starts with (:func:`messages.check_root`);
- ``xmltools.py``: building and reading HR-XML trees (bare paths, Clark
  notation) on top of :class:`plugins.ubl.TrackingReader`;
- ``references.py``: party ids (``idOwner`` schemes) and the VersionId;
- ``timecard.py``: the TimeCard format, writer and reader;
- ``invoice.py``: the OAGIS 8 Invoice format with the SETU user areas;
- ``staffingorder.py`` and ``humanresource.py``: the order and its confirmation;
- ``samples.py``: canonical documents the contract kit round-trips.
"""

from __future__ import annotations

from gateway.hookspecs import hookimpl
from gateway.registry import Registry
from plugins.setu_ohnl.humanresource import SetuHumanResource20
from plugins.setu_ohnl.invoice import SetuInvoice20
from plugins.setu_ohnl.staffingorder import SetuStaffingOrder20
from plugins.setu_ohnl.timecard import SetuTimeCard20

__version__ = "0.1.0"


@hookimpl
def register_formats(registry: Registry) -> None:
    registry.add_format(SetuTimeCard20())
    registry.add_format(SetuInvoice20())
    registry.add_format(SetuStaffingOrder20())
    registry.add_format(SetuHumanResource20())
