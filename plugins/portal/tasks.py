"""A portal task as read from the message store.

The work queue is the portal channel's own outbound messages: a task is one
message, its id the transport id ``send`` returned. Its state follows from the
message's timeline, read in order, so a task cancelled and then re-queued by
an operator is open again:

- a ``sent`` event opens the task;
- a ``status`` event with code ``portal-submitted`` closes it as submitted
  (detail: ``reference``, ``by``);
- a ``status`` event with code ``portal-cancelled`` closes it as cancelled
  (detail: ``reason``, ``by``).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

import attrs

from gateway.pipeline.keys import number_from_key
from gateway.store import Event, MessageRecord

OPEN = "open"
SUBMITTED = "submitted"
CANCELLED = "cancelled"
STATES = (OPEN, SUBMITTED, CANCELLED)

SUBMITTED_CODE = "portal-submitted"
CANCELLED_CODE = "portal-cancelled"

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(text: str | float | int, key: str) -> timedelta:
    """``"3d"``, ``"12h"``, ``"30m"`` or a number of seconds; anything else names ``key``."""
    if isinstance(text, int | float) and not isinstance(text, bool):
        return timedelta(seconds=float(text))
    match = _DURATION.match(str(text))
    if match is None:
        raise ValueError(f"{key} = {text!r}: expected a duration such as \"3d\", \"12h\" or "
                         "\"30m\" (s, m, h, d, w)")
    return timedelta(**{_UNITS[match.group(2)]: float(match.group(1))})


@attrs.frozen
class Task:
    id: str
    message_id: str
    state: str
    agency_oin: str | None
    kind: str | None
    document_number: str | None
    format_key: str | None
    opened_at: datetime | None
    closed_at: datetime | None = None
    closed_by: str | None = None
    reference: str | None = None
    reason: str | None = None

    def age(self, now: datetime) -> timedelta | None:
        return None if self.opened_at is None else now - self.opened_at

    def to_dict(self) -> dict[str, Any]:
        data = attrs.asdict(self)
        for name in ("opened_at", "closed_at"):
            value = getattr(self, name)
            data[name] = None if value is None else value.isoformat()
        return data


def task_from(record: MessageRecord, events: list[Event]) -> Task | None:
    """The task a message stands for, or None if it never reached the portal queue."""
    if record.transport_id is None:
        return None
    state: str | None = None
    fields: dict[str, Any] = {}
    for event in events:
        if event.kind == "sent":
            state = OPEN
            fields = {"opened_at": event.at}
        elif event.kind == "status" and event.detail.get("code") == SUBMITTED_CODE:
            state = SUBMITTED
            fields.update(closed_at=event.at, closed_by=event.detail.get("by"),
                          reference=event.detail.get("reference"))
        elif event.kind == "status" and event.detail.get("code") == CANCELLED_CODE:
            state = CANCELLED
            fields.update(closed_at=event.at, closed_by=event.detail.get("by"),
                          reason=event.detail.get("reason"))
    if state is None:
        return None
    return Task(
        id=record.transport_id, message_id=record.id, state=state,
        agency_oin=record.agency_oin, kind=record.document_kind,
        document_number=number_from_key(record.business_key) if record.business_key else None,
        format_key=record.format_key, **fields,
    )
