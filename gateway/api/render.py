"""Stored messages as the API shows them."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any

from gateway.store import Attempt, Event, MessageRecord

MESSAGES_PATH = "/api/v1/messages"


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def message_link(message_id: str) -> str:
    return f"{MESSAGES_PATH}/{message_id}"


def submit_answer(record: MessageRecord) -> dict[str, Any]:
    """The body of 202/200 on submit (fixed by the API contract)."""
    return {
        "id": record.id, "business_key": record.business_key, "kind": record.document_kind,
        "agency_oin": record.agency_oin, "channel": record.channel,
        "format": record.format_key, "transport_state": record.transport_state.value,
        "links": {"self": message_link(record.id)},
    }


def summary(record: MessageRecord) -> dict[str, Any]:
    """A message without its timeline or payload: one row of a listing."""
    return {
        "id": record.id, "direction": record.direction.value, "kind": record.document_kind,
        "business_key": record.business_key, "agency_oin": record.agency_oin,
        "channel": record.channel, "format": record.format_key,
        "transport_state": record.transport_state.value,
        "business_state": record.business_state, "attempt_count": record.attempts,
        "max_attempts": record.max_attempts, "transport_id": record.transport_id,
        "last_error": record.last_error, "created_at": _time(record.created_at),
        "updated_at": _time(record.updated_at), "next_attempt_at": _time(record.next_attempt_at),
        "links": {"self": message_link(record.id)},
    }


def event_json(event: Event) -> dict[str, Any]:
    return {
        "seq": event.seq, "at": _time(event.at), "kind": event.kind,
        "transport_state": None if event.transport_state is None else event.transport_state.value,
        "business_state": event.business_state, "detail": event.detail,
    }


def attempt_json(attempt: Attempt) -> dict[str, Any]:
    return {
        "number": attempt.number, "started_at": _time(attempt.started_at),
        "finished_at": _time(attempt.finished_at), "outcome": attempt.outcome.value,
        "code": attempt.code, "detail": attempt.detail, "transport_id": attempt.transport_id,
    }


def canonical(record: MessageRecord) -> Any:
    """The canonical JSON as a value; text that is not JSON (a refused intake) stays text."""
    if record.canonical_json is None:
        return None
    try:
        return json.loads(record.canonical_json)
    except ValueError:
        return record.canonical_json


def detail(
    record: MessageRecord, events: list[Event], attempts: list[Attempt], *,
    include_payload: bool,
) -> dict[str, Any]:
    body = summary(record)
    body.update({
        "transport_ids": list(record.transport_ids), "routing": record.routing,
        "validation": record.validation, "timeline": [event_json(e) for e in events],
        "attempts": [attempt_json(a) for a in attempts],
    })
    if include_payload:
        body["payload"] = (None if record.raw_payload is None
                           else base64.b64encode(record.raw_payload).decode("ascii"))
        body["canonical"] = canonical(record)
    return body


def inbox_item(record: MessageRecord) -> dict[str, Any]:
    return {
        "id": record.id, "kind": record.document_kind, "business_key": record.business_key,
        "agency_oin": record.agency_oin, "channel": record.channel, "format": record.format_key,
        "transport_state": record.transport_state.value, "received_at": _time(record.created_at),
        "canonical": canonical(record), "links": {"self": message_link(record.id)},
    }
