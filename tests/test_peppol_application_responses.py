"""Peppol Invoice Response (T111) and Message Level Response (T71) against the publisher's files.

Every published example, use case and snippet of the two transactions must
be recognised, decode without unmapped leftovers, re-encode valid (UBL 2.1
XSD and the compiled T111/T71 rules) and decode again to the same canonical
document. The T111 VEFA unit tests run rule by rule as the ordering ones do.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import attrs
import pytest

from gateway.errors import GatewayError
from gateway.formats import Detection, EncodeContext, Format
from gateway.model import (
    DocumentReference,
    InvoiceResponse,
    InvoiceStatus,
    MessageLevelResponse,
    MessageStatus,
    Party,
    PartyId,
)
from gateway.model.json import from_json, to_json
from gateway.pluginmanager import build_registry, make_plugin_manager
from gateway.sniff import Sniffed
from gateway.validation import Validator, validator_for
from plugins.ubl_ordering.formats import (
    T111_LAYER,
    PeppolInvoiceResponse,
    PeppolMessageLevelResponse,
    PeppolOrderResponse,
)
from plugins.ubl_ordering.samples import invoice_response, sample_message_responses
from validation_layers import SHARED_STANDARDS
from vefa import UnitCase, check_case, read_test_set

ORDERING = SHARED_STANDARDS / "peppol-bis-ordering-3"
INVOICE_RESPONSE = PeppolInvoiceResponse()
MLR = PeppolMessageLevelResponse()
NO_CONTEXT = EncodeContext()


def _published() -> list[tuple[str, bytes]]:
    if not ORDERING.is_dir():
        return []
    paths = [ORDERING / "examples" / "InvoiceResponse_Example.xml",
             ORDERING / "examples" / "MessageLevelResponse_Example.xml",
             *sorted((ORDERING / "examples" / "Invoice reponse use cases").glob("*.xml")),
             *sorted((ORDERING / "snippets" / "mlr").glob("*.xml"))]
    return [(str(path.relative_to(ORDERING)), path.read_bytes()) for path in paths]


PUBLISHED = _published()


def _format_of(data: bytes) -> Format:
    matches = [fmt for fmt in (INVOICE_RESPONSE, MLR)
               if fmt.detect(Sniffed(data)) is Detection.MATCH]
    assert len(matches) == 1, matches
    return matches[0]


@pytest.fixture(scope="module")
def validator(installed_standards: Path) -> Validator:
    validator = validator_for(installed_standards)
    validator.prepare([*INVOICE_RESPONSE.layers(), *MLR.layers()])
    return validator


def _assert_valid(validator: Validator, fmt: Format, data: bytes) -> None:
    report = validator.validate(data, fmt.layers(), format_key=fmt.key)
    assert report.valid, [str(f) for f in report.findings]
    assert not report.warnings, [str(f) for f in report.warnings]


def test_every_published_response_is_there_and_recognised() -> None:
    if not PUBLISHED:
        pytest.skip(f"{ORDERING} is not present")
    keys = [_format_of(data).key for _, data in PUBLISHED]
    # The base example and 13 use cases of T111; the base example and 3 snippets of T71.
    assert keys.count(INVOICE_RESPONSE.key) == 14
    assert keys.count(MLR.key) == 4


@pytest.mark.parametrize(("name", "data"), PUBLISHED, ids=[name for name, _ in PUBLISHED])
def test_published_response_round_trips_and_re_encodes_valid(
    validator: Validator, name: str, data: bytes,
) -> None:
    fmt = _format_of(data)
    decoded = fmt.decode(data)
    assert decoded.warnings == (), "every element of the published file has a place"
    encoded = fmt.encode(decoded.document, NO_CONTEXT)
    assert fmt.decode(encoded).document == decoded.document
    _assert_valid(validator, fmt, encoded)


@pytest.mark.parametrize("fmt", [INVOICE_RESPONSE, MLR], ids=lambda f: f.key)
def test_samples_encode_valid_and_round_trip(validator: Validator, fmt: Format) -> None:
    for sample in fmt.samples():
        encoded = fmt.encode(sample.document, sample.context)
        _assert_valid(validator, fmt, encoded)
        assert fmt.decode(encoded).document == sample.document, sample.name
        # The canonical JSON holds the same document.
        assert from_json(to_json(sample.document)) == sample.document


def test_the_base_invoice_response_maps_every_field() -> None:
    data = (ORDERING / "examples" / "InvoiceResponse_Example.xml")
    if not data.is_file():
        pytest.skip(f"{data} is not present")
    response = INVOICE_RESPONSE.decode(data.read_bytes()).document
    assert isinstance(response, InvoiceResponse)
    assert response.status is InvoiceStatus.REJECTED
    assert response.invoice_reference == DocumentReference(
        id="inv021", type_code="380", issue_date=dt.date(2018, 9, 22))
    assert response.effective_date == dt.date(2018, 9, 24)
    [clarification] = response.clarifications
    assert (clarification.code, clarification.code_list, clarification.text) == (
        "NOA", "OPStatusAction", "VAT Reference not found")
    assert [(c.attribute_id, c.description) for c in clarification.conditions] == [
        ("BT-48", "EU123456789")]
    assert response.sender.endpoint_id == PartyId(scheme="0088", value="5798000012349")
    assert response.sender.contact is not None
    assert response.sender.contact.name == "Jens Jensen"
    assert response.receiver.registration_name == "Seller company"
    assert response.issuer is not None
    assert response.issuer.name == "Test Company AS"


def test_the_base_mlr_maps_its_line_responses() -> None:
    path = ORDERING / "examples" / "MessageLevelResponse_Example.xml"
    if not path.is_file():
        pytest.skip(f"{path} is not present")
    response = MLR.decode(path.read_bytes()).document
    assert isinstance(response, MessageLevelResponse)
    assert response.status is MessageStatus.REJECTED
    assert response.document_reference.id == "EnvelopeID-12456789"
    assert response.document_version == "2"
    [line] = response.line_responses
    assert line.location.startswith("/Catalogue/cac:CatalogueLine[3]")
    assert (line.reason_code, line.status) == ("BV", MessageStatus.REJECTED)
    assert "CL-T77-R002" in line.description


def test_the_two_responses_and_the_order_response_tell_each_other_apart() -> None:
    ir = INVOICE_RESPONSE.encode(invoice_response(InvoiceStatus.ACCEPTED), NO_CONTEXT)
    mlr = MLR.encode(sample_message_responses()[0][1], NO_CONTEXT)
    assert MLR.detect(Sniffed(ir)) is Detection.NO
    assert INVOICE_RESPONSE.detect(Sniffed(mlr)) is Detection.NO
    assert PeppolOrderResponse().detect(Sniffed(ir)) is Detection.NO
    newer = ir.replace(b"trns:invoice_response:3", b"trns:invoice_response:4")
    assert INVOICE_RESPONSE.detect(Sniffed(newer)) is Detection.OTHER_VERSION
    registry = build_registry(make_plugin_manager())
    assert registry.detect(ir).format.key == "peppol-bis:invoice-response:3"
    assert registry.detect(mlr).format.key == "peppol-bis:mlr:3"


def test_a_query_without_a_reason_is_refused_naming_the_rule() -> None:
    queried = attrs.evolve(invoice_response(InvoiceStatus.UNDER_QUERY), clarifications=())
    with pytest.raises(GatewayError, match="PEPPOL-T111-R001"):
        INVOICE_RESPONSE.encode(queried, NO_CONTEXT)


def test_what_t111_cannot_carry_is_refused_not_dropped() -> None:
    response = invoice_response(InvoiceStatus.ACCEPTED)
    no_address = attrs.evolve(response, sender=attrs.evolve(response.sender, endpoint_id=None))
    with pytest.raises(GatewayError, match="sender needs an electronic address"):
        INVOICE_RESPONSE.encode(no_address, NO_CONTEXT)
    with_vat = attrs.evolve(response, receiver=attrs.evolve(response.receiver, vat_id="NL1B01"))
    with pytest.raises(GatewayError, match="VAT id, which T111 cannot carry"):
        INVOICE_RESPONSE.encode(with_vat, NO_CONTEXT)
    untyped = attrs.evolve(response, invoice_reference=DocumentReference(id="F-1"))
    with pytest.raises(GatewayError, match="type code"):
        INVOICE_RESPONSE.encode(untyped, NO_CONTEXT)


def test_what_t71_cannot_carry_is_refused_not_dropped() -> None:
    response = sample_message_responses()[0][1]
    named = attrs.evolve(response, sender=Party(name="Agency", endpoint_id=PartyId(
        scheme="0190", value="00000001003227522000")))
    with pytest.raises(GatewayError, match="only its electronic address"):
        MLR.encode(named, NO_CONTEXT)


def test_each_format_refuses_the_other_document() -> None:
    with pytest.raises(GatewayError, match="writes invoice responses"):
        INVOICE_RESPONSE.encode(sample_message_responses()[0][1], NO_CONTEXT)
    with pytest.raises(GatewayError, match="writes message level responses"):
        MLR.encode(invoice_response(InvoiceStatus.PAID), NO_CONTEXT)


def test_a_missing_response_code_names_the_element() -> None:
    data = INVOICE_RESPONSE.encode(invoice_response(InvoiceStatus.ACCEPTED), NO_CONTEXT)
    broken = data.replace(b"<cbc:ResponseCode>AP</cbc:ResponseCode>",
                          b"<cbc:ResponseCode>ZZ</cbc:ResponseCode>")
    with pytest.raises(GatewayError, match=r"DocumentResponse/cac:Response/cbc:ResponseCode"):
        INVOICE_RESPONSE.decode(broken)


# -- the T111 unit tests ------------------------------------------------------------------------

UNIT_TESTS = ORDERING / "unit-tests" / "unit-invoice-response"


def _cases() -> list[UnitCase]:
    cases = []
    for path in sorted(UNIT_TESTS.glob("*.xml")) if UNIT_TESTS.is_dir() else []:
        cases += read_test_set(path, layers={"peppolbis-t111-base-3.0": T111_LAYER})
    return cases


CASES = _cases()


def test_the_t111_unit_tests_are_all_there() -> None:
    if not UNIT_TESTS.is_dir():
        pytest.skip(f"{UNIT_TESTS} is not present")
    assert {case.file.split("/")[1] for case in CASES} == {
        "PEPPOL-T111-R001.xml", "PEPPOL-T111-R002.xml", "PEPPOL-T111-R004.xml"}
    assert len(CASES) >= 8


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_invoice_response_unit_case(validator: Validator, case: UnitCase) -> None:
    check_case(validator, case)
