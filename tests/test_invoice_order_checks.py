"""An invoice's order reference is held against the orders the agency sent us.

Ministries refuse an invoice whose order number is not one of theirs. An
invoice naming an order the gateway never received from that agency was sent
without a word; each agency's ``unreceived_orders`` now says what to do.
"""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest
from pipeline_support import AGENCY_OIN, OTHER_OIN, Pipeline, document_json, make_pipeline

from gateway.api.outbound import rejection_problem
from gateway.channels import InboundDocument
from gateway.errors import ConfigError
from gateway.model import CanonicalDocument, OrderReference, Party, PartyId
from gateway.model.samples import example_invoice, example_order, example_staffing_order
from gateway.pipeline.errors import DocumentRejected
from gateway.store import Store, TransportState

ORDER = "40000695"  # example_order()'s number, which example_invoice() names


async def receive(pipe: Pipeline, document: CanonicalDocument, transport_id: str) -> None:
    message_id = await pipe.inbound.receive(InboundDocument(
        data=document_json(document), channel="folder", transport_id=transport_id))
    record = await pipe.store.get(message_id)
    assert record is not None
    assert record.transport_state is TransportState.DECODED


async def warnings_of(pipe: Pipeline, message_id: str) -> list[str]:
    check = next(e for e in await pipe.store.events(message_id) if e.kind == "check")
    warnings: list[str] = check.detail.get("warnings", [])
    return warnings


async def with_setting(store: Store, tmp_path: Path, setting: str) -> Pipeline:
    return await make_pipeline(store, tmp_path,
                               agency_settings=f'unreceived_orders = "{setting}"\n')


async def test_an_order_never_received_is_a_warning_where_asked(
    store: Store, tmp_path: Path,
) -> None:
    pipe = await with_setting(store, tmp_path, "warn")
    record = await pipe.submit(example_invoice())
    assert record.transport_state is TransportState.QUEUED
    assert await warnings_of(pipe, record.id) == [
        f"order {ORDER!r} was never received from agency {AGENCY_OIN} (Naam "
        "Overheidsorganisatie); the agency refuses an invoice whose order number is not one "
        "of its orders (at order_reference.id)"]


async def test_an_order_received_from_the_agency_passes_without_a_word(
    store: Store, tmp_path: Path,
) -> None:
    pipe = await with_setting(store, tmp_path, "warn")
    await receive(pipe, example_order(), "o-1")
    record = await pipe.submit(example_invoice())
    assert await warnings_of(pipe, record.id) == []


async def test_refused_where_the_agency_says_so(store: Store, tmp_path: Path) -> None:
    pipe = await with_setting(store, tmp_path, "refuse")
    # The same number from another agency is not this agency's order.
    other = Party(ids=(PartyId(scheme="OIN", value=OTHER_OIN),))
    await receive(pipe, attrs.evolve(example_order(), buyer=other), "o-1")
    with pytest.raises(DocumentRejected) as caught:
        await pipe.outbound.submit(document_json(example_invoice()), agency_oin=AGENCY_OIN)
    problem = await rejection_problem(pipe.store, caught.value)
    assert problem.status == 422
    assert problem.errors == [{
        "field": "$.order_reference.id", "rule": "order-not-received",
        "message": f"order {ORDER!r} was never received from agency {AGENCY_OIN} (Naam "
                   "Overheidsorganisatie); the agency refuses an invoice whose order number "
                   "is not one of its orders"}]
    assert caught.value.message_id is not None
    rejected = await pipe.store.get(caught.value.message_id)
    assert rejected is not None
    assert rejected.transport_state is TransportState.REJECTED

    await receive(pipe, example_order(), "o-2")
    record = await pipe.submit(example_invoice())
    assert record.transport_state is TransportState.QUEUED


async def test_a_staffing_order_is_an_order_too(store: Store, tmp_path: Path) -> None:
    pipe = await with_setting(store, tmp_path, "refuse")
    staffing = example_staffing_order()
    await receive(pipe, attrs.evolve(staffing, customer=example_order().buyer), "s-1")
    invoice = attrs.evolve(example_invoice(),
                           order_reference=OrderReference(id=staffing.order_id))
    record = await pipe.submit(invoice)
    assert record.transport_state is TransportState.QUEUED


async def test_off_says_nothing_and_is_the_default(
    store: Store, tmp_path: Path, pipe: Pipeline,
) -> None:
    for quiet in (await with_setting(store, tmp_path, "off"), pipe):
        record = await quiet.submit(attrs.evolve(example_invoice(), number=f"F-{id(quiet)}"))
        assert await warnings_of(quiet, record.id) == []


async def test_a_setting_that_is_no_choice_names_the_key(store: Store, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"gateway.toml:20, key 'agencies.*unreceived_orders'"
                                          r": unreceived_orders must be one of refuse, warn, "
                                          r"off; got 'refuze'; did you mean 'refuse'\?"):
        await with_setting(store, tmp_path, "refuze")
