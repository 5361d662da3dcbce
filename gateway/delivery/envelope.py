"""What the ERP receives for one inbound document, by webhook or in a folder.

One JSON object: who sent what (message id, kind, agency OIN, business key,
format), when it arrived, how it travelled, and the canonical document
itself as a JSON value (not a string), so the ERP reads it with the same
code as the canonical JSON it submits.
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any

from gateway.pipeline.keys import issued_number
from gateway.store import MessageRecord

ENVELOPE_VERSION = 1
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def document_number(record: MessageRecord) -> str:
    """The document's own number, from the inbound key ``<agency>:<kind>:<number>``."""
    if not record.business_key:
        return "unnumbered"
    return issued_number(record.business_key.split(":", 2)[-1])


def envelope(record: MessageRecord, *, include_raw: bool = False) -> dict[str, Any]:
    """The delivery of ``record`` as a JSON-ready dict."""
    if record.canonical_json is None:
        raise ValueError(f"message {record.id} has no decoded document to deliver")
    body: dict[str, Any] = {
        "version": ENVELOPE_VERSION,
        "message_id": record.id,
        "kind": record.document_kind,
        "format": record.format_key,
        "agency_oin": record.agency_oin,
        "business_key": record.business_key,
        "document_number": document_number(record),
        "business_state": record.business_state,
        "received_at": record.created_at.isoformat(),
        "attempt": record.attempts,
        "transport": {
            "channel": record.channel,
            "transport_id": record.transport_id,
            "transport_ids": list(record.transport_ids),
        },
        "document": json.loads(record.canonical_json),
    }
    if include_raw and record.raw_payload is not None:
        body["raw_base64"] = base64.b64encode(record.raw_payload).decode("ascii")
    return body


def envelope_bytes(record: MessageRecord, *, include_raw: bool = False) -> bytes:
    return json.dumps(envelope(record, include_raw=include_raw), ensure_ascii=False,
                      sort_keys=True).encode("utf-8")


def file_stem(record: MessageRecord) -> str:
    """``<kind>-<number>-<message id>``, safe as a file name on any system."""
    number = _UNSAFE.sub("_", document_number(record)).strip("._") or "unnumbered"
    return f"{record.document_kind or 'document'}-{number[:80]}-{record.id}"


def raw_extension(raw: bytes) -> str:
    return ".json" if raw.lstrip()[:1] in (b"{", b"[") else ".xml"
