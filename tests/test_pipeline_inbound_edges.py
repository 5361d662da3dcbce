"""The inbound sink: what an operator sees for broken input and conflicting deliveries."""

from __future__ import annotations

import attrs
import pytest
from pipeline_support import Pipeline, document_json

from gateway.channels import InboundDocument
from gateway.kinds import Direction
from gateway.model.samples import example_order
from gateway.store import TransportState


def delivery(data: bytes, transport_id: str | None = "t-1") -> InboundDocument:
    return InboundDocument(data=data, channel="folder", transport_id=transport_id,
                           filename="order.xml")


BROKEN_XML = (b"<?xml version='1.0'?>\n"
              b"<Order xmlns='urn:oasis:names:specification:ubl:schema:xsd:Order-2'>\n"
              b"  <ID>PO-1</ID>\n"
              b"  <IssueDate>2026-01-01</Issue>\n"
              b"</Order>\n")


@pytest.mark.parametrize(("data", "expected"), [
    # A transfer cut off half way: the operator must see it is broken JSON, and where.
    (document_json(example_order())[:300], "not well-formed JSON: line "),
    (BROKEN_XML, "not well-formed XML: line 4"),
])
async def test_undecodable_input_is_rejected_naming_format_and_line(
    pipe: Pipeline, data: bytes, expected: str,
) -> None:
    message_id = await pipe.inbound.receive(delivery(data, None))
    record = await pipe.store.get(message_id)
    assert record is not None
    assert record.transport_state is TransportState.REJECTED
    assert record.raw_payload == data
    assert record.last_error is not None
    assert expected in record.last_error, record.last_error


async def test_the_same_transport_id_with_other_bytes_is_kept_for_an_operator(
    pipe: Pipeline,
) -> None:
    """A channel reusing a transport id for other bytes is a conflict, not a repeat.

    Answering with the first message's id would drop the second document
    silently after the channel acknowledged it to its sender.
    """
    first_data = document_json(example_order())
    other_data = document_json(attrs.evolve(example_order(), number="PO-OTHER"))
    first = await pipe.inbound.receive(delivery(first_data, "t-same"))
    second = await pipe.inbound.receive(delivery(other_data, "t-same"))
    assert second != first
    record = await pipe.store.get(second)
    assert record is not None
    assert record.raw_payload == other_data
    assert record.transport_state is TransportState.REJECTED
    assert record.last_error is not None
    assert "t-same" in record.last_error
    assert first in record.last_error
    # The same conflicting delivery repeated is still one message, not one per repeat.
    assert await pipe.inbound.receive(delivery(other_data, "t-same")) == second
    assert await pipe.inbound.receive(delivery(first_data, "t-same")) == first
    page = await pipe.store.list_messages(direction=Direction.INBOUND)
    assert len(page.items) == 2


async def test_a_duplicate_whose_content_differs_says_so(pipe: Pipeline) -> None:
    """The same number with other content is held back as a duplicate of the first version.

    The operator must be able to tell that from a plain repeat on the timeline:
    it may be a change the ERP has not seen.
    """
    first = await pipe.inbound.receive(delivery(document_json(example_order()), "t-1"))
    repeat = await pipe.inbound.receive(delivery(document_json(example_order()), "t-2"))
    changed = attrs.evolve(example_order(), notes=("deliver to the back door",))
    second = await pipe.inbound.receive(delivery(document_json(changed), "t-3"))
    plain = (await pipe.store.events(repeat))[-1]
    assert (plain.kind, plain.detail["original"]) == ("duplicate", first)
    assert "differs" not in plain.detail
    event = (await pipe.store.events(second))[-1]
    assert (event.kind, event.detail["original"]) == ("duplicate", first)
    assert event.detail.get("differs") is True
    assert any("differs from" in warning and first in warning
               for warning in event.detail["warnings"])
