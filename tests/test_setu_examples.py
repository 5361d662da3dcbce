"""SETU-OHNL 2.0: every published example decodes, re-encodes valid, and round-trips.

The examples of the 2.0 package and of the 2.0.3 update (the same messages,
re-saved; 2.0.3 added only Assignment specifications) are all valid as
published. For each: decode, encode the canonical document again, validate
that (XSD + Schematron, nothing fatal or error) and decode it back to the
same canonical document. What the first decode could not map is in its
warnings; the round trip is compared through the canonical model, so fields
the model does not hold (listed in each format's module docstring) are not
compared.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from setu_corpus import EXAMPLES, FORMATS, SHARED

from gateway.formats import EncodeContext, Format
from gateway.validation.engine import Validator
from gateway.validation.report import Severity


@pytest.fixture(scope="module")
def validator(installed_standards: Path) -> Validator:
    return Validator(installed_standards)


def _errors(validator: Validator, data: bytes, fmt: Format) -> list[str]:
    report = validator.validate(data, fmt.layers(), format_key=fmt.key)
    return [
        f"{f.layer} {f.rule}: {f.text}" for f in report.findings
        if f.severity in {Severity.FATAL, Severity.ERROR}
    ]


def test_every_message_has_examples() -> None:
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} is not present")
    found = {part for part, _ in EXAMPLES}
    assert found == set(FORMATS)


@pytest.mark.parametrize(
    ("part", "path"), EXAMPLES, ids=[f"{p.parent.parent.name}/{p.name}" for _, p in EXAMPLES]
)
def test_example_round_trips_valid(validator: Validator, part: str, path: Path) -> None:
    fmt = FORMATS[part]
    data = path.read_bytes()
    assert _errors(validator, data, fmt) == [], "the published example should be valid"
    decoded = fmt.decode(data)
    encoded = fmt.encode(decoded.document, EncodeContext())
    assert _errors(validator, encoded, fmt) == []
    again = fmt.decode(encoded)
    assert again.document == decoded.document
    # Our own documents map completely; only the example's own arithmetic
    # findings (EBF_Invoice's totals do not add up) come back.
    arithmetic = tuple(w for w in decoded.warnings if w.startswith("arithmetic"))
    assert again.warnings == arithmetic


@pytest.mark.parametrize("fmt", list(FORMATS.values()), ids=lambda f: f.key)
def test_samples_encode_valid(validator: Validator, fmt: Format) -> None:
    samples = fmt.samples()
    assert samples
    for sample in samples:
        encoded = fmt.encode(sample.document, sample.context)
        assert _errors(validator, encoded, fmt) == [], sample.name
        decoded = fmt.decode(encoded)
        assert decoded.document == sample.document, sample.name
        assert decoded.warnings == (), sample.name
