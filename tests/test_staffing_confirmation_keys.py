"""A staffing confirmation's key names the order it confirms.

Its id is the supplier's HumanResourceId, which names the person proposed:
the confirmation of a second order for the same person came with the same
id and was taken for a repeat of the first, inbound (marked duplicate, never
delivered to the ERP) and outbound (answered as the first, never sent).
"""

from __future__ import annotations

from pathlib import Path

import attrs
from pipeline_support import AGENCY_OIN, Pipeline, document_json, make_pipeline

from gateway.channels import InboundDocument
from gateway.delivery.envelope import envelope
from gateway.model import HumanResource
from gateway.model.samples import example_human_resource
from gateway.pipeline.keys import number_from_key
from gateway.store import Store, TransportState


def confirmation(order: str) -> HumanResource:
    return attrs.evolve(example_human_resource(), order_reference=order)


async def receive(pipe: Pipeline, document: HumanResource, transport_id: str) -> str:
    return await pipe.inbound.receive(InboundDocument(
        data=document_json(document), channel="folder", transport_id=transport_id))


async def test_inbound_confirmations_of_two_orders_are_two_documents(pipe: Pipeline) -> None:
    first = await receive(pipe, confirmation("45001577255"), "h-1")
    second = await receive(pipe, confirmation("45001577999"), "h-2")
    repeat = await receive(pipe, confirmation("45001577999"), "h-3")
    states = {}
    for message_id in (first, second, repeat):
        record = await pipe.store.get(message_id)
        assert record is not None
        states[message_id] = record.transport_state
    assert states[first] is TransportState.DECODED
    assert states[second] is TransportState.DECODED
    assert states[repeat] is TransportState.DUPLICATE
    events = await pipe.store.events(repeat)
    assert events[-1].detail["original"] == second
    record = await pipe.store.get(second)
    assert record is not None
    assert record.business_key == f"{AGENCY_OIN}:human-resource:55844255:order:45001577999"
    # The ERP is told the confirmation's own id.
    assert envelope(record)["document_number"] == "55844255"


async def test_outbound_confirmations_of_two_orders_are_both_sent(
    store: Store, tmp_path: Path,
) -> None:
    pipe = await make_pipeline(store, tmp_path, agency_settings=(
        f'\n[agencies."{AGENCY_OIN}".documents.human-resource]\n'
        'format = "canonical:human-resource:1"\n'))
    first, created = await pipe.outbound.submit(
        document_json(confirmation("45001577255")), agency_oin=AGENCY_OIN)
    assert created
    second, created = await pipe.outbound.submit(
        document_json(confirmation("45001577999")), agency_oin=AGENCY_OIN)
    assert created
    assert second.id != first.id
    repeat, created = await pipe.outbound.submit(
        document_json(confirmation("45001577999")), agency_oin=AGENCY_OIN)
    assert not created
    assert repeat.id == second.id
    assert second.business_key is not None
    assert number_from_key(second.business_key) == "55844255"


async def test_a_confirmation_is_found_by_its_own_id(pipe: Pipeline) -> None:
    first = await receive(pipe, confirmation("45001577255"), "h-1")
    second = await receive(pipe, confirmation("45001577999"), "h-2")
    found = await pipe.store.list_messages(number="55844255")
    # By the id the ERP is told (envelope's document_number), not the key's mark.
    assert {record.id for record in found.items} == {first, second}
    assert (await pipe.store.list_messages(number="45001577999")).items == ()
