"""A response is encoded with the document it answers, as the gateway received it."""

from __future__ import annotations

from pathlib import Path

import pytest
from pipeline_support import AGENCY_OIN, make_pipeline

from gateway.channels import InboundDocument
from gateway.formats import EncodeContext
from gateway.model import Order, OrderResponse
from gateway.model.json import CanonicalJSONError
from gateway.pipeline import DocumentRejected
from gateway.pipeline.context import answered
from gateway.pluginmanager import build_registry, make_plugin_manager
from gateway.store import Store, TransportState
from gateway.validation.pool import ValidationPool
from plugins.ubl_ohnl.samples import SUPPLIER_NUMBER, sample_order, sample_order_response

RESPONSE_FORMAT = "ubl-ohnl:order-response:1.9"


def ohnl_order_xml(order: Order) -> bytes:
    fmt = build_registry(make_plugin_manager()).format("ubl-ohnl:order:1.9")
    return fmt.encode(order, EncodeContext(agency_oin=AGENCY_OIN))


async def test_an_ohnl_order_response_repeats_the_order_the_gateway_received(
    store: Store, tmp_path: Path, installed_standards: Path,
) -> None:
    order = sample_order(per_line_delivery=True)
    response = sample_order_response()
    assert answered(response) is not None
    with ValidationPool(installed_standards, workers=1) as pool:
        pipe = await make_pipeline(store, tmp_path, validator=pool,
                                   order_response_format=RESPONSE_FORMAT,
                                   supplier_number=SUPPLIER_NUMBER)
        received = await pipe.inbound.receive(InboundDocument(
            ohnl_order_xml(order), channel="recorder", transport_id="order-1"))
        inbound = await store.get(received)
        assert inbound is not None
        assert inbound.transport_state is TransportState.DECODED

        record = await pipe.submit(response)
    assert record.format_key == RESPONSE_FORMAT
    assert record.validation is not None
    assert record.validation["valid"], record.validation
    assert record.raw_payload is not None
    payload = record.raw_payload.decode()
    assert f"<cbc:CustomerAssignedAccountID>{SUPPLIER_NUMBER}<" in payload
    decoded = pipe.registry.format(RESPONSE_FORMAT).decode(record.raw_payload).document
    assert isinstance(decoded, OrderResponse)
    assert decoded.order_reference.id == order.number
    # The order's lines come from the stored order: the ERP sent only its answers.
    assert [a.line_id for a in decoded.line_responses] == [line.id for line in order.lines]


async def test_a_response_to_an_order_never_received_is_refused_naming_it(
    store: Store, tmp_path: Path, installed_standards: Path,
) -> None:
    response = sample_order_response()
    with ValidationPool(installed_standards, workers=1) as pool:
        pipe = await make_pipeline(store, tmp_path, validator=pool,
                                   order_response_format=RESPONSE_FORMAT,
                                   supplier_number=SUPPLIER_NUMBER)
        with pytest.raises(DocumentRejected) as caught:
            await pipe.submit(response)
        assert caught.value.stage == "encode"
        assert caught.value.rules == ("answered-unknown",)
        assert repr(response.order_reference.id) in str(caught.value)
        assert "no such order from this agency is known" in str(caught.value)
        assert "send it again once the gateway has received order" in str(caught.value)
        at = caught.value.__cause__
        assert isinstance(at, CanonicalJSONError)
        assert at.path == "order_reference.id"

        # Once the order has arrived, the same response goes out under the same number.
        await pipe.inbound.receive(InboundDocument(
            ohnl_order_xml(sample_order(per_line_delivery=True)), channel="recorder",
            transport_id="order-1"))
        record = await pipe.submit(response)
    assert record.format_key == RESPONSE_FORMAT


async def test_without_a_supplier_number_the_agency_directory_is_named(
    store: Store, tmp_path: Path, installed_standards: Path,
) -> None:
    with ValidationPool(installed_standards, workers=1) as pool:
        pipe = await make_pipeline(store, tmp_path, validator=pool,
                                   order_response_format=RESPONSE_FORMAT)
        await pipe.inbound.receive(InboundDocument(
            ohnl_order_xml(sample_order(per_line_delivery=True)), channel="recorder",
            transport_id="order-1"))
        with pytest.raises(DocumentRejected, match="supplier_number in the agency's table"):
            await pipe.submit(sample_order_response())
