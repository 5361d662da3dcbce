"""The inbound sink with thin or odd delivery details: a blank transport id is no id, and a
NUL in a file name or metadata does not cost the document on either store."""

from __future__ import annotations

import attrs
import pytest
from pipeline_support import Pipeline, document_json

from gateway.channels import InboundDocument
from gateway.model.samples import example_order
from gateway.store import MessageRecord, Store, StoreError, TransportState


@pytest.mark.parametrize("blank", ["", "  "])
async def test_two_documents_delivered_with_a_blank_transport_id_are_both_kept(
    pipe: Pipeline, blank: str,
) -> None:
    # An afleverRequest may carry an empty <kenmerk/> (kenmerkType has no minLength, and
    # the aflever server does not validate what it reads); a channel plugin may say "" for
    # "no id". Two different orders, then, each with a blank transport id.
    first = document_json(attrs.evolve(example_order(), number="PO-EMPTY-1"))
    second = document_json(attrs.evolve(example_order(), number="PO-EMPTY-2"))
    first_id = await pipe.inbound.receive(InboundDocument(
        data=first, channel="folder", transport_id=blank))
    # Taken as an id, the second order was refused on SQLite ("a message with id ...
    # exists already", naming an id nobody chose) and on PostgreSQL answered with the
    # first one's id: acknowledged to the sender and lost.
    second_id = await pipe.inbound.receive(InboundDocument(
        data=second, channel="folder", transport_id=blank))
    assert second_id != first_id
    for message_id, data in ((first_id, first), (second_id, second)):
        stored = await pipe.store.get(message_id)
        assert stored is not None
        assert stored.raw_payload == data
        assert stored.transport_state is TransportState.DECODED
        assert (stored.transport_id, stored.transport_ids) == (None, ())


async def test_both_stores_refuse_a_blank_transport_id_given_to_them_directly(
    store: Store,
) -> None:
    # MessageRecord.new_inbound makes a blank id None; a record built otherwise must not
    # reach the backends, whose duplicate lookups disagree on "".
    record = attrs.evolve(
        MessageRecord.new_inbound(channel="folder", raw_payload=b"{}", transport_id="t-1"),
        transport_id="", transport_ids=("",))
    with pytest.raises(StoreError, match="blank transport id"):
        await store.add_inbound_raw(record)
    assert await store.get(record.id) is None


async def test_a_received_file_name_with_a_nul_is_stored(pipe: Pipeline) -> None:
    # The portal's import API passes the JSON body's "filename" and "by" through to the
    # sink unchanged; JSON may carry \u0000. The sink's contract: it refuses only oversized
    # input, and stores the raw bytes before anything else. The 'received' event was
    # written without the NUL replacement every later event gets, and PostgreSQL jsonb
    # cannot hold \u0000: the insert failed, nothing was stored, the document refused.
    message_id = await pipe.inbound.receive(InboundDocument(
        data=document_json(example_order()), channel="folder", transport_id="t-nul",
        filename="order\x00.json", metadata={"by": "clerk\x00"}))
    record = await pipe.store.get(message_id)
    assert record is not None
    assert record.transport_state is TransportState.DECODED
    [received] = [e for e in await pipe.store.events(message_id) if e.kind == "received"]
    # Both stores keep the same thing: the replacement character where the NUL was.
    assert received.detail["filename"] == "order\ufffd.json"
    assert received.detail["metadata"] == {"by": "clerk\ufffd"}
