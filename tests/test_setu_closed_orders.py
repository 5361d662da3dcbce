"""A closed staffing order reaches the ERP; it is not a repeat of the order it closes.

SETU-OHNL 2.0 allows two values of ``OrderClassification/@orderStatus``, "new"
and "closed" (its StaffingOrder Schematron refuses the other HR-XML values), and
the agency closes an order under the order's own id. By number alone the
closing passed for a second delivery of the order and was held back as a
duplicate: the ERP never heard that the order was closed. The documents here
are the published example order and the same order closed.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pipeline_support import Pipeline
from setu_corpus import SHARED, rule_errors

from gateway.channels import InboundDocument
from gateway.delivery.envelope import envelope, file_stem
from gateway.model import StaffingOrder
from gateway.model.json import loads
from gateway.pipeline.keys import issued_number, key_number
from gateway.store import TransportState
from gateway.validation.engine import Validator
from plugins.setu_ohnl.staffingorder import SetuStaffingOrder20

FORMAT = SetuStaffingOrder20()
EXAMPLE = SHARED / "ohnl-2.0" / "xml" / "EBF_StaffingOrderNL_Order.xml"
NEW = b'orderStatus="new"'
ORDER_ID = "PO450012345"
CUSTOMER_KVK = b'<StaffingCustomerId idOwner="KvK">\n\t\t\t<IdValue>39576093</IdValue>'
CUSTOMER_OIN = b'<StaffingCustomerId idOwner="OIN">\n\t\t\t<IdValue>00000001003214345000</IdValue>'


def order() -> bytes:
    """The published example, from an agency named by its OIN (as the Rijk's are)."""
    if not EXAMPLE.is_file():
        pytest.skip(f"{EXAMPLE} is not present")
    data = EXAMPLE.read_bytes()
    assert data.count(NEW) == 1
    assert data.count(CUSTOMER_KVK) == 1
    return data.replace(CUSTOMER_KVK, CUSTOMER_OIN)


def with_status(status: str) -> bytes:
    return order().replace(NEW, f'orderStatus="{status}"'.encode())


def decode(data: bytes) -> StaffingOrder:
    document = FORMAT.decode(data).document
    assert isinstance(document, StaffingOrder)
    return document


def delivery(data: bytes, transport_id: str) -> InboundDocument:
    return InboundDocument(data=data, channel="folder", transport_id=transport_id,
                           filename="order.xml")


@pytest.fixture(scope="module")
def validator(installed_standards: Path) -> Validator:
    return Validator(installed_standards)


def errors(validator: Validator, data: bytes) -> list[str]:
    return rule_errors(validator, FORMAT, data)


def test_new_and_closed_are_the_order_statuses_setu_allows(validator: Validator) -> None:
    assert errors(validator, order()) == []
    assert errors(validator, with_status("closed")) == []
    assert any("[new, closed]" in e for e in errors(validator, with_status("revised")))


def test_a_closed_order_has_a_number_of_its_own_in_its_key() -> None:
    new, closed = decode(order()), decode(with_status("closed"))
    assert (new.order_id, closed.order_id) == (ORDER_ID, ORDER_ID)
    assert key_number(new) == ORDER_ID
    assert key_number(closed) == f"{ORDER_ID}:status:closed"
    assert issued_number(key_number(closed)) == ORDER_ID
    # An order whose status is not given is a new one, as before.
    assert key_number(decode(order().replace(b' ' + NEW, b""))) == ORDER_ID


async def test_a_closed_order_is_delivered_beside_the_order_it_closes(pipe: Pipeline) -> None:
    first = await pipe.inbound.receive(delivery(order(), "t-1"))
    closing = await pipe.inbound.receive(delivery(with_status("closed"), "t-2"))
    records = [await pipe.store.get(message_id) for message_id in (first, closing)]
    assert [r.transport_state for r in records if r is not None] == [
        TransportState.DECODED, TransportState.DECODED]
    keys = [r.business_key for r in records if r is not None]
    assert keys[0] is not None
    assert keys[0].endswith(f":staffing-order:{ORDER_ID}")
    assert keys[1] == f"{keys[0]}:status:closed"
    statuses = []
    for record in records:
        assert record is not None
        assert record.canonical_json is not None
        # The ERP reads the order's own number and the status from the document.
        assert envelope(record)["document_number"] == ORDER_ID
        assert ORDER_ID in file_stem(record)
        document = loads(record.canonical_json)
        assert isinstance(document, StaffingOrder)
        statuses.append(document.order_status)
    assert statuses == ["new", "closed"]


async def test_a_closed_order_delivered_again_is_a_repeat_of_the_closing(pipe: Pipeline) -> None:
    first = await pipe.inbound.receive(delivery(order(), "t-1"))
    closing = await pipe.inbound.receive(delivery(with_status("closed"), "t-2"))
    repeats = [
        (await pipe.inbound.receive(delivery(with_status("closed"), "t-3")), closing),
        (await pipe.inbound.receive(delivery(order(), "t-4")), first),
    ]
    for repeat, original in repeats:
        record = await pipe.store.get(repeat)
        assert record is not None
        assert record.transport_state is TransportState.DUPLICATE
        events = await pipe.store.events(repeat)
        assert events[-1].detail["original"] == original
        assert "differs" not in events[-1].detail
