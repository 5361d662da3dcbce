"""Order responses built from the order: references by value, changes, rejections."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import attrs
import pytest

from gateway.business import (
    BusinessError,
    LineChange,
    UnknownLines,
    accept_all,
    accept_with_changes,
    reject,
)
from gateway.formats import EncodeContext
from gateway.model import (
    Delivery,
    FieldValueError,
    LineResponse,
    LineStatus,
    OrderReference,
    OrderResponse,
    Quantity,
    ResponseStatus,
)
from gateway.model.json import dumps, loads
from gateway.model.samples import AGENCY, SUPPLIER, example_order
from gateway.pluginmanager import build_registry, make_plugin_manager

D = Decimal
DAY = dt.date(2014, 10, 8)


def test_accept_all_refers_to_the_order_and_every_line_by_value() -> None:
    response = accept_all(example_order(), number="B-1", issue_date=DAY, sales_order_id="SO-9",
                          note="dank u")
    assert response == OrderResponse(
        number="B-1",
        issue_date=DAY,
        order_reference=OrderReference(id="40000695", sales_order_id="SO-9",
                                       issue_date=dt.date(2014, 10, 7)),
        status=ResponseStatus.ACCEPTED,
        seller=SUPPLIER,
        buyer=AGENCY,
        currency="EUR",
        note="dank u",
        line_responses=(
            LineResponse(line_id="1.1.1", status=LineStatus.ACCEPTED),
            LineResponse(line_id="2.1.1", status=LineStatus.ACCEPTED),
        ),
    )
    assert loads(dumps(response)) == response


def test_changes_to_quantity_and_date_keep_the_ordered_unit() -> None:
    response = accept_with_changes(
        example_order(),
        {"2.1.1": LineChange(quantity=D("8000"), delivery_date=dt.date(2014, 10, 20),
                             note="8000 op voorraad")},
        number="B-2", issue_date=DAY,
    )
    assert response.status is ResponseStatus.ACCEPTED_WITH_CHANGES
    assert response.order_reference == OrderReference(id="40000695",
                                                      issue_date=dt.date(2014, 10, 7))
    assert response.line_responses == (
        LineResponse(line_id="1.1.1", status=LineStatus.ACCEPTED),
        LineResponse(line_id="2.1.1", status=LineStatus.CHANGED,
                     quantity=Quantity(value=D("8000"), unit_code="EA"),
                     delivery_date=dt.date(2014, 10, 20), note="8000 op voorraad"),
    )


def test_a_date_change_alone_is_a_change() -> None:
    response = accept_with_changes(
        example_order(), {"1.1.1": LineChange(delivery_date=dt.date(2014, 10, 15))},
        number="B-3", issue_date=DAY,
    )
    assert response.status is ResponseStatus.ACCEPTED_WITH_CHANGES
    changed = response.line_responses[0]
    assert (changed.status, changed.quantity, changed.delivery_date) == (
        LineStatus.CHANGED, None, dt.date(2014, 10, 15))


def test_changes_that_repeat_the_order_are_an_acceptance() -> None:
    # The sample asks for delivery by 14 October: the 10th is inside that period.
    response = accept_with_changes(
        example_order(),
        {"1.1.1": LineChange(quantity=D("1000"), delivery_date=dt.date(2014, 10, 10),
                             note="zoals besteld"),
         "2.1.1": LineChange()},
        number="B-4", issue_date=DAY,
    )
    assert response.status is ResponseStatus.ACCEPTED
    assert response.line_responses == (
        LineResponse(line_id="1.1.1", status=LineStatus.ACCEPTED, note="zoals besteld"),
        LineResponse(line_id="2.1.1", status=LineStatus.ACCEPTED),
    )


def test_a_requested_delivery_date_is_no_change() -> None:
    order = attrs.evolve(example_order(), lines=tuple(
        attrs.evolve(line, delivery=Delivery(date=dt.date(2014, 10, 14)))
        for line in example_order().lines))
    same = accept_with_changes(order, {"1.1.1": LineChange(delivery_date=dt.date(2014, 10, 14))},
                               number="B-5", issue_date=DAY)
    assert same.status is ResponseStatus.ACCEPTED
    other = accept_with_changes(order, {"1.1.1": LineChange(delivery_date=dt.date(2014, 10, 13))},
                                number="B-5", issue_date=DAY)
    assert other.status is ResponseStatus.ACCEPTED_WITH_CHANGES


def test_unknown_line_ids_are_named() -> None:
    with pytest.raises(UnknownLines) as caught:
        accept_with_changes(example_order(), {"9.9.9": LineChange(quantity=D("1")),
                                              "1.1.1": LineChange()},
                            number="B-6", issue_date=DAY)
    assert caught.value.line_ids == ("9.9.9",)
    assert "order 40000695 has no line(s) '9.9.9'" in str(caught.value)


def test_repeated_order_line_ids_are_refused() -> None:
    order = example_order()
    twice = attrs.evolve(order, lines=(order.lines[0], order.lines[0]))
    with pytest.raises(BusinessError, match="repeats line id"):
        accept_with_changes(twice, {}, number="B-7", issue_date=DAY)


def test_a_change_checks_its_own_values() -> None:
    with pytest.raises(FieldValueError, match="negative"):
        LineChange(quantity=D("-1"))


def test_reject_carries_the_reason_and_refuses_the_order_as_a_whole() -> None:
    response = reject(example_order(), "niet leverbaar", number="B-8", issue_date=DAY,
                      sales_order_id="SO-9")
    assert response.status is ResponseStatus.REJECTED
    assert response.note == "niet leverbaar"
    assert response.order_reference == OrderReference(
        id="40000695", sales_order_id="SO-9", issue_date=dt.date(2014, 10, 7))
    # The status says it of every line; Peppol BIS T76 refuses lines on a rejection.
    assert response.line_responses == ()
    encoded = build_registry(make_plugin_manager()).format("peppol-bis:order-response:3").encode(
        response, EncodeContext(answers=example_order()))
    assert b"<cbc:OrderResponseCode>RE</cbc:OrderResponseCode>" in encoded


def test_reject_needs_a_reason() -> None:
    with pytest.raises(BusinessError, match="reason"):
        reject(example_order(), "  ", number="B-9", issue_date=DAY)
