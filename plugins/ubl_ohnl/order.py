"""The UBL-OHNL Order (BESTELLING-UBL): the agency's purchase order, read by the supplier.

Inbound in production; encoding exists for the agency simulators and the
tests, and refuses, naming the canonical field and the OHNL rule:

- more than one note on the order or on a line;
- delivery address or requested delivery period that is neither on the
  header nor on every line, or on both (OHNL: header or every line, never
  mixed); a cost centre (``accounting_cost``) on the header and on lines, or
  on some lines only. An order without any cost centre gets an empty
  ``AccountingCostCode`` on every line, as the DigiInkoop scenario order has;
- a requested delivery date (OHNL requests a period with an end date), a
  delivery location id or delivery terms;
- a buyer without contact, a seller without contact when not every line
  names a delivery contact, a line without price or seller item id;
- fields OHNL has no element for: ``buyer_reference``,
  ``project_reference``, ``order_type``, ``partial_delivery_allowed``, gross
  price and discount, standard item ids, classifications, properties.

Embedded attachments are allowed in an order: an AdditionalDocumentReference
with ``EmbeddedDocumentBinaryObject`` (base64, ``@mimeCode``).

Decoding reports every element it did not map by XPath.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Final

from gateway.formats import Decoded, Detection, EncodeContext, Format, Sample, ValidationLayer
from gateway.kinds import Direction, DocumentKind
from gateway.model import FieldProblem, Order
from gateway.sniff import Sniffed
from gateway.xmlsafe import parse_xml
from plugins.ubl_ohnl.detect import describe, detect_root
from plugins.ubl_ohnl.errors import OhnlDecodeError, OhnlEncodeError
from plugins.ubl_ohnl.order_reader import OrderReader
from plugins.ubl_ohnl.order_writer import DOCUMENT, OrderWriter
from plugins.ubl_ohnl.samples import order_samples
from plugins.ubl_ohnl.versions import V1_8, V1_9, OhnlVersion
from plugins.ubl_ohnl.xmltools import Element, serialize

__all__ = ["BESTELLING_UBL", "OhnlOrder18", "OhnlOrder19", "OhnlOrderFormat", "parse_own"]

BESTELLING_UBL: Final = "BESTELLING-UBL"
"""The Digipoort berichtsoort of an OHNL order (both releases)."""


def parse_own(fmt: Format, data: bytes, document: str, version: OhnlVersion,
              what: str) -> Element:
    """The root of ``data`` when it is ``document`` of ``version``; a clear error otherwise."""
    if not Sniffed(data).looks_like_xml:
        raise OhnlDecodeError(f"{fmt.key}: expected UBL-OHNL XML, got {describe(data)}")
    root = parse_xml(data).getroot()
    found = detect_root(root, document, version)
    if found is Detection.NO:
        raise OhnlDecodeError(
            f"{fmt.key}: not a UBL-OHNL {what} (UBL 2.0 {document} with ProfileID NL); "
            f"got {describe(data)}"
        )
    if found is Detection.OTHER_VERSION:
        other = Sniffed(data).text("*[local-name()='CustomizationID']")
        raise OhnlDecodeError(
            f"{fmt.key}: this is a UBL-OHNL {other or '(unversioned)'} {what}; "
            f"this format reads version {version.version}"
        )
    return root


class OhnlOrderFormat(Format):
    """UBL-OHNL Order of one release; subclasses name the release."""

    version: ClassVar[OhnlVersion]
    kind = DocumentKind.ORDER
    directions = frozenset({Direction.INBOUND, Direction.OUTBOUND})

    def detect(self, doc: Sniffed) -> Detection:
        return detect_root(doc.root, DOCUMENT, self.version)

    def layers(self) -> Sequence[ValidationLayer]:
        return self.version.layers(DOCUMENT)

    def encode(self, document: Any, context: EncodeContext) -> bytes:
        if not isinstance(document, Order):
            raise OhnlEncodeError(f"{self.key} encodes orders, not {type(document).__name__}")
        return serialize(OrderWriter(self.version, document, context).order())

    def decode(self, data: bytes) -> Decoded:
        root = parse_own(self, data, DOCUMENT, self.version, "order")
        try:
            order, warnings = OrderReader(root).order()
        except FieldProblem as exc:
            raise OhnlDecodeError(
                f"{self.key}: the order does not fit the canonical model: {exc}"
            ) from None
        return Decoded(order, tuple(warnings))

    def samples(self) -> Sequence[Sample]:
        return order_samples()


class OhnlOrder19(OhnlOrderFormat):
    key = "ubl-ohnl:order:1.9"
    version = V1_9
    description = "UBL-OHNL 1.9 Order (BESTELLING-UBL): UBL 2.0 with the DigiInkoop NL extensions"


class OhnlOrder18(OhnlOrderFormat):
    key = "ubl-ohnl:order:1.8"
    version = V1_8
    description = "UBL-OHNL 1.8 Order (BESTELLING-UBL), for agencies still on 1.8"
