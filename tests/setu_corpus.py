"""The SETU-OHNL formats under test and the published examples each reads (shared by tests)."""

from __future__ import annotations

from pathlib import Path

from gateway.formats import Format
from gateway.validation.engine import Validator
from gateway.validation.report import Severity
from plugins.setu_ohnl.humanresource import SetuHumanResource20
from plugins.setu_ohnl.invoice import SetuInvoice20
from plugins.setu_ohnl.staffingorder import SetuStaffingOrder20
from plugins.setu_ohnl.timecard import SetuTimeCard20

SHARED = Path(__file__).resolve().parents[2] / "shared" / "standards" / "hr-xml-ohnl"
RELEASES = ("ohnl-2.0", "ohnl-2.0.3-update")

FORMATS: dict[str, Format] = {
    "TimeCard": SetuTimeCard20(),
    "Invoice": SetuInvoice20(),
    "StaffingOrder": SetuStaffingOrder20(),
    "HumanResource": SetuHumanResource20(),
}
"""File name part of the examples → the format that reads them."""


def _examples() -> list[tuple[str, Path]]:
    found = []
    for release in RELEASES:
        folder = SHARED / release / "xml"
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.xml")):
            for part in FORMATS:
                if part.lower() in path.name.lower():
                    found.append((part, path))
    return found


EXAMPLES = _examples()


def rule_errors(validator: Validator, fmt: Format, data: bytes) -> list[str]:
    """What the official XSD and Schematron of ``fmt`` refuse in ``data``, layer by layer."""
    report = validator.validate(data, fmt.layers(), format_key=fmt.key)
    return [f"{f.layer}: {f.text}" for f in report.findings
            if f.severity in {Severity.FATAL, Severity.ERROR}]
