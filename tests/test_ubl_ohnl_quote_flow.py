"""UBL-OHNL 1.8 quote flow: RequestForQuotation, Quotation, RequestForQuotationCancellation.

Every published 1.8 example of both validates as published, is detected as
1.8, decodes, and re-encodes to a valid document that decodes to the same
canonical document. 1.9 has no quote flow, so a 1.9-stamped document is
another version to these formats.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import attrs
import pytest

from gateway.errors import GatewayError
from gateway.formats import Detection, EncodeContext, Format, Sample
from gateway.model import (
    Delivery,
    DocumentReference,
    Period,
    Quotation,
    RequestForQuotation,
    RequestForQuotationCancellation,
)
from gateway.sniff import Sniffed
from gateway.validation.engine import Validator
from plugins.ubl_ohnl.errors import OhnlDecodeError, OhnlEncodeError
from plugins.ubl_ohnl.quotation import OhnlQuotation18
from plugins.ubl_ohnl.quote_cancellation import OhnlRfqCancellation18
from plugins.ubl_ohnl.rfq import OhnlRequestForQuotation18
from plugins.ubl_ohnl.samples import (
    quotation_samples,
    rfq_cancellation_samples,
    rfq_samples,
    sample_quotation,
    sample_rfq,
    sample_rfq_cancellation,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "shared" / "standards" / "ubl-ohnl" / "1.8" \
    / "xml"
RFQ = OhnlRequestForQuotation18()
RFQC = OhnlRfqCancellation18()
QUOTATION = OhnlQuotation18()


def _examples(pattern: str) -> list[Path]:
    return sorted(EXAMPLES.glob(pattern)) if EXAMPLES.is_dir() else []


@pytest.fixture(scope="module")
def validator(installed_standards: Path) -> Validator:
    return Validator(installed_standards)


def assert_valid(validator: Validator, fmt: Format, data: bytes) -> None:
    report = validator.validate(data, fmt.layers(), format_key=fmt.key)
    problems = [f for f in report.findings if f.severity.rejects]
    assert not problems, "\n".join(f"{f.layer} {f.location}: {f.text}" for f in problems)


def test_the_package_has_two_examples_of_each() -> None:
    if not EXAMPLES.is_dir():
        pytest.skip(f"{EXAMPLES} is not present")
    assert len(_examples("UBL-RFQ-*.xml")) == 2
    assert len(_examples("UBL-RFQC-*.xml")) == 2
    assert len(_examples("UBL-Quotation-*.xml")) == 2


@pytest.mark.parametrize(("fmt", "path"), [
    *((RFQ, p) for p in _examples("UBL-RFQ-*.xml")),
    *((RFQC, p) for p in _examples("UBL-RFQC-*.xml")),
    *((QUOTATION, p) for p in _examples("UBL-Quotation-*.xml")),
], ids=lambda v: v.name if isinstance(v, Path) else v.key)
def test_example_round_trips(validator: Validator, fmt: Format, path: Path) -> None:
    data = path.read_bytes()
    assert_valid(validator, fmt, data)
    assert fmt.detect(Sniffed(data)) is Detection.MATCH
    stamped_1_9 = data.replace(b"<cbc:CustomizationID>1.8<", b"<cbc:CustomizationID>1.9<")
    assert fmt.detect(Sniffed(stamped_1_9)) is Detection.OTHER_VERSION
    with pytest.raises(OhnlDecodeError, match=r"UBL-OHNL 1\.9 .* reads version 1\.8"):
        fmt.decode(stamped_1_9)
    document = fmt.decode(data).document
    encoded = fmt.encode(document, EncodeContext())
    assert_valid(validator, fmt, encoded)
    again = fmt.decode(encoded)
    assert again.document == document


@pytest.mark.parametrize(("fmt", "sample"), [
    *((RFQ, s) for s in rfq_samples()), *((RFQC, s) for s in rfq_cancellation_samples()),
    *((QUOTATION, s) for s in quotation_samples()),
], ids=lambda v: getattr(v, "name", getattr(v, "key", "")))
def test_samples_encode_valid(validator: Validator, fmt: Format, sample: Sample) -> None:
    encoded = fmt.encode(sample.document, sample.context)
    assert_valid(validator, fmt, encoded)
    decoded = fmt.decode(encoded)
    assert decoded.document == sample.document
    assert decoded.warnings == ()


def test_rfq_example_reads_the_nl_extensions() -> None:
    decoded = RFQ.decode((EXAMPLES / "UBL-RFQ-Example08.xml").read_bytes())
    rfq = decoded.document
    assert isinstance(rfq, RequestForQuotation)
    assert rfq.negotiation_style == "E"
    assert rfq.requested_validity is not None
    assert rfq.requested_validity.end == dt.date(2011, 12, 31)
    assert any("nl-cbc:AwardDate: not mapped" in w for w in decoded.warnings)
    assert any("no Name; 'myart10'" in w for w in decoded.warnings)


def test_cancellation_example_names_the_quotation() -> None:
    doc = RFQC.decode((EXAMPLES / "UBL-RFQC-Example17.xml").read_bytes()).document
    assert isinstance(doc, RequestForQuotationCancellation)
    assert doc.quotation_reference == "55889"
    assert doc.rfq_reference is None
    assert doc.reason == "te duur"


@pytest.mark.parametrize(("document", "message"), [
    (attrs.evolve(sample_rfq(), notes=("a", "b")), "at most 1 note"),
    (attrs.evolve(sample_rfq(), accounting_cost="X"), "on its lines only"),
    (attrs.evolve(sample_rfq(), negotiation_style="X"), "E \\(enkelvoudig\\)"),
    (attrs.evolve(sample_rfq(), seller=attrs.evolve(sample_rfq().seller, address=None)),
     "postal address"),
    (attrs.evolve(sample_rfq(), buyer=attrs.evolve(sample_rfq().buyer, contact=None)),
     "buyer's contact"),
    (attrs.evolve(sample_rfq_cancellation(), rfq_reference="OAU-1"), "not both"),
    (attrs.evolve(sample_quotation(), validity_period=None), "ValidityPeriod with an end"),
    (attrs.evolve(sample_quotation(), lines=(
        attrs.evolve(sample_quotation().lines[0], rfq_line_reference="another-line"),)),
     "no element for the request line"),
    (attrs.evolve(sample_quotation(), lines=(
        attrs.evolve(sample_quotation().lines[0], delivery=None),
        sample_quotation().lines[1])), "never mixed or missing"),
    (attrs.evolve(sample_quotation(), lines=(
        attrs.evolve(sample_quotation().lines[0], delivery=Delivery(
            period=Period(end=dt.date(2024, 2, 20)), address=sample_quotation().seller.address)),
        sample_quotation().lines[1])), "delivery party"),
    (attrs.evolve(sample_rfq(), lines=(attrs.evolve(sample_rfq().lines[0], references=(
        DocumentReference(id="CONTRACT-1"),)),)),
     r"RequestForQuotation\.lines\[0\]\.references\[0\]\.type_code: UBL-OHNL requires"),
    (attrs.evolve(sample_quotation(), lines=(attrs.evolve(sample_quotation().lines[0], references=(
        DocumentReference(id="CONTRACT-1", type_code="Contract"), DocumentReference(id="X"))),
        sample_quotation().lines[1])), r"references\[1\]\.type_code: UBL-OHNL requires"),
])
def test_encoding_refuses_what_ohnl_forbids(document: object, message: str) -> None:
    fmt: Format = RFQ if isinstance(document, RequestForQuotation) else (
        QUOTATION if isinstance(document, Quotation) else RFQC)
    with pytest.raises(OhnlEncodeError, match=message):
        fmt.encode(document, EncodeContext())


@pytest.mark.parametrize("fmt", [RFQ, RFQC, QUOTATION], ids=lambda f: f.key)
@pytest.mark.parametrize("data", [
    b"", b"not xml at all", b"<RequestForQuotation/>",
    b'<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>', b"<a>" * 3000,
], ids=range(5))
def test_hostile_input_is_refused(fmt: Format, data: bytes) -> None:
    with pytest.raises(GatewayError):
        fmt.decode(data)


def test_quotation_example_keeps_its_lines_and_warns_about_the_rest() -> None:
    decoded = QUOTATION.decode((EXAMPLES / "UBL-Quotation-Example13.xml").read_bytes())
    quotation = decoded.document
    assert isinstance(quotation, Quotation)
    assert quotation.rfq_reference == "OAU123456"
    assert quotation.validity_period is not None
    assert quotation.validity_period.end == dt.date(2011, 3, 12)
    assert any("SellerProposedSubstituteLineItem: not mapped" in w for w in decoded.warnings)
    assert any("not VAT (tax scheme Toeslag)" in w for w in decoded.warnings)
