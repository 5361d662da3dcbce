"""UBL-OHNL order responses and shared party writing, checked against the official rules."""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest

from gateway.formats import EncodeContext, Format
from gateway.model import (
    Delivery,
    Order,
    OrderResponse,
    PartyId,
    ResponseStatus,
)
from gateway.validation.engine import Validator
from plugins.ubl_ohnl.errors import OhnlEncodeError
from plugins.ubl_ohnl.order import OhnlOrder19
from plugins.ubl_ohnl.order_response import OhnlOrderResponse19
from plugins.ubl_ohnl.samples import (
    SUPPLIER,
    order_response_context,
    sample_order,
    sample_order_response,
)

ORDER = OhnlOrder19()
RESPONSE = OhnlOrderResponse19()


@pytest.fixture(scope="module")
def validator(installed_standards: Path) -> Validator:
    return Validator(installed_standards)


def problems(validator: Validator, fmt: Format, data: bytes) -> list[str]:
    report = validator.validate(data, fmt.layers(), format_key=fmt.key)
    return [f"{f.layer}: {f.text}" for f in report.findings if f.severity.rejects]


def order_with_period_on_header_and_addresses_on_lines() -> Order:
    """Valid OHNL: the address on every line, the requested period once on the header."""
    base = sample_order()
    assert base.delivery is not None
    assert base.delivery.address is not None
    site = Delivery(address=base.delivery.address)
    return attrs.evolve(
        base,
        delivery=Delivery(period=base.delivery.period),
        lines=tuple(attrs.evolve(line, delivery=site) for line in base.lines),
    )


def test_that_order_shape_is_valid_ohnl(validator: Validator) -> None:
    order = order_with_period_on_header_and_addresses_on_lines()
    data = ORDER.encode(order, EncodeContext())
    assert problems(validator, ORDER, data) == []
    assert ORDER.decode(data).document == order


def test_a_plain_confirmation_takes_the_requested_period_from_the_order_header(
    validator: Validator,
) -> None:
    # "The promised delivery date is the line's answer, else the header's, else the
    # order's requested end date": here the order's requested end date is on its header.
    order = order_with_period_on_header_and_addresses_on_lines()
    response = attrs.evolve(sample_order_response(), status=ResponseStatus.ACCEPTED,
                            line_responses=())
    data = RESPONSE.encode(response, order_response_context(order))
    assert problems(validator, RESPONSE, data) == []


def test_seller_without_contact_is_refused_or_valid_when_only_the_header_names_one(
    validator: Validator,
) -> None:
    # Schematron: count(OrderLine/LineItem/Delivery/DeliveryParty/Contact) = count(LineItem)
    # or a SellerSupplierParty contact. The order's header delivery contact is not written
    # on the lines, so it cannot stand in for the seller's contact.
    order = sample_order()  # delivery party and contact on the header only
    assert order.delivery is not None
    assert order.delivery.contact is not None
    response: OrderResponse = attrs.evolve(sample_order_response(),
                                           seller=attrs.evolve(SUPPLIER, contact=None))
    try:
        data = RESPONSE.encode(response, order_response_context(order))
    except OhnlEncodeError:
        return  # a clear refusal is fine
    assert problems(validator, RESPONSE, data) == []


def test_a_vest_with_two_kvk_numbers_is_refused_or_valid(validator: Validator) -> None:
    # Schematron: a Vest needs count(KvK) = 1 beside it, not "at least one".
    seller = attrs.evolve(SUPPLIER, vat_id=None, ids=(
        PartyId(scheme="KvK", value="30097265"), PartyId(scheme="KvK", value="30097266"),
        PartyId(scheme="Vest", value="000018727409"),
    ))
    order = attrs.evolve(sample_order(), seller=seller)
    try:
        data = ORDER.encode(order, EncodeContext())
    except OhnlEncodeError:
        return
    assert problems(validator, ORDER, data) == []


def test_a_building_addition_the_schematron_accepts_is_encoded(validator: Validator) -> None:
    # XPath \w is every character but punctuation, separators and controls: '+' is a
    # symbol (Sm), so '7-A+' matches ^\d+(-[ \w]+)?$ ; Python's \w does not have it.
    base = sample_order()
    plain = ORDER.encode(base, EncodeContext())
    assert b"<cbc:BuildingNumber>7-A</cbc:BuildingNumber>" in plain
    patched = plain.replace(b"<cbc:BuildingNumber>7-A</cbc:BuildingNumber>",
                            b"<cbc:BuildingNumber>7-A+</cbc:BuildingNumber>")
    assert problems(validator, ORDER, patched) == []  # the official rules accept it
    assert SUPPLIER.address is not None
    seller = attrs.evolve(SUPPLIER, address=attrs.evolve(SUPPLIER.address,
                                                         building_addition="A+"))
    ORDER.encode(attrs.evolve(base, seller=seller), EncodeContext())
