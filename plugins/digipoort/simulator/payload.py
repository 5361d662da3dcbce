"""Checking an aanlevering's payload against the format of its berichtsoort.

Uses the gateway's own registry and validation engine, as ``gateway validate``
does: detect the format, check it belongs to the berichtsoort (e.g.
FACTUUR-UBL wants ``ubl-ohnl:invoice:*``), then run its XSD and Schematron
layers. The verdict is either None (valid) or the text for statusdetails: the
first findings, each with rule and line.
"""

from __future__ import annotations

from pathlib import Path

from gateway.errors import GatewayError
from gateway.registry import Registry
from gateway.validation import validator_for

from ..wus.berichtsoorten import Berichtsoort

MAX_FINDINGS = 5


def check_payload(
    registry: Registry, standards: Path, berichtsoort: Berichtsoort, data: bytes
) -> str | None:
    """None when ``data`` is a valid document of ``berichtsoort``, else what is wrong."""
    try:
        fmt = registry.detect(data).format
    except GatewayError as exc:
        return f"het bericht is geen bekend formaat: {exc}"
    if not berichtsoort.matches_format(fmt.key):
        return (
            f"berichtsoort {berichtsoort.name} verwacht {berichtsoort.format_prefix}, "
            f"het bericht is {fmt.key}"
        )
    validator = validator_for(standards, registry.manifest)
    report = validator.validate(data, fmt.layers(), format_key=fmt.key)
    if report.valid:
        return None
    lines = []
    for finding in report.errors[:MAX_FINDINGS]:
        where = f" (regel {finding.line})" if finding.line is not None else ""
        lines.append(f"{finding.layer}/{finding.rule}{where}: {finding.text}")
    more = len(report.errors) - MAX_FINDINGS
    if more > 0:
        lines.append(f"... en nog {more} bevindingen")
    return f"{fmt.key}: " + "; ".join(lines)
