"""Identifier schemes: the canonical model's words versus the ISO 6523 ICD / EAS codes.

EN 16931 writes every scheme as an ICD code (BR-CL-10) and every electronic
address as an EAS code (BR-CL-25); the canonical model also accepts the words
OHNL and SETU use. Encoding maps the words that have a code; decoding keeps
the code as written, as :class:`gateway.model.PartyId` asks of decoders.
"""

from __future__ import annotations

import re

from gateway.identifiers import eas_code

NO_SCHEME = "XXX"
"""The canonical scheme of an identifier written without one ("other" in OHNL)."""

_CODE = re.compile(r"^\d{4}$")
# Scheme words EN 16931 allows besides ICD codes: the SEPA creditor id (BT-29, BT-60, BT-90).
_EN16931_WORDS = {"SEPA"}


def scheme_code(scheme: str) -> str | None:
    """The code to write as ``schemeID`` for canonical ``scheme``, or None for none at all.

    Schemes with no code (``Vest``, ``Fi``, ``XXX``, ...) are written without a
    scheme: EN 16931 allows a party identifier without one, but refuses a
    scheme that is not on the ICD list.
    """
    if _CODE.match(scheme) or scheme in _EN16931_WORDS:
        return scheme
    return eas_code(scheme)


def endpoint_scheme(scheme: str) -> str:
    """The EAS code for an electronic address; an unknown word is written as it is.

    ``schemeID`` is mandatory on an EndpointID (BR-62, BR-63), so an unknown
    scheme is kept for validation to report rather than silently dropped.
    """
    return scheme_code(scheme) or scheme
