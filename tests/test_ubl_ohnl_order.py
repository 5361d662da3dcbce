"""UBL-OHNL Order and OrderResponse, releases 1.9 and 1.8.

For every published Order and OrderResponse example of both releases: it
validates as published, is detected as its own release (and as another
version by the other release's format), decodes, and encoding the decoded
document gives a valid document that decodes to the same canonical
document. An order response is encoded with the order it answers (the
paired order example; the publisher's Example18 names another order number,
so the test gives the order that number) and the supplier's number.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import attrs
import pytest

from gateway.errors import GatewayError
from gateway.formats import Detection, EncodeContext, Format, Sample
from gateway.model import (
    LineResponse,
    LineStatus,
    Order,
    OrderResponse,
    Quantity,
    ResponseStatus,
)
from gateway.sniff import Sniffed
from gateway.validation.engine import Validator
from plugins.ubl_ohnl.errors import OhnlDecodeError, OhnlEncodeError
from plugins.ubl_ohnl.order import OhnlOrder18, OhnlOrder19, OhnlOrderFormat
from plugins.ubl_ohnl.order_response import (
    OhnlOrderResponse18,
    OhnlOrderResponse19,
    OhnlOrderResponseFormat,
)
from plugins.ubl_ohnl.samples import (
    order_response_context,
    order_response_samples,
    order_samples,
    sample_order,
    sample_order_response,
)

SHARED = Path(__file__).resolve().parents[2] / "shared" / "standards" / "ubl-ohnl"
ORDERS: dict[str, OhnlOrderFormat] = {"1.9": OhnlOrder19(), "1.8": OhnlOrder18()}
RESPONSES: dict[str, OhnlOrderResponseFormat] = {
    "1.9": OhnlOrderResponse19(), "1.8": OhnlOrderResponse18(),
}
OTHER = {"1.9": "1.8", "1.8": "1.9"}
PAIRS = {"UBL-OrderRespons-Example11.xml": "UBL-Order-Example09.xml",
         "UBL-OrderRespons-Example18.xml": "UBL-Order-Example16.xml"}


def _examples(pattern: str) -> list[tuple[str, Path]]:
    found = []
    for version in ("1.9", "1.8"):
        folder = SHARED / version / "xml"
        if folder.is_dir():
            found += [(version, p) for p in sorted(folder.glob(pattern))]
    return found


ORDER_EXAMPLES = _examples("*Order*.xml")
ORDER_EXAMPLES = [(v, p) for v, p in ORDER_EXAMPLES if "Respons" not in p.name]
RESPONSE_EXAMPLES = _examples("*OrderRespons*.xml")


def _id(param: tuple[str, Path]) -> str:
    return f"{param[0]}-{param[1].name}"


@pytest.fixture(scope="module")
def validator(installed_standards: Path) -> Validator:
    return Validator(installed_standards)


def assert_valid(validator: Validator, fmt: Format, data: bytes) -> None:
    report = validator.validate(data, fmt.layers(), format_key=fmt.key)
    problems = [f for f in report.findings if f.severity.rejects]
    assert not problems, "\n".join(f"{f.layer} {f.location}: {f.text}" for f in problems)
    assert report.layers == tuple(layer.name for layer in fmt.layers())


def test_the_packages_have_the_expected_examples() -> None:
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} is not present")
    assert len(ORDER_EXAMPLES) == 5  # 1.9: 09, 16, scenario 1; 1.8: 09, 16
    assert len(RESPONSE_EXAMPLES) == 4


# -- orders ------------------------------------------------------------------------------------


@pytest.mark.parametrize("example", ORDER_EXAMPLES, ids=_id)
def test_order_example_round_trips(validator: Validator, example: tuple[str, Path]) -> None:
    version, path = example
    fmt, other = ORDERS[version], ORDERS[OTHER[version]]
    data = path.read_bytes()
    assert_valid(validator, fmt, data)
    assert fmt.detect(Sniffed(data)) is Detection.MATCH
    assert other.detect(Sniffed(data)) is Detection.OTHER_VERSION
    with pytest.raises(OhnlDecodeError, match=f"this format reads version {OTHER[version]}"):
        other.decode(data)
    decoded = fmt.decode(data)
    order = decoded.document
    assert isinstance(order, Order)
    encoded = fmt.encode(order, EncodeContext())
    assert_valid(validator, fmt, encoded)
    again = fmt.decode(encoded)
    assert again.document.lines == order.lines
    assert again.document == order
    assert again.warnings == ()


def test_scenario_order_reads_as_published() -> None:
    data = (SHARED / "1.9" / "xml" / "Voorbeeldbericht scenario 1 - UBL-OHNL_1.9_Order.xml")
    decoded = ORDERS["1.9"].decode(data.read_bytes())
    order = decoded.document
    assert order.number == "40000695"
    assert order.issue_time == dt.time(14, 11, 22)
    assert order.customer_reference == "987654321"
    assert order.buyer.id_for("OIN") == "00000001003227522000"
    assert order.delivery is None
    assert [line.id for line in order.lines] == ["1.1.1", "2.1.1"]
    first = order.lines[0]
    assert first.delivery is not None
    assert first.delivery.period is not None
    assert first.delivery.period.end == dt.date(2014, 10, 14)
    assert first.vat_amount == Decimal("686.70")
    assert order.totals is not None
    assert order.totals.payable == Decimal("37352.70")
    assert "/Order/cac:PaymentMeans: not mapped to the canonical model" in decoded.warnings
    assert any("cbc:EndTime: not mapped" in w for w in decoded.warnings)


def test_order_example_warns_about_taxes_it_cannot_keep() -> None:
    decoded = ORDERS["1.9"].decode((SHARED / "1.9" / "xml" / "UBL-Order-Example09.xml")
                                   .read_bytes())
    assert any("not VAT (tax scheme Accijns)" in w for w in decoded.warnings)
    assert any("no TaxableAmount" in w for w in decoded.warnings)
    assert "/Order/cac:FreightForwarderParty: not mapped to the canonical model" \
        in decoded.warnings


@pytest.mark.parametrize("version", ["1.9", "1.8"])
@pytest.mark.parametrize("sample", order_samples(), ids=lambda s: s.name)
def test_order_samples_encode_valid(validator: Validator, version: str, sample: Sample) -> None:
    fmt = ORDERS[version]
    encoded = fmt.encode(sample.document, sample.context)
    assert_valid(validator, fmt, encoded)
    decoded = fmt.decode(encoded)
    assert decoded.document == sample.document
    assert decoded.warnings == ()
    assert b"<cbc:CustomizationID>" + version.encode() + b"<" in encoded


def test_order_attachment_is_embedded_with_its_mime_code() -> None:
    encoded = ORDERS["1.9"].encode(sample_order(), EncodeContext())
    assert b'mimeCode="application/pdf"' in encoded
    assert b'filename="bestek.pdf"' in encoded


@pytest.mark.parametrize(("change", "message"), [
    (lambda o: attrs.evolve(o, notes=("a", "b")), "at most 1 note"),
    (lambda o: attrs.evolve(o, lines=(
        attrs.evolve(o.lines[0], delivery=o.delivery), *o.lines[1:])),
     "delivery address is on the header and on lines"),
    (lambda o: attrs.evolve(o, delivery=None), "missing on the header and on some lines"),
    (lambda o: attrs.evolve(o, lines=(
        attrs.evolve(o.lines[0], accounting_cost="X"), *o.lines[1:])),
     "cost centre\\) is on the header and on lines"),
    (lambda o: attrs.evolve(o, buyer=attrs.evolve(o.buyer, contact=None)),
     "buyer's contact"),
    (lambda o: attrs.evolve(o, lines=(
        attrs.evolve(o.lines[0], price=None), *o.lines[1:])), "price on every line"),
    (lambda o: attrs.evolve(o, lines=(
        attrs.evolve(o.lines[0], item=attrs.evolve(o.lines[0].item, seller_item_id=None)),
        *o.lines[1:])), "seller's item identification"),
    (lambda o: attrs.evolve(o, buyer_reference="REF"), "buyer_reference"),
    (lambda o: attrs.evolve(o, delivery=attrs.evolve(o.delivery, date=dt.date(2024, 2, 3))),
     "states delivery as a period"),
])
def test_order_encoding_refuses_what_ohnl_forbids(change: object, message: str) -> None:
    assert callable(change)
    with pytest.raises(OhnlEncodeError, match=message):
        ORDERS["1.9"].encode(change(sample_order()), EncodeContext())


# -- order responses ---------------------------------------------------------------------------


def _answered_order(version: str, response_path: Path, number: str) -> Order:
    order_path = response_path.parent / PAIRS[response_path.name]
    order = ORDERS[version].decode(order_path.read_bytes()).document
    assert isinstance(order, Order)
    return attrs.evolve(order, number=number)


@pytest.mark.parametrize("example", RESPONSE_EXAMPLES, ids=_id)
def test_order_response_example_round_trips(
    validator: Validator, example: tuple[str, Path],
) -> None:
    version, path = example
    fmt, other = RESPONSES[version], RESPONSES[OTHER[version]]
    data = path.read_bytes()
    assert_valid(validator, fmt, data)
    assert fmt.detect(Sniffed(data)) is Detection.MATCH
    assert other.detect(Sniffed(data)) is Detection.OTHER_VERSION
    response = fmt.decode(data).document
    assert isinstance(response, OrderResponse)
    assert response.status is ResponseStatus.ACCEPTED
    context = EncodeContext(
        answers=_answered_order(version, path, response.order_reference.id),
        supplier_number="90807060",
    )
    encoded = fmt.encode(response, context)
    assert_valid(validator, fmt, encoded)
    again = fmt.decode(encoded)
    assert again.document == response
    assert again.warnings == ()


def test_response_example_reads_confirmed_values() -> None:
    data = (SHARED / "1.9" / "xml" / "UBL-OrderRespons-Example11.xml").read_bytes()
    response = RESPONSES["1.9"].decode(data).document
    assert response.order_reference.id == "PO09876"
    (line,) = response.line_responses
    assert line.line_id == "0100"
    assert line.quantity == Quantity(value=Decimal("10"), unit_code="NAR")
    assert line.delivery_date == dt.date(2012, 1, 16)


@pytest.mark.parametrize("version", ["1.9", "1.8"])
@pytest.mark.parametrize("sample", order_response_samples(), ids=lambda s: s.name)
def test_order_response_samples_encode_valid(
    validator: Validator, version: str, sample: Sample,
) -> None:
    fmt = RESPONSES[version]
    encoded = fmt.encode(sample.document, sample.context)
    assert_valid(validator, fmt, encoded)
    decoded = fmt.decode(encoded)
    assert decoded.document == sample.document
    assert decoded.warnings == ()


def test_a_plain_confirmation_round_trips(validator: Validator) -> None:
    response = attrs.evolve(
        sample_order_response(), status=ResponseStatus.ACCEPTED,
        line_responses=(LineResponse(line_id="1.1.1", status=LineStatus.ACCEPTED),),
    )
    fmt = RESPONSES["1.9"]
    encoded = fmt.encode(response, order_response_context())
    assert_valid(validator, fmt, encoded)
    # The line left unanswered is confirmed too, and reads back as such.
    expected = attrs.evolve(response, line_responses=(
        *response.line_responses,
        LineResponse(line_id="2.1.1", status=LineStatus.ACCEPTED),
    ))
    assert fmt.decode(encoded).document == expected


def test_one_canonical_response_goes_to_each_agency_in_its_own_release(
    validator: Validator,
) -> None:
    response = sample_order_response()
    for version, fmt in RESPONSES.items():
        other = RESPONSES[OTHER[version]]
        data = fmt.encode(response, order_response_context())
        assert_valid(validator, fmt, data)
        assert fmt.detect(Sniffed(data)) is Detection.MATCH
        assert other.detect(Sniffed(data)) is Detection.OTHER_VERSION
        assert fmt.decode(data).document == response


@pytest.mark.parametrize("version", ["1.9", "1.8"])
def test_rejection_is_refused_with_the_reason_and_other_routes(version: str) -> None:
    rejected = attrs.evolve(sample_order_response(), status=ResponseStatus.REJECTED,
                            note="Niet leverbaar")
    with pytest.raises(OhnlEncodeError) as caught:
        RESPONSES[version].encode(rejected, EncodeContext())
    message = str(caught.value)
    assert "cannot reject an order" in message
    assert "DigiInkoop portal" in message
    assert "Peppol BIS Order Response" in message


def test_a_rejected_line_is_refused() -> None:
    response = attrs.evolve(sample_order_response(), line_responses=(
        LineResponse(line_id="1.1.1", status=LineStatus.REJECTED),
        LineResponse(line_id="2.1.1", status=LineStatus.CHANGED,
                     quantity=Quantity(value=Decimal("1"), unit_code="HUR")),
    ))
    with pytest.raises(OhnlEncodeError, match=r"line_responses\[0\].status REJECTED: .*cannot"):
        RESPONSES["1.9"].encode(response, order_response_context())


@pytest.mark.parametrize(("change", "context", "message"), [
    (lambda r: attrs.evolve(r, status=ResponseStatus.ACKNOWLEDGED), None, "ACKNOWLEDGED"),
    (lambda r: r, EncodeContext(), "no such order from this agency is known"),
    (lambda r: r, EncodeContext(answers=sample_order()), "set supplier_number"),
    (lambda r: attrs.evolve(r, line_responses=(
        LineResponse(line_id="9.9.9", status=LineStatus.ACCEPTED),)), None,
     "not a line of order"),
    (lambda r: attrs.evolve(r, status=ResponseStatus.ACCEPTED), None,
     "use ACCEPTED_WITH_CHANGES"),
    (lambda r: attrs.evolve(r, order_reference=attrs.evolve(r.order_reference, id="1")),
     None, "is not the number of the order"),
])
def test_order_response_encoding_refuses(
    change: object, context: EncodeContext | None, message: str,
) -> None:
    assert callable(change)
    with pytest.raises(OhnlEncodeError, match=message):
        RESPONSES["1.9"].encode(change(sample_order_response()),
                                context or order_response_context())


def test_an_order_is_not_an_order_response() -> None:
    data = (SHARED / "1.9" / "xml" / "UBL-Order-Example09.xml").read_bytes()
    assert RESPONSES["1.9"].detect(Sniffed(data)) is Detection.NO
    with pytest.raises(OhnlDecodeError, match="not a UBL-OHNL order response"):
        RESPONSES["1.9"].decode(data)


# -- hostile input -----------------------------------------------------------------------------

HOSTILE = [
    b"",
    b"%PDF-1.4 not xml",
    b"<Order/>",
    b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>',
    b'<Order xmlns="urn:oasis:names:specification:ubl:schema:xsd:Order-2"'
    b' xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2">'
    b"<cbc:UBLVersionID>2.0</cbc:UBLVersionID><cbc:CustomizationID>1.9</cbc:CustomizationID>"
    b"<cbc:ProfileID>NL</cbc:ProfileID><cbc:ID>1</cbc:ID></Order>",
    b'<Order xmlns="urn:oasis:names:specification:ubl:schema:xsd:Order-2"'
    b' xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2">'
    b"<cbc:UBLVersionID>2.0</cbc:UBLVersionID><cbc:CustomizationID>1.9</cbc:CustomizationID>"
    b"<cbc:ProfileID>NL</cbc:ProfileID><cbc:ID>1</cbc:ID><cbc:IssueDate>2024-13-45"
    b"</cbc:IssueDate><cbc:DocumentCurrencyCode>EUR</cbc:DocumentCurrencyCode></Order>",
    b"<a>" * 5000,
]


@pytest.mark.parametrize("data", HOSTILE, ids=range(len(HOSTILE)))
@pytest.mark.parametrize("fmt", [*ORDERS.values(), *RESPONSES.values()], ids=lambda f: f.key)
def test_hostile_input_is_refused_with_a_decode_error(fmt: Format, data: bytes) -> None:
    # Unsafe or malformed XML is refused by the safe parser, the rest by the format:
    # both are gateway errors with a message, never a crash.
    with pytest.raises(GatewayError):
        fmt.decode(data)
