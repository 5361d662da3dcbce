"""The pipeline reads the agency OIN as an OIN: checked, normalised, under any OIN scheme.

An invalid OIN is refused naming it, not stored as the message's agency; one
written with spaces keys like the same OIN written plainly; the legacy scheme
9954 and a lower-case ``oin`` are OINs too.
"""

from __future__ import annotations

import attrs
import pytest
from pipeline_support import AGENCY_OIN, Pipeline, document_json

from gateway.channels import InboundDocument
from gateway.model import PartyId
from gateway.model.samples import example_order
from gateway.store import TransportState


def delivery(data: bytes, transport_id: str) -> InboundDocument:
    return InboundDocument(data=data, channel="folder", transport_id=transport_id,
                           filename="order.json")


def order_with_buyer_oin(scheme: str, value: str) -> bytes:
    order = example_order()
    oin = PartyId(scheme=scheme, value=value)
    buyer = attrs.evolve(order.buyer, endpoint_id=oin, legal_id=oin, ids=())
    return document_json(attrs.evolve(order, buyer=buyer))


async def test_an_invalid_buyer_oin_is_refused_by_name(pipe: Pipeline) -> None:
    message_id = await pipe.inbound.receive(
        delivery(order_with_buyer_oin("0190", "00000001003227523000"), "t-1"))
    record = await pipe.store.get(message_id)
    assert record is not None
    assert record.transport_state is TransportState.REJECTED
    assert record.agency_oin != "00000001003227523000"
    assert "00000001003227523000" in str(record.last_error)
    assert "11-test" in str(record.last_error)


@pytest.mark.parametrize("written", [" ".join([AGENCY_OIN[:8], AGENCY_OIN[8:]]),
                                     AGENCY_OIN[:8] + "." + AGENCY_OIN[8:]])
async def test_the_agency_oin_is_stored_normalised(pipe: Pipeline, written: str) -> None:
    message_id = await pipe.inbound.receive(
        delivery(order_with_buyer_oin("0190", written), "t-1"))
    record = await pipe.store.get(message_id)
    assert record is not None
    assert record.transport_state is TransportState.DECODED
    assert record.agency_oin == AGENCY_OIN


@pytest.mark.parametrize("scheme", ["9954", "oin"])
async def test_every_oin_scheme_names_the_agency(pipe: Pipeline, scheme: str) -> None:
    message_id = await pipe.inbound.receive(
        delivery(order_with_buyer_oin(scheme, AGENCY_OIN), "t-1"))
    record = await pipe.store.get(message_id)
    assert record is not None
    assert record.transport_state is TransportState.DECODED
    assert record.agency_oin == AGENCY_OIN
