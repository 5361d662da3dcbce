"""Why the pipeline refused a document, as errors an API can turn into a 4xx."""

from __future__ import annotations

from collections.abc import Sequence

from gateway.channels import DocumentRefused
from gateway.errors import GatewayError
from gateway.store import MessageRecord


class PipelineError(GatewayError):
    """A document or an operator request the pipeline cannot act on."""


class DocumentRejected(PipelineError):
    """A submitted document failed a check; it is stored as ``rejected`` under ``message_id``.

    ``stage`` is the step that refused it (intake, check, route, encode,
    validate); ``rules`` the rule ids broken, where the check has them, so an
    ERP can show its user which rule to fix.
    """

    def __init__(
        self, stage: str, reason: str, *, message_id: str | None = None,
        rules: Sequence[str] = (), details: Sequence[tuple[str, str, str | None]] = (),
    ) -> None:
        self.stage = stage
        self.reason = reason
        self.message_id = message_id
        self.rules = tuple(rules)
        # (rule, what is wrong, canonical JSON path or None) for each broken rule, when
        # the check knows them apart.
        self.details = tuple(details)
        stored = f" (stored as rejected message {message_id})" if message_id else ""
        super().__init__(f"{stage}: {reason}{stored}")


class NumberTaken(PipelineError):
    """Another document under the business key of a live message; nothing is stored.

    ``existing`` is that message, ``number`` the document number and ``field``
    the canonical JSON field that holds it. A repeat of the same document is no
    error: intake answers it with the stored message.
    """

    def __init__(self, existing: MessageRecord, number: str, field: str) -> None:
        self.existing = existing
        self.number = number
        self.field = field
        super().__init__(
            f"a different {existing.document_kind} with number {number!r} is stored for agency "
            f"{existing.agency_oin} as message {existing.id} "
            f"({existing.transport_state.value})")


class DocumentTooLarge(PipelineError, DocumentRefused):
    """A document above the configured size limit; refused before anything is stored."""


class OperatorActionError(PipelineError):
    """An operator action that does not fit the message's current state."""
