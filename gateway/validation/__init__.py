"""Validating documents against the official XSD and Schematron artifacts.

``validate_with_format`` and :class:`Validator` validate in this process;
:class:`ValidationPool` spreads the work over processes for the event loop
and for bulk runs.
"""

from gateway.validation.engine import (
    LayerSelectionError,
    Validator,
    select_layers,
    validate_with_format,
    validator_for,
)
from gateway.validation.pool import ValidationPool
from gateway.validation.report import Finding, Severity, ValidationReport

__all__ = [
    "Finding",
    "LayerSelectionError",
    "Severity",
    "ValidationPool",
    "ValidationReport",
    "Validator",
    "select_layers",
    "validate_with_format",
    "validator_for",
]
