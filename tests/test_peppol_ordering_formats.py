"""Peppol BIS Ordering 3: the T01 and T76 formats against the publisher's examples and samples.

Every example and snippet of the Order and Order Response transactions must
decode, re-encode and decode again to the same canonical document, and what
the encoder writes must pass the UBL 2.1 XSD and the compiled T01/T76 rules.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import attrs
import pytest
from lxml import etree

from contracts import KIT_DIR
from gateway.errors import GatewayError
from gateway.formats import Detection, EncodeContext, Format
from gateway.model import (
    LineResponse,
    LineStatus,
    Order,
    OrderResponse,
    PartyId,
    ResponseStatus,
)
from gateway.pluginmanager import build_registry, make_plugin_manager
from gateway.registry import Registry
from gateway.sniff import Sniffed
from gateway.validation import Validator, validator_for
from plugins.ubl_ordering.errors import AgencyMismatchError, BasisorderRijkError
from plugins.ubl_ordering.formats import (
    FORMATS,
    ORDER_ONLY_PROFILE,
    ORDERING_PROFILE,
    PROFILE_SETTING,
    PeppolOrder,
    PeppolOrderResponse,
)
from plugins.ubl_ordering.samples import AGENCY_OIN, basisorder_rijk, sample_responses
from validation_layers import SHARED_STANDARDS

ORDERING = SHARED_STANDARDS / "peppol-bis-ordering-3"
ORDER = PeppolOrder()
RESPONSE = PeppolOrderResponse()
RIJK = EncodeContext(agency_oin=AGENCY_OIN, agency_name="Naam Overheidsorganisatie")


def _publisher_documents() -> list[tuple[str, bytes]]:
    if not ORDERING.is_dir():
        return []
    found = []
    for path in sorted(ORDERING.rglob("*.xml")):
        relative = path.relative_to(ORDERING)
        if relative.parts[0] not in ("examples", "use-case-examples", "snippets"):
            continue
        found.append((str(relative), path.read_bytes()))
    return found


DOCUMENTS = _publisher_documents()


def _ours(data: bytes) -> Format | None:
    for fmt in (ORDER, RESPONSE):
        if fmt.detect(Sniffed(data)) is Detection.MATCH:
            return fmt
    return None


MATCHED = [(name, data) for name, data in DOCUMENTS if _ours(data) is not None]


@pytest.fixture(scope="module")
def validator(installed_standards: Path) -> Validator:
    validator = validator_for(installed_standards)
    validator.prepare([layer for fmt in (ORDER, RESPONSE) for layer in fmt.layers()])
    return validator


@pytest.fixture(scope="module")
def registry() -> Registry:
    return build_registry(make_plugin_manager())


def _assert_valid(validator: Validator, fmt: Format, data: bytes) -> None:
    report = validator.validate(data, fmt.layers(), format_key=fmt.key)
    assert report.valid, [str(f) for f in report.findings]
    assert not [f for f in report.findings if f.severity.value == "warning"], report.findings


def test_the_plugin_registers_both_formats(registry: Registry) -> None:
    assert set(registry.registered_by("ubl-ordering")["formats"]) == {
        format_class.key for format_class in FORMATS}


def test_every_order_and_response_example_is_recognised() -> None:
    if not DOCUMENTS:
        pytest.skip(f"{ORDERING} is not present")
    per_format: dict[str, int] = {}
    for _, data in MATCHED:
        fmt = _ours(data)
        assert fmt is not None
        per_format[fmt.key] = per_format.get(fmt.key, 0) + 1
    # 6 + 5 use cases, the base example and 2 snippets of T01; 5 + 5 use cases,
    # the base example and 4 snippets of T76 (the advanced response folder
    # holds two T76 snippets).
    assert per_format == {ORDER.key: 14, RESPONSE.key: 15}


@pytest.mark.parametrize(("name", "data"), MATCHED, ids=[name for name, _ in MATCHED])
def test_publisher_document_round_trips_and_re_encodes_valid(
    validator: Validator, name: str, data: bytes
) -> None:
    fmt = _ours(data)
    assert fmt is not None
    decoded = fmt.decode(data)
    encoded = fmt.encode(decoded.document, EncodeContext())
    again = fmt.decode(encoded)
    assert again.document == decoded.document
    assert again.warnings == ()
    _assert_valid(validator, fmt, encoded)


@pytest.mark.parametrize(("name", "data"), MATCHED, ids=[name for name, _ in MATCHED])
def test_publisher_document_validates_as_published(
    validator: Validator, name: str, data: bytes
) -> None:
    fmt = _ours(data)
    assert fmt is not None
    report = validator.validate(data, fmt.layers())
    assert report.valid, [str(f) for f in report.findings]


@pytest.mark.parametrize("fmt", [ORDER, RESPONSE], ids=lambda fmt: fmt.key)
def test_samples_encode_valid_and_round_trip(validator: Validator, fmt: Format) -> None:
    for sample in fmt.samples():
        assert sample.data is not None
        _assert_valid(validator, fmt, sample.data)
        decoded = fmt.decode(sample.data)
        assert decoded.document == sample.document, sample.name
        assert decoded.warnings == (), sample.name


def test_the_base_example_maps_the_order_header_and_lines() -> None:
    decoded = ORDER.decode((ORDERING / "examples" / "Order_Example.xml").read_bytes())
    order = decoded.document
    assert isinstance(order, Order)
    assert (order.number, order.issue_date, order.currency) == ("34", dt.date(2018, 9, 1), "NOK")
    assert order.buyer.endpoint_id == PartyId(scheme="0192", value="987654325")
    assert order.totals is not None
    assert order.totals.payable == Decimal("6363")
    assert [line.line_amount for line in order.lines] == [Decimal("6300.00"), Decimal("225.00")]
    assert order.lines[0].price is not None
    assert order.lines[0].price.discount == Decimal("10.00")
    # Beyond the model: named, never dropped in silence.
    assert "/Order/cbc:SalesOrderID ('112233') is not mapped" in decoded.warnings
    assert any("OriginatorCustomerParty" in each for each in decoded.warnings)
    # A Norwegian buyer is no agency: the Rijk rules are not applied.
    assert not [each for each in decoded.warnings if each.startswith("Basisorder Rijk")]


def test_the_base_response_maps_codes_and_changed_lines() -> None:
    decoded = RESPONSE.decode((ORDERING / "examples" / "OrderResponse_Example.xml").read_bytes())
    response = decoded.document
    assert isinstance(response, OrderResponse)
    assert response.status is ResponseStatus.ACCEPTED_WITH_CHANGES
    assert response.order_reference.sales_order_id == "101-111"
    assert [(line.line_id, line.status) for line in response.line_responses] == [
        ("1", LineStatus.CHANGED), ("2", LineStatus.ACCEPTED), ("3", LineStatus.CHANGED)]
    assert any("SellerSubstitutedLineItem" in each for each in decoded.warnings)


def test_a_seller_added_line_is_reported_not_guessed() -> None:
    data = (ORDERING / "snippets" / "order-response" / "snippet-1.xml").read_bytes()
    decoded = RESPONSE.decode(data)
    assert any(each.startswith("/OrderResponse/cac:OrderLine[5] (") for each in decoded.warnings)


# -- Basisorder Rijk --------------------------------------------------------------------------


def test_a_basisorder_rijk_order_round_trips(validator: Validator) -> None:
    order = basisorder_rijk()
    data = ORDER.encode(order, RIJK)
    _assert_valid(validator, ORDER, data)
    root = etree.fromstring(data)
    ns = {"cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
          "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"}
    endpoint = root.find("cac:BuyerCustomerParty/cac:Party/cbc:EndpointID", ns)
    assert endpoint is not None
    assert endpoint.get("schemeID") == "0190"
    assert endpoint.text == AGENCY_OIN
    assert root.findtext("cbc:ProfileID", namespaces=ns) == ORDERING_PROFILE
    decoded = ORDER.decode(data)
    assert decoded.document == order
    assert decoded.warnings == ()


def test_the_order_only_profile_is_chosen_by_the_route() -> None:
    context = attrs.evolve(RIJK, settings={PROFILE_SETTING: "order_only"})
    data = ORDER.encode(basisorder_rijk(), context)
    assert ORDER_ONLY_PROFILE.encode() in data
    assert ORDER.decode(data).document == basisorder_rijk()
    with pytest.raises(GatewayError, match="order_only"):
        ORDER.encode(basisorder_rijk(), attrs.evolve(RIJK, settings={PROFILE_SETTING: "x"}))


def _broken_rijk_order() -> Order:
    order = basisorder_rijk()
    lines = (attrs.evolve(order.lines[0], line_amount=None, price=None), *order.lines[1:])
    seller = attrs.evolve(order.seller, endpoint_id=PartyId(scheme="0088", value="8712345000004"))
    # Without the line amount the anticipated totals no longer add up (PEPPOL-T01-R008).
    return attrs.evolve(order, buyer=attrs.evolve(order.buyer, contact=None), seller=seller,
                        lines=lines, totals=None, allowance_charges=())


def test_encoding_for_an_agency_refuses_a_basisorder_rijk_breach() -> None:
    with pytest.raises(BasisorderRijkError) as caught:
        ORDER.encode(_broken_rijk_order(), RIJK)
    message = str(caught.value)
    assert "0106 (KvK) or 9944" in message
    assert "buyer needs a contact" in message
    assert "line 1 needs LineExtensionAmount and Price" in message


def test_decoding_reports_a_basisorder_rijk_breach_as_warnings(validator: Validator) -> None:
    # Without a route the simulator writes what it is given: plain T01, still valid.
    data = ORDER.encode(_broken_rijk_order(), EncodeContext())
    _assert_valid(validator, ORDER, data)
    warnings = [each for each in ORDER.decode(data).warnings
                if each.startswith("Basisorder Rijk: ")]
    assert len(warnings) == 3, warnings


def test_the_buyer_oin_must_be_the_routed_agency() -> None:
    other = PartyId(scheme="0190", value="00000001234567890000")
    order = attrs.evolve(basisorder_rijk(),
                         buyer=attrs.evolve(basisorder_rijk().buyer, legal_id=other))
    with pytest.raises(AgencyMismatchError, match="00000001234567890000"):
        ORDER.encode(order, RIJK)


# -- Order response rules -------------------------------------------------------------------


def test_lines_go_only_with_accepted_with_changes() -> None:
    [_, (_, changed), _, _] = sample_responses()
    with pytest.raises(GatewayError, match="R008"):
        RESPONSE.encode(attrs.evolve(changed, status=ResponseStatus.ACCEPTED), RIJK)
    with pytest.raises(GatewayError, match="R007"):
        RESPONSE.encode(attrs.evolve(changed, line_responses=()), RIJK)
    with pytest.raises(GatewayError, match="currency"):
        RESPONSE.encode(attrs.evolve(changed, currency=None), RIJK)
    both = LineResponse(line_id="1", status=LineStatus.CHANGED, delivery_date=dt.date(2026, 1, 2),
                        delivery_period=changed.line_responses[3].delivery_period)
    with pytest.raises(GatewayError, match="both a delivery date and a period"):
        RESPONSE.encode(attrs.evolve(changed, line_responses=(both,)), RIJK)


def test_each_format_refuses_the_other_document() -> None:
    with pytest.raises(GatewayError, match="writes orders"):
        ORDER.encode(sample_responses()[0][1], RIJK)
    with pytest.raises(GatewayError, match="writes order responses"):
        RESPONSE.encode(basisorder_rijk(), RIJK)


# -- detection --------------------------------------------------------------------------------


def _with_header(data: bytes, customization: str, profile: str | None = None) -> bytes:
    root = etree.fromstring(data)
    ns = {"cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"}
    node = root.find("cbc:CustomizationID", ns)
    assert node is not None
    node.text = customization
    if profile is not None:
        profile_node = root.find("cbc:ProfileID", ns)
        assert profile_node is not None
        profile_node.text = profile
    return bytes(etree.tostring(root))


@pytest.mark.parametrize(("customization", "profile", "expected"), [
    ("urn:fdc:peppol.eu:poacc:trns:order:3", None, Detection.MATCH),
    ("urn:fdc:peppol.eu:poacc:trns:order:3", ORDER_ONLY_PROFILE, Detection.MATCH),
    ("urn:fdc:peppol.eu:poacc:trns:order:3", "urn:fdc:peppol.eu:poacc:bis:advanced_ordering:3",
     Detection.OTHER_VERSION),
    ("urn:fdc:peppol.eu:poacc:trns:order:4", None, Detection.OTHER_VERSION),
    ("urn:www.cenbii.eu:transaction:biitrns001:ver2.0:extended:"
     "urn:www.peppol.eu:bis:peppol28a:ver1.0", None, Detection.OTHER_VERSION),
    ("urn:fdc:peppol.eu:poacc:trns:order_change:3", None, Detection.NO),
    ("urn:www.ubl-ohnl.nl:order:1.9", None, Detection.NO),
])
def test_order_detection(customization: str, profile: str | None, expected: Detection) -> None:
    data = ORDER.samples()[0].data
    assert data is not None
    assert ORDER.detect(Sniffed(_with_header(data, customization, profile))) is expected


def test_response_detection_is_exact() -> None:
    data = RESPONSE.samples()[0].data
    assert data is not None
    assert ORDER.detect(Sniffed(data)) is Detection.NO
    assert RESPONSE.detect(Sniffed(_with_header(
        data, "urn:fdc:peppol.eu:poacc:trns:order_response:3", ORDER_ONLY_PROFILE,
    ))) is Detection.OTHER_VERSION
    assert RESPONSE.detect(Sniffed(_with_header(
        data, "urn:fdc:peppol.eu:poacc:trns:order_response_advanced:3",
    ))) is Detection.NO


@pytest.mark.parametrize("name", sorted(p.name for p in (KIT_DIR / "foreign").iterdir()))
@pytest.mark.parametrize("fmt", [ORDER, RESPONSE], ids=lambda fmt: fmt.key)
def test_the_hostile_corpus_is_refused_with_a_clear_error(fmt: Format, name: str) -> None:
    data = (KIT_DIR / "foreign" / name).read_bytes()
    assert fmt.detect(Sniffed(data)) is not Detection.MATCH
    with pytest.raises(GatewayError) as caught:
        fmt.decode(data)
    message = str(caught.value)
    assert message.strip()
    assert "Traceback" not in message


def test_what_t01_cannot_carry_is_refused_not_dropped() -> None:
    order = basisorder_rijk()
    line = attrs.evolve(order.lines[0], vat_amount=Decimal("51.45"))
    lossy = attrs.evolve(order, buyer_reference="BR-1", lines=(line, *order.lines[1:]))
    with pytest.raises(GatewayError) as caught:
        ORDER.encode(lossy, RIJK)
    assert "buyer_reference" in str(caught.value)
    assert "line 1 vat_amount" in str(caught.value)
