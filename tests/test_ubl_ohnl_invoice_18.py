"""UBL-OHNL 1.8 invoices, and one canonical invoice sent to a 1.8 and a 1.9 agency.

The 1.8 format is the 1.9 mapping with the 1.8 limits (``versions.V1_8``);
these tests check the publisher's 1.8 examples round-trip and that each
release recognises only its own documents.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.formats import Detection, EncodeContext, Format, Sample
from gateway.model import Invoice
from gateway.sniff import Sniffed
from gateway.validation.engine import Validator
from plugins.ubl_ohnl.errors import OhnlDecodeError
from plugins.ubl_ohnl.invoice import OhnlInvoice18, OhnlInvoice19
from plugins.ubl_ohnl.samples import invoice_samples, sample_e_invoice

SHARED = Path(__file__).resolve().parents[2] / "shared" / "standards"
EXAMPLES_18 = SHARED / "ubl-ohnl" / "1.8" / "xml"

V18 = OhnlInvoice18()
V19 = OhnlInvoice19()


def _examples() -> list[Path]:
    return sorted(EXAMPLES_18.glob("UBL-Invoice-*.xml")) if EXAMPLES_18.is_dir() else []


@pytest.fixture(scope="module")
def validator(installed_standards: Path) -> Validator:
    return Validator(installed_standards)


def assert_valid(validator: Validator, fmt: Format, data: bytes) -> None:
    report = validator.validate(data, fmt.layers(), format_key=fmt.key)
    problems = [f for f in report.findings if f.severity.rejects]
    assert not problems, "\n".join(f"{f.layer} {f.location}: {f.text}" for f in problems)


def test_the_1_8_package_has_two_invoice_examples() -> None:
    if not EXAMPLES_18.is_dir():
        pytest.skip(f"{EXAMPLES_18} is not present")
    assert len(_examples()) == 2


@pytest.mark.parametrize("path", _examples(), ids=lambda p: p.name)
def test_1_8_example_round_trips(validator: Validator, path: Path) -> None:
    data = path.read_bytes()
    assert_valid(validator, V18, data)
    assert V18.detect(Sniffed(data)) is Detection.MATCH
    assert V19.detect(Sniffed(data)) is Detection.OTHER_VERSION
    invoice = V18.decode(data).document
    assert isinstance(invoice, Invoice)
    encoded = V18.encode(invoice, EncodeContext())
    assert_valid(validator, V18, encoded)
    assert V18.decode(encoded).document == invoice


@pytest.mark.parametrize("sample", invoice_samples(), ids=lambda s: s.name)
def test_samples_that_fit_1_8_encode_valid(validator: Validator, sample: Sample) -> None:
    encoded = V18.encode(sample.document, sample.context)
    assert_valid(validator, V18, encoded)
    assert V18.decode(encoded).document == sample.document


def test_one_canonical_invoice_goes_to_each_agency_in_its_own_release(
    validator: Validator,
) -> None:
    invoice = sample_e_invoice()
    context = EncodeContext(agency_oin="00000001003227522000")
    for fmt, other in ((V18, V19), (V19, V18)):
        data = fmt.encode(invoice, context)
        assert_valid(validator, fmt, data)
        assert fmt.detect(Sniffed(data)) is Detection.MATCH
        assert other.detect(Sniffed(data)) is Detection.OTHER_VERSION
        with pytest.raises(OhnlDecodeError, match="this format reads version"):
            other.decode(data)
        assert fmt.decode(data).document == invoice
