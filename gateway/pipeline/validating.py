"""What the pipeline needs from validation: an awaitable check that keeps the loop free."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from gateway.formats import ValidationLayer
from gateway.validation.report import ValidationReport


class DocumentValidator(Protocol):
    """Anything validating like :class:`gateway.validation.pool.ValidationPool` does."""

    async def validate(
        self, data: bytes, layers: Sequence[ValidationLayer], format_key: str | None = None,
    ) -> ValidationReport: ...


async def validate_payload(
    validator: DocumentValidator, data: bytes, layers: Sequence[ValidationLayer],
    format_key: str,
) -> ValidationReport:
    """The report for ``data``; a format without layers is valid without starting a worker."""
    if not layers:
        return ValidationReport.of((), (), format_key)
    return await validator.validate(data, layers, format_key)
