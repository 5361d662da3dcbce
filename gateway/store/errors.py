"""Why the store refused something, as exceptions a caller can tell apart."""

from __future__ import annotations

from gateway.errors import GatewayError


class StoreError(GatewayError):
    """The database cannot be opened, migrated or used."""


class SchemaError(StoreError):
    """The database schema is not one this code can work with (newer, or altered)."""


class MessageNotFound(StoreError):
    def __init__(self, message_id: str) -> None:
        self.message_id = message_id
        super().__init__(f"no message with id {message_id}")


class ClaimLost(StoreError):
    """The caller no longer holds the claim: its lease expired and another worker took over.

    The caller's result must be dropped; the new owner will send again under
    the same transport id.
    """

    def __init__(self, message_id: str, expected: str, actual: str | None) -> None:
        self.message_id = message_id
        self.expected = expected
        self.actual = actual
        owner = f"is now claimed by {actual}" if actual else "is no longer claimed"
        super().__init__(f"message {message_id} was claimed by {expected} but {owner}")


class TimelineMoved(StoreError):
    """The message's timeline has grown since the caller read it, so its decision is stale.

    The caller read the message, decided on what it saw, and asked for the
    change only if nothing had happened to the message since; something had.
    It reads the message again and decides anew.
    """

    def __init__(self, message_id: str, expected: int, actual: int) -> None:
        self.message_id = message_id
        self.expected = expected
        self.actual = actual
        super().__init__(f"message {message_id} changed meanwhile: its timeline is at event "
                         f"{actual}, the change was decided at event {expected}")


class InvalidTransition(StoreError):
    def __init__(self, message_id: str, current: str, target: str, reason: str = "") -> None:
        self.message_id = message_id
        self.current = current
        self.target = target
        why = f": {reason}" if reason else ""
        super().__init__(f"message {message_id} cannot go from {current} to {target}{why}")


class DuplicateBusinessKey(StoreError):
    """Another live message in the same direction already has this business key."""

    def __init__(self, direction: str, business_key: str) -> None:
        self.direction = direction
        self.business_key = business_key
        super().__init__(f"an {direction} message with business key {business_key!r} exists")
