"""The JSON Schemas of the API's own bodies, for the OpenAPI document.

Kept beside :mod:`gateway.api.render`, which produces these shapes; a test
validates real answers against them. Canonical documents use the published
schemas in ``schemas/canonical``.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from gateway.api.operations import ref
from gateway.kinds import KINDS
from gateway.model.jsonschema import schema_filename, schema_kinds
from gateway.pipeline.operator import REROUTABLE
from gateway.store import AttemptOutcome, TransportState
from gateway.store.base import MAX_PAGE

STRING = {"type": "string"}
TEXT_OR_NULL = {"type": ["string", "null"]}
TIME_OR_NULL = {"type": ["string", "null"], "format": "date-time"}
LINKS = {"type": "object", "required": ["self"], "properties": {"self": STRING}}
STATES = [state.value for state in TransportState]


def _object(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    return {"type": "object", "required": required if required is not None else
            list(properties), "properties": properties}


SUMMARY_PROPERTIES: dict[str, Any] = {
    "id": STRING, "direction": {"enum": ["outbound", "inbound"]}, "kind": TEXT_OR_NULL,
    "business_key": TEXT_OR_NULL, "agency_oin": TEXT_OR_NULL, "channel": TEXT_OR_NULL,
    "format": TEXT_OR_NULL, "transport_state": {"enum": STATES}, "business_state": STRING,
    "attempt_count": {"type": "integer"}, "max_attempts": {"type": "integer"},
    "transport_id": TEXT_OR_NULL, "last_error": TEXT_OR_NULL,
    "created_at": {"type": "string", "format": "date-time"},
    "updated_at": {"type": "string", "format": "date-time"}, "next_attempt_at": TIME_OR_NULL,
    "links": LINKS,
}

OPTIONAL_OBJECT = {"type": ["object", "null"]}
ROUTE = _object({"channel": TEXT_OR_NULL, "format": TEXT_OR_NULL})
REROUTABLE_STATES = sorted(state.value for state in REROUTABLE)
# Store cursors are message ids (26 characters of Crockford base32).
CURSOR_PATTERN = r"^[0-9A-HJKMNP-TV-Z]{26}$"
# What gateway.api.body.optional_text takes: text that is not empty or only white space.
NOT_BLANK = {"type": "string", "pattern": "\\S"}
# The same for a key it leaves out when null.
NOT_BLANK_OR_NULL = {"type": ["string", "null"], "pattern": "\\S"}

COMPONENTS: dict[str, Any] = {
    "Problem": {
        "type": "object", "description": "RFC 9457 problem details.",
        "required": ["type", "title", "status", "detail"],
        "properties": {
            "type": STRING, "title": STRING, "status": {"type": "integer"}, "detail": STRING,
            "instance": STRING,
            "errors": {"type": "array", "items": {
                "type": "object", "required": ["message"], "properties": {
                    "field": {"type": "string", "description": "JSON path into the body "
                              "($.lines[0].quantity), an XPath into the encoded document "
                              "for a validation rule, or a parameter name."},
                    "rule": {"type": "string", "description": "The rule id broken."},
                    "message": STRING}}},
            "message_id": {"type": "string",
                           "description": "The stored rejected message, for a 422."},
            "stage": STRING, "rules": {"type": "array", "items": STRING},
        },
    },
    "SubmitAnswer": _object({
        "id": STRING, "business_key": TEXT_OR_NULL, "kind": TEXT_OR_NULL,
        "agency_oin": TEXT_OR_NULL, "channel": TEXT_OR_NULL, "format": TEXT_OR_NULL,
        "transport_state": {"enum": STATES}, "links": LINKS,
    }),
    "MessageSummary": _object(SUMMARY_PROPERTIES),
    "Event": _object({
        "seq": {"type": "integer"}, "at": {"type": "string", "format": "date-time"},
        "kind": STRING, "transport_state": {"enum": [*STATES, None]},
        "business_state": TEXT_OR_NULL, "detail": {"type": "object"},
    }),
    "Attempt": _object({
        "number": {"type": "integer"}, "started_at": {"type": "string", "format": "date-time"},
        "finished_at": {"type": "string", "format": "date-time"},
        "outcome": {"enum": [o.value for o in AttemptOutcome],
                    "description": "interrupted: the gateway stopped while the channel was "
                                   "sending; the transport may have received it."},
        "code": TEXT_OR_NULL,
        "detail": STRING, "transport_id": TEXT_OR_NULL,
    }),
    "Message": {
        "allOf": [ref("MessageSummary"), _object({
            "transport_ids": {"type": "array", "items": STRING},
            "routing": OPTIONAL_OBJECT, "validation": OPTIONAL_OBJECT,
            "timeline": {"type": "array", "items": ref("Event")},
            "attempts": {"type": "array", "items": ref("Attempt")},
            "payload": {"type": ["string", "null"], "contentEncoding": "base64",
                        "description": "The document on the wire (?include=payload)."},
            "canonical": {"description": "The canonical JSON (?include=payload)."},
        }, ["transport_ids", "routing", "validation", "timeline", "attempts"])],
    },
    "MessagePage": _object({
        "items": {"type": "array", "items": ref("MessageSummary")},
        "next_cursor": TEXT_OR_NULL,
    }),
    "OperatorRequest": {
        "type": "object", "required": ["reason"], "additionalProperties": False,
        "properties": {"reason": NOT_BLANK, "actor": NOT_BLANK_OR_NULL},
    },
    "RerouteRequest": {
        "type": "object", "required": ["reason"], "additionalProperties": False,
        "properties": {
            "reason": NOT_BLANK, "actor": NOT_BLANK_OR_NULL,
            "channel": {**NOT_BLANK_OR_NULL,
                        "description": "A configured channel to send it over. The "
                                       "message's routing then names it, with no fallback "
                                       "channel: the old route's was the old channel's."},
            "format": {**NOT_BLANK_OR_NULL,
                       "description": "A format key to encode it in anew (`gateway formats`). "
                                      "Without channel and format the message follows its "
                                      "agency's route as the configuration has it now."},
        },
    },
    "AgencyRerouteRequest": {
        "type": "object", "required": ["reason", "agency"], "additionalProperties": False,
        "properties": {
            "reason": NOT_BLANK, "actor": NOT_BLANK_OR_NULL,
            "agency": {**NOT_BLANK, "description": "The agency's OIN."},
            "kind": {"enum": [*KINDS, None],
                     "description": "Only messages of this document kind."},
            "states": {"type": "array", "minItems": 1,
                       "items": {"enum": REROUTABLE_STATES},
                       "default": ["queued", "retrying"],
                       "description": "Transport states of the messages to reroute."},
            "dry_run": {"type": "boolean", "default": False,
                        "description": "Encode and validate, report, change nothing."},
            "limit": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": 100,
                      "description": "Messages looked at in this call."},
            "cursor": {"type": ["string", "null"], "pattern": CURSOR_PATTERN,
                       "description": "next_cursor of the previous page."},
        },
    },
    "AgencyReroutePage": _object({
        "dry_run": {"type": "boolean"},
        "items": {"type": "array", "items": _object({
            "id": STRING, "kind": TEXT_OR_NULL,
            "outcome": {"enum": ["rerouted", "would-reroute", "unchanged", "refused"]},
            "from": ROUTE, "to": {"anyOf": [ROUTE, {"type": "null"}]},
            "detail": TEXT_OR_NULL})},
        "summary": {"type": "object", "additionalProperties": {"type": "integer"},
                    "description": "How many of this page's messages had each outcome."},
        "next_cursor": TEXT_OR_NULL,
    }),
    "InboxItem": _object({
        "id": STRING, "kind": TEXT_OR_NULL, "business_key": TEXT_OR_NULL,
        "agency_oin": TEXT_OR_NULL, "channel": TEXT_OR_NULL, "format": TEXT_OR_NULL,
        "transport_state": {"enum": STATES},
        "received_at": {"type": "string", "format": "date-time"},
        "canonical": {"description": "The decoded canonical JSON."}, "links": LINKS,
    }),
    "InboxEnvelope": {
        "type": "object",
        "description": "A document as a webhook or folder delivers it (README: Delivery to "
                       "the ERP), with its links.",
        "required": ["version", "message_id", "kind", "document", "links"],
        "properties": {
            "version": {"type": "integer"}, "message_id": STRING, "kind": TEXT_OR_NULL,
            "format": TEXT_OR_NULL, "agency_oin": TEXT_OR_NULL, "business_key": TEXT_OR_NULL,
            "document_number": STRING, "business_state": STRING,
            "received_at": {"type": "string", "format": "date-time"},
            "attempt": {"type": "integer"},
            "transport": {"type": "object", "properties": {
                "channel": TEXT_OR_NULL, "transport_id": TEXT_OR_NULL,
                "transport_ids": {"type": "array", "items": STRING}}},
            "document": {"description": "The canonical JSON of the document."},
            "links": LINKS,
        },
    },
    "InboxPage": _object({
        "items": {"type": "array", "items": {"oneOf": [ref("InboxItem"),
                                                        ref("InboxEnvelope")]}},
        "next_cursor": TEXT_OR_NULL,
    }),
    "Acknowledged": _object({"id": STRING, "transport_state": {"enum": STATES}}),
    "Health": {"type": "object", "required": ["status", "version"],
               "properties": {"status": {"enum": ["ok", "degraded", "stopping"]},
                              "role": {
                                  "enum": ["full", "intake"],
                                  "description": "What this instance runs: everything, or "
                                                 "submissions and the API only (no channels, "
                                                 "nothing sent; `channels` is empty). One of "
                                                 "the details."},
                              "version": STRING,
                              "waiting": {
                                  "type": "object",
                                  "additionalProperties": {"type": "integer", "minimum": 1},
                                  "description": "Per channel configured here but not "
                                                 "running here (disabled, failed to start, "
                                                 "no plugin), how many outbound messages "
                                                 "are queued or retrying for it: nothing "
                                                 "here sends them, an instance on the same "
                                                 "database that runs the channel would. "
                                                 "Only such channels with messages waiting; "
                                                 "each also has a line in `problems` and "
                                                 "makes the status degraded. Empty on an "
                                                 "intake instance, which runs no channel by "
                                                 "design. One of the details."},
                              "turns": {
                                  "type": "array", "items": _object({
                                      "channel": STRING, "purpose": STRING,
                                      "holder": STRING,
                                      "until": {"type": "string", "format": "date-time"},
                                      "here": {"type": "boolean"}}),
                                  "description": "Per channel and purpose (Digipoort's "
                                                 "status polling, say), the instance on the "
                                                 "database that holds the turn (its "
                                                 "turn-holder name), until when its lease "
                                                 "runs (it renews it every round; one in the "
                                                 "past has run out and goes to the next "
                                                 "instance that asks), and whether it is "
                                                 "this one. One of the details."},
                              "unknown_agencies": {
                                  "type": "object",
                                  "additionalProperties": _object({
                                      "documents": {"type": "integer", "minimum": 1},
                                      "first": {"type": "string", "format": "date-time"},
                                      "last": {"type": "string", "format": "date-time"}}),
                                  "description": "Per OIN that the agency directory lacks, "
                                                 "the inbound documents this instance "
                                                 "decoded from it since it started, as long "
                                                 "as the last came within 24 hours: how "
                                                 "many, the first and the last. They reach "
                                                 "the ERP all the same; each OIN also has a "
                                                 "line in `problems` and makes the status "
                                                 "degraded until the directory has it. One "
                                                 "of the details."},
                              "validation": {
                                  "enum": ["on demand", "warming", "warm"],
                                  "description": "The validation workers: started warm for "
                                                 "the routed formats, still warming, or "
                                                 "started on first use."}}},
}


def canonical_name(kind: str) -> str:
    return f"canonical-{kind}"


def embedded(schema: Any, pointer: str) -> Any:
    """A published schema made to sit at ``pointer`` inside the OpenAPI document.

    Its own references (``#/$defs/Party``) are rewritten to point into that
    place, and its ``$id`` dropped: resolvers differ in whether they honour an
    ``$id`` nested in an OpenAPI document, and a plain pointer works in all.
    """
    if isinstance(schema, dict):
        moved: dict[str, Any] = {}
        for key, value in schema.items():
            if key == "$id":
                moved["$comment"] = f"published as {value}"
            elif key == "$ref" and isinstance(value, str) and value.startswith("#/"):
                moved[key] = f"#{pointer}/{value[2:]}"
            else:
                moved[key] = embedded(value, pointer)
        return moved
    if isinstance(schema, list):
        return [embedded(item, pointer) for item in schema]
    return schema


def canonical_schemas() -> dict[str, Any]:
    """The published canonical schemas (schemas/canonical), keyed by component name."""
    folder = resources.files("schemas") / "canonical"
    schemas: dict[str, Any] = {}
    for kind in schema_kinds():
        name = canonical_name(kind.value)
        published = json.loads((folder / schema_filename(kind)).read_text("utf-8"))
        schemas[name] = embedded(published, f"/components/schemas/{name}")
    return schemas


def any_canonical_document() -> dict[str, Any]:
    """A request body: one canonical document of any kind, told apart by its ``document``."""
    return {"oneOf": [ref(canonical_name(kind.value)) for kind in schema_kinds()]}
