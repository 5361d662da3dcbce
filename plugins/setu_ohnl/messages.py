"""The four SETU-OHNL 2.0 messages: root element, where the version sits, artifacts.

SETU-OHNL has no version element. Each message carries ``2.0`` in an
``AdditionalRequirement[@requirementTitle='VersionId']``, at a place that
differs per message (SETU leeswijzer, the 2.0 examples); references at any
other level are ignored by the EPV, so detection looks only there.

The 2.0.3 update added Assignment specifications and changed no XSD or
Schematron of these four messages (Releasenotes2.0.3.txt; 2.0.1 relaxed an
Invoice ReasonCode rule, already in the 2.0 Schematron we install), so one
set of layers serves documents of every 2.0.x release: they all say
``VersionId`` 2.0.
"""

from __future__ import annotations

import attrs
from lxml import etree

from gateway.formats import Detection, LayerKind, ValidationLayer
from gateway.sniff import Sniffed
from gateway.xmlsafe import parse_xml
from plugins.setu_ohnl.errors import SetuDecodeError
from plugins.setu_ohnl.xmltools import HR_NS, OA_NS, VERSION_ID, VERSION_TITLE, Element

SETU_NL_NS = "http://ns.setu.nl/2012-01"
ROOT = "hr-xml-ohnl/ohnl-2.0"
NAMESPACES = {"hr": HR_NS, "oa": OA_NS, "nl": SETU_NL_NS}
_VERSION = f"hr:AdditionalRequirement[@requirementTitle='{VERSION_TITLE}']"


@attrs.frozen
class Message:
    """One SETU-OHNL message type as detection and validation need it.

    ``requirements`` is the XPath (prefixes of :data:`NAMESPACES`) from the
    root to the ``CustomerReportingRequirements`` that holds the VersionId.
    """

    name: str
    namespace: str
    requirements: str
    berichtsoort: str

    @property
    def tag(self) -> str:
        return f"{{{self.namespace}}}{self.name}"

    def version_of(self, root: Element) -> str | None:
        found = root.xpath(f"{self.requirements}/{_VERSION}", namespaces=NAMESPACES)
        assert isinstance(found, list)
        for node in found:
            if isinstance(node, etree._Element) and node.text and node.text.strip():
                return str(node.text).strip()
        return None

    def detect(self, root: Element | None) -> Detection:
        """MATCH for this message with VersionId 2.0, OTHER_VERSION for another VersionId.

        A document of this root without any VersionId is not called ours:
        SETU messages outside OHNL (plain SETU 1.x, other HR-XML profiles)
        share root and namespace and carry none.
        """
        if root is None or root.tag != self.tag:
            return Detection.NO
        version = self.version_of(root)
        if version is None:
            return Detection.NO
        return Detection.MATCH if version == VERSION_ID else Detection.OTHER_VERSION

    def layers(self) -> tuple[ValidationLayer, ...]:
        """The *OrdinaNL.xsd entry schema and the compiled Schematron of the message.

        The OrdinaNL entry schemas merge the HR-XML base and the SETU NL
        additions into one schema set (their own note: to get around Xerces
        failing on several includes of one namespace); lxml needs the same.
        """
        return (
            ValidationLayer(
                kind=LayerKind.XSD, name=f"SETU-OHNL 2.0 XSD ({self.name})",
                artifact=f"{ROOT}/SIDES/NL/2015-02/{self.name}OrdinaNL.xsd",
            ),
            ValidationLayer(
                kind=LayerKind.SCHEMATRON, name=f"SETU-OHNL 2.0 Schematron ({self.name})",
                artifact=f"{ROOT}/{self.name}-Schematron-Validation.xsl",
            ),
        )


TIMECARD = Message(
    name="TimeCard", namespace=HR_NS, berichtsoort="TIMECARD-HRXML",
    requirements="hr:AdditionalData/hr:StaffingAdditionalData/hr:CustomerReportingRequirements",
)
INVOICE = Message(
    name="Invoice", namespace=OA_NS, berichtsoort="FACTUUR-HRXML",
    requirements=(
        "oa:Header/oa:UserArea/hr:StaffingAdditionalData/hr:CustomerReportingRequirements"
    ),
)
STAFFING_ORDER = Message(
    name="StaffingOrder", namespace=HR_NS, berichtsoort="BESTELLING-HRXML",
    requirements="hr:CustomerReportingRequirements",
)
HUMAN_RESOURCE = Message(
    name="HumanResource", namespace=HR_NS, berichtsoort="BESTELLING-BEVESTIGING-HRXML",
    requirements="hr:UserArea/nl:HumanResourceAdditionalNL/nl:CustomerReportingRequirements",
)


def check_root(key: str, message: Message, data: bytes) -> Element:
    """The parsed root of ``data`` when it is ``message`` at VersionId 2.0; refuses otherwise."""
    sniffed = Sniffed(data)
    if not sniffed.looks_like_xml:
        raise SetuDecodeError(f"{key}: expected SETU-OHNL XML, got {sniffed.describe()}")
    root = parse_xml(data).getroot()
    found = message.detect(root)
    if found is Detection.NO:
        raise SetuDecodeError(
            f"{key}: not a SETU-OHNL {message.name} (root {{{message.namespace}}}{message.name} "
            f"with VersionId 2.0); got {sniffed.describe()}"
        )
    if found is Detection.OTHER_VERSION:
        raise SetuDecodeError(
            f"{key}: this {message.name} says VersionId {message.version_of(root)}; "
            "this format reads 2.0"
        )
    return root
