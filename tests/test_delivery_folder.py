"""Delivery of inbound documents into a folder, and poll mode, which pushes nothing."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from pathlib import Path

import attrs
import pytest
from delivery_support import deliver_until
from pipeline_support import FAST, Pipeline, document_json, make_pipeline

from gateway.channels import InboundDocument
from gateway.config.model import ErpSettings
from gateway.delivery import DeliveryWorker
from gateway.delivery.envelope import envelope
from gateway.model.samples import example_order
from gateway.store import Store, TransportState, open_store

DONE = (TransportState.DELIVERED, TransportState.FAILED)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    async with open_store(f"sqlite:///{tmp_path / 'gateway.db'}") as opened:
        await opened.migrate()
        yield opened


def worker_for(pipe: Pipeline, settings: ErpSettings) -> DeliveryWorker:
    config = attrs.evolve(pipe.config, erp=settings)
    return DeliveryWorker(pipe.store, lambda: config, FAST, instance="test")


async def received_order(pipe: Pipeline, number: str = "PO/2024:17") -> tuple[str, bytes]:
    data = document_json(attrs.evolve(example_order(), number=number))
    message_id = await pipe.inbound.receive(InboundDocument(
        data=data, channel="folder", transport_id=f"t-{number}"))
    return message_id, data


async def test_folder_delivery_writes_the_envelope_and_the_raw_bytes(
    store: Store, tmp_path: Path,
) -> None:
    pipe = await make_pipeline(store, tmp_path)
    message_id, data = await received_order(pipe)
    erp_folder = tmp_path / "erp-in"
    worker = worker_for(pipe, ErpSettings(delivery="folder", folder=erp_folder,
                                          include_raw=True))
    record = await deliver_until(worker, store, message_id, DONE)
    assert record.transport_state is TransportState.DELIVERED
    stem = f"order-PO_2024_17-{message_id}"
    # Only the finished files: no temporary file is left behind.
    assert sorted(p.name for p in erp_folder.iterdir()) == [f"{stem}.json", f"{stem}.raw.json"]
    assert (erp_folder / f"{stem}.raw.json").read_bytes() == data
    body = json.loads((erp_folder / f"{stem}.json").read_bytes())
    assert body["message_id"] == message_id
    assert body["document_number"] == "PO/2024:17"
    assert body["document"]["number"] == "PO/2024:17"
    # The raw bytes are beside it, not inside it.
    assert "raw_base64" not in body
    [delivered] = [e for e in await store.events(message_id) if e.kind == "delivered"]
    assert delivered.detail["reference"] == f"{stem}.json"


async def test_a_folder_that_cannot_be_written_is_retried_then_dead_lettered(
    store: Store, tmp_path: Path,
) -> None:
    pipe = await make_pipeline(store, tmp_path)
    pipe.inbound.max_attempts = 2  # [erp] max_attempts when the document arrived
    message_id, _ = await received_order(pipe)
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the folder should be")
    worker = worker_for(pipe, ErpSettings(delivery="folder", folder=blocker, max_attempts=2))
    record = await deliver_until(worker, store, message_id, DONE)
    assert record.transport_state is TransportState.FAILED
    assert record.last_error is not None
    assert record.last_error.startswith("gave up after 2 of 2 attempts: cannot write into")
    assert str(blocker) in record.last_error


async def test_poll_mode_leaves_the_document_for_the_erp_to_fetch(
    store: Store, tmp_path: Path,
) -> None:
    pipe = await make_pipeline(store, tmp_path)
    message_id, _ = await received_order(pipe)
    worker = worker_for(pipe, ErpSettings(delivery="poll"))
    assert await worker.run_once() == 0
    record = await store.get(message_id)
    assert record is not None
    assert record.transport_state is TransportState.DECODED
    assert record.attempts == 0
    # The ERP's acknowledgement (through the API) is what ends it.
    acknowledged = await store.acknowledge(message_id)
    assert acknowledged.transport_state is TransportState.ACKNOWLEDGED


async def test_the_webhook_envelope_carries_the_raw_bytes_when_asked(
    store: Store, tmp_path: Path,
) -> None:
    pipe = await make_pipeline(store, tmp_path)
    message_id, data = await received_order(pipe)
    record = await store.get(message_id)
    assert record is not None
    assert base64.b64decode(envelope(record, include_raw=True)["raw_base64"]) == data
