"""Recognising a UBL-OHNL document and its release.

A UBL-OHNL document is a UBL 2.0 main document with ``cbc:UBLVersionID`` 2.0,
``cbc:ProfileID`` NL and the OHNL release in ``cbc:CustomizationID`` (the
Schematron asserts all three). UBL 2.1 documents of EN 16931, NLCIUS and
Peppol share the root namespace but carry a URN CustomizationID and ProfileID,
so ProfileID NL is what sets OHNL apart.
"""

from __future__ import annotations

from gateway.formats import Detection
from gateway.sniff import Sniffed
from plugins.ubl_ohnl.versions import PROFILE_ID, UBL_VERSION, OhnlVersion
from plugins.ubl_ohnl.xmltools import Element, document_ns, qname


def detect_root(root: Element | None, document: str, version: OhnlVersion) -> Detection:
    """MATCH for ``document`` of ``version``, OTHER_VERSION for another OHNL release."""
    if root is None or root.tag != f"{{{document_ns(document)}}}{document}":
        return Detection.NO
    if _value(root, "cbc:ProfileID") != PROFILE_ID:
        return Detection.NO
    if (
        _value(root, "cbc:UBLVersionID") == UBL_VERSION
        and _value(root, "cbc:CustomizationID") == version.customization_id
    ):
        return Detection.MATCH
    return Detection.OTHER_VERSION


def _value(root: Element, name: str) -> str | None:
    node = root.find(qname(name))
    if node is None or node.text is None:
        return None
    return str(node.text).strip()


def describe(data: bytes) -> str:
    """What ``data`` looks like, for the message of a refused decode."""
    return Sniffed(data).describe()
