"""What a validation run found, in a shape every caller can store and print.

Reports cross process boundaries (the validation pool) and end up in the
message store and in API answers, so they are plain frozen values that pickle
and turn into JSON without help.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from typing import Any

import attrs


class Severity(enum.StrEnum):
    FATAL = "fatal"
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rejects(self) -> bool:
        """Whether a finding of this severity makes the document invalid."""
        return self in (Severity.FATAL, Severity.ERROR)

    @property
    def rank(self) -> int:
        """Sort key: the most serious first."""
        return _RANK[self]


_RANK = {Severity.FATAL: 0, Severity.ERROR: 1, Severity.WARNING: 2, Severity.INFO: 3}

PARSE_LAYER = "parse"
"""Layer name of findings about input that could not be parsed at all."""


@attrs.frozen
class Finding:
    """One rule that a document broke, or one thing worth knowing about the run.

    ``layer`` is the name of the :class:`gateway.formats.ValidationLayer` (or
    ``"parse"``); ``rule`` the rule id as its publisher writes it
    (``BR-CO-10``, ``PEPPOL-EN16931-R001``) or, for XSD, the libxml2 error
    type; ``location`` an XPath into the document; ``line`` its line where it
    could be found.
    """

    layer: str
    rule: str
    severity: Severity
    location: str
    line: int | None
    text: str

    def to_json(self) -> dict[str, Any]:
        return {
            "layer": self.layer,
            "rule": self.rule,
            "severity": self.severity.value,
            "location": self.location,
            "line": self.line,
            "text": self.text,
        }

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line is not None else self.location or "document"
        return f"{self.severity.value} {self.layer}/{self.rule} at {where}: {self.text}"


@attrs.frozen
class ValidationReport:
    """The outcome of validating one document against a list of layers.

    ``valid`` is true when no finding is fatal or an error: warnings and
    information never reject a document. ``layers`` names the layers that
    actually ran, in order.
    """

    format_key: str | None
    valid: bool
    findings: tuple[Finding, ...]
    layers: tuple[str, ...]

    @classmethod
    def of(
        cls, findings: Iterable[Finding], layers: Iterable[str], format_key: str | None = None,
    ) -> ValidationReport:
        """A report whose verdict follows from its findings."""
        found = tuple(findings)
        return cls(
            format_key=format_key,
            valid=not any(f.severity.rejects for f in found),
            findings=found,
            layers=tuple(layers),
        )

    @property
    def errors(self) -> tuple[Finding, ...]:
        """The findings that reject the document (fatal and error)."""
        return tuple(f for f in self.findings if f.severity.rejects)

    @property
    def warnings(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity is Severity.WARNING)

    def by_severity(self) -> tuple[Finding, ...]:
        """The findings, the most serious first, otherwise in document order."""
        return tuple(sorted(self.findings, key=lambda f: f.severity.rank))

    def rules(self, layer: str | None = None) -> frozenset[str]:
        """The rule ids found, optionally for one layer only."""
        return frozenset(f.rule for f in self.findings if layer is None or f.layer == layer)

    def summary(self) -> str:
        """``valid`` / ``invalid`` with the counts, for one-line verdicts."""
        errors, warnings = len(self.errors), len(self.warnings)
        verdict = "valid" if self.valid else "invalid"
        parts = []
        if errors:
            parts.append(f"{errors} error{'s' if errors != 1 else ''}")
        if warnings:
            parts.append(f"{warnings} warning{'s' if warnings != 1 else ''}")
        return f"{verdict} ({', '.join(parts)})" if parts else verdict

    def to_json(self) -> dict[str, Any]:
        return {
            "format": self.format_key,
            "valid": self.valid,
            "layers": list(self.layers),
            "findings": [f.to_json() for f in self.findings],
        }
