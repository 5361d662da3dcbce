"""Delivery status notifications (RFC 3464) dropped into a folder, read as statuses.

Reading a bounce mailbox over IMAP is not built in: whatever fetches the
bounces (a mail rule, fetchmail, a person) saves each as an ``.eml`` file in
the channel's ``bounce_dir``. Each DSN names our message by the original
Message-ID, in its ``text/rfc822-headers`` or ``message/rfc822`` part; that
is the transport id the channel's ``send`` returned.
"""

from __future__ import annotations

import email
import email.policy
from email.message import Message

import attrs


class NotABounce(ValueError):
    """The file is not a delivery status notification we can read."""


@attrs.frozen
class Bounce:
    original_message_id: str
    action: str
    status: str
    diagnostic: str
    recipient: str

    @property
    def failed(self) -> bool:
        return self.action == "failed"


def read_bounce(data: bytes) -> Bounce:
    """The worst recipient outcome in a multipart/report DSN (failed, then delayed)."""
    mail = email.message_from_bytes(data, policy=email.policy.compat32)
    if mail.get_content_type() != "multipart/report":
        raise NotABounce(f"content type {mail.get_content_type()}, not multipart/report")
    original: str | None = None
    fields: Message | None = None
    for part in mail.walk():
        ctype = part.get_content_type()
        if ctype == "message/delivery-status":
            blocks = part.get_payload()
            # Block 0: per-message fields; then one per recipient. The recipient with the
            # worst outcome speaks for the message: failed, then delayed, then the rest.
            recipients = [b for b in (blocks[1:] if isinstance(blocks, list) else [])
                          if isinstance(b, Message)]
            if recipients:
                fields = min(recipients, key=_severity)
        elif ctype in ("text/rfc822-headers", "message/rfc822") and original is None:
            original = _original_id(part)
    if fields is None:
        raise NotABounce("no per-recipient block in a message/delivery-status part")
    if not original:
        raise NotABounce("the report quotes no Message-ID of the original message")
    return Bounce(
        original_message_id=original,
        action=str(fields.get("Action", "")).strip().lower(),
        status=str(fields.get("Status", "")).strip(),
        diagnostic=" ".join(str(fields.get("Diagnostic-Code", "")).split()),
        recipient=str(fields.get("Final-Recipient", fields.get("Original-Recipient", "")))
        .partition(";")[2].strip(),
    )


_ORDER = {"failed": 0, "delayed": 1}


def _severity(block: Message) -> int:
    return _ORDER.get(str(block.get("Action", "")).strip().lower(), 2)


def _original_id(part: Message) -> str | None:
    if part.get_content_type() == "message/rfc822":
        inner = part.get_payload()
        if isinstance(inner, list) and inner and isinstance(inner[0], Message):
            value = inner[0].get("Message-ID")
            return None if value is None else str(value).strip()
        return None
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return None
    headers = email.message_from_bytes(payload, policy=email.policy.compat32)
    value = headers.get("Message-ID")
    return None if value is None else str(value).strip()
