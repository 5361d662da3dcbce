"""One canonical JSON format instance per document kind.

Encoding a document the ERP submitted as canonical JSON gives that JSON text
itself (see ``EncodeContext.source_json``): the payload is byte for byte what
the ERP sent, spacing and key order included. A document without that text
(re-encoded by an operator's reroute, decoded from another format) is written
with :func:`gateway.model.json.dumps`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gateway.errors import GatewayError
from gateway.formats import Decoded, Detection, EncodeContext, Format, Sample
from gateway.kinds import Direction, DocumentKind
from gateway.model import kind_of
from gateway.model.json import SCHEMA_VERSION, dumps, from_json, parse_json
from gateway.model.samples import example_documents
from gateway.sniff import Sniffed


class CanonicalFormatError(GatewayError):
    """Bytes handed to a canonical format that are not its JSON."""


class CanonicalJSONFormat(Format):
    directions = frozenset({Direction.INBOUND, Direction.OUTBOUND})
    media_type = "application/json"

    def __init__(self, kind: DocumentKind) -> None:
        # Instance attributes shadow the class-level declarations on purpose:
        # one class serves every kind.
        self.kind = kind  # type: ignore[misc]
        self.key = f"canonical:{kind.value}:{SCHEMA_VERSION}"  # type: ignore[misc]
        self.description = (  # type: ignore[misc]
            f"Wissel canonical JSON, {kind.value} (schema_version {SCHEMA_VERSION})"
        )

    def detect(self, doc: Sniffed) -> Detection:
        value = doc.json
        if not isinstance(value, dict) or value.get("document") != self.kind.value:
            return Detection.NO
        if value.get("schema_version") == SCHEMA_VERSION:
            return Detection.MATCH
        return Detection.OTHER_VERSION

    def encode(self, document: Any, context: EncodeContext) -> bytes:
        if kind_of(document) is not self.kind:
            raise CanonicalFormatError(
                f"{self.key} encodes {self.kind.value} documents, not {kind_of(document).value}"
            )
        if context.source_json is not None:
            # The ERP's own text, byte for byte: what an operator expects to find sent,
            # and no cost of writing the document anew. Its kind is checked above; it
            # was read under this gateway's one SCHEMA_VERSION, which is this format's.
            return context.source_json.encode("utf-8")
        return dumps(document).encode("utf-8")

    def decode(self, data: bytes) -> Decoded:
        # Read as loads reads what the API takes: json.loads alone lets a repeated key
        # (last one wins) and control characters through.
        value = parse_json(data)
        if not isinstance(value, dict):
            raise CanonicalFormatError(f"{self.key}: the input is not a JSON object")
        if value.get("document") != self.kind.value:
            raise CanonicalFormatError(
                f"{self.key}: 'document' is {value.get('document')!r}, expected "
                f"{self.kind.value!r}"
            )
        return Decoded(from_json(value))

    def samples(self) -> Sequence[Sample]:
        return [
            Sample(name=f"example {self.kind.value}", document=document)
            for document in example_documents()
            if kind_of(document) is self.kind
        ]
