"""The inbound sink: raw bytes first, then detect, decode and deduplicate."""

from __future__ import annotations

import asyncio
from pathlib import Path

import attrs
import pytest
from pipeline_support import AGENCY_OIN, Pipeline, document_json

from gateway.channels import ChannelContext, InboundDocument
from gateway.kinds import Direction
from gateway.model.samples import example_invoice, example_order
from gateway.pipeline import DocumentTooLarge
from gateway.store import TransportState

BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;">]>
<Order xmlns="urn:oasis:names:specification:ubl:schema:xsd:Order-2">&lol2;</Order>"""


def delivery(data: bytes, transport_id: str | None = "t-1") -> InboundDocument:
    return InboundDocument(data=data, channel="folder", transport_id=transport_id,
                           filename="order.json")


async def test_a_received_order_is_decoded_with_its_business_key(pipe: Pipeline) -> None:
    data = document_json(example_order())
    message_id = await pipe.inbound.receive(delivery(data))
    record = await pipe.store.get(message_id)
    assert record is not None
    assert record.direction is Direction.INBOUND
    assert record.transport_state is TransportState.DECODED
    assert record.raw_payload == data
    assert (record.document_kind, record.format_key, record.agency_oin) == (
        "order", "canonical:order:1", AGENCY_OIN)
    number = example_order().number
    assert record.business_key == f"{AGENCY_OIN}:order:{number}"
    assert record.canonical_json is not None
    assert [e.kind for e in await pipe.store.events(message_id)] == ["received", "decoded"]


async def test_a_received_proposal_invoice_awaits_the_suppliers_decision(
    pipe: Pipeline,
) -> None:
    proposal = attrs.evolve(example_invoice(), proposal=True, type_code="VD")
    message_id = await pipe.inbound.receive(delivery(document_json(proposal)))
    record = await pipe.store.get(message_id)
    assert record is not None
    assert record.transport_state is TransportState.DECODED
    assert record.business_state == "awaiting-decision"
    ordinary = await pipe.inbound.receive(delivery(document_json(example_order()), "t-2"))
    other = await pipe.store.get(ordinary)
    assert other is not None
    assert other.business_state == "none"


async def test_the_same_delivery_twice_is_one_message(pipe: Pipeline) -> None:
    data = document_json(example_order())
    first = await pipe.inbound.receive(delivery(data))
    again = await pipe.inbound.receive(delivery(data))
    assert again == first
    page = await pipe.store.list_messages(direction=Direction.INBOUND)
    assert [m.id for m in page.items] == [first]
    assert [e.kind for e in await pipe.store.events(first)] == ["received", "decoded"]


async def test_the_same_order_under_another_transport_id_is_a_duplicate(pipe: Pipeline) -> None:
    data = document_json(example_order())
    first = await pipe.inbound.receive(delivery(data, "t-1"))
    second = await pipe.inbound.receive(delivery(data, "t-2"))
    assert second != first
    record = await pipe.store.get(second)
    assert record is not None
    assert record.transport_state is TransportState.DUPLICATE
    events = await pipe.store.events(second)
    assert events[-1].kind == "duplicate"
    assert events[-1].detail["original"] == first
    original = await pipe.store.find_by_business_key(Direction.INBOUND,
                                                     record.business_key or "")
    assert original is not None
    assert original.id == first


async def test_another_order_number_is_another_message(pipe: Pipeline) -> None:
    first = await pipe.inbound.receive(delivery(document_json(example_order()), "t-1"))
    other = attrs.evolve(example_order(), number="PO-OTHER")
    second = await pipe.inbound.receive(delivery(document_json(other), "t-2"))
    record = await pipe.store.get(second)
    assert record is not None
    assert second != first
    assert record.transport_state is TransportState.DECODED


@pytest.mark.parametrize(("data", "reason"), [
    (BOMB, "detect"),
    (b"\x00\x01binary junk", "detect"),
    (b"<Unknown xmlns='urn:nobody'/>", "no installed format"),
    (b'{"document": "order", "schema_version": 1, "number": 5}', "decode"),
])
async def test_hostile_input_is_kept_raw_and_rejected(
    pipe: Pipeline, data: bytes, reason: str,
) -> None:
    message_id = await pipe.inbound.receive(delivery(data, None))
    record = await pipe.store.get(message_id)
    assert record is not None
    assert record.raw_payload == data
    assert record.transport_state is TransportState.REJECTED
    assert record.last_error is not None
    assert reason in record.last_error
    events = await pipe.store.events(message_id)
    assert [e.kind for e in events] == ["received", "rejected"]
    assert events[-1].detail["reason"]


async def test_oversized_input_is_refused_before_storing(pipe: Pipeline) -> None:
    pipe.inbound.max_bytes = 10
    with pytest.raises(DocumentTooLarge):
        await pipe.inbound.receive(delivery(b"x" * 11))
    assert (await pipe.store.list_messages()).items == ()


async def test_the_folder_channel_hands_files_to_the_sink(
    pipe: Pipeline, tmp_path: Path,
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    data = document_json(example_order())
    (inbox / "order.json").write_bytes(data)
    (inbox / "again.json").write_bytes(data)
    folder = pipe.registry.channel_type("folder").factory(
        "erp", {"inbox": str(inbox), "poll_interval": 0.02})
    # The channel's own watcher hands the files over; it starts scanning at once.
    await folder.start(ChannelContext("erp", inbound=pipe.inbound.receive))
    try:
        for _ in range(300):
            if not any(p.is_file() for p in inbox.iterdir()):
                break
            await asyncio.sleep(0.01)
    finally:
        await folder.stop()
    assert sorted(p.name for p in (inbox / "done").iterdir()) == ["again.json", "order.json"]
    page = await pipe.store.list_messages(direction=Direction.INBOUND)
    states = sorted(m.transport_state.value for m in page.items)
    assert states == ["decoded", "duplicate"]
