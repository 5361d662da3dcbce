"""Messages left ``received`` (stored, never processed) are processed later, not forgotten."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import attrs
from pipeline_support import FAST, Pipeline, RecorderPlugin, config_text, document_json

from gateway.model.samples import example_order
from gateway.pluginmanager import make_plugin_manager
from gateway.service import GatewayService
from gateway.store import MessageRecord, NewEvent, Store, TransportState
from gateway.store.model import utc_now


async def left_received(store: Store, number: str, age: timedelta) -> MessageRecord:
    """What a gateway stopped between storing and processing leaves behind."""
    data = document_json(attrs.evolve(example_order(), number=number))
    record = MessageRecord.new_inbound(channel="folder", raw_payload=data,
                                       transport_id=f"t-{number}", now=utc_now() - age)
    stored, created = await store.add_inbound_raw(record, [NewEvent("received", {})])
    assert created
    return stored


async def test_recover_processes_what_was_left_received_a_while_ago(pipe: Pipeline) -> None:
    old = await left_received(pipe.store, "PO-OLD", timedelta(minutes=5))
    fresh = await left_received(pipe.store, "PO-NEW", timedelta(seconds=1))
    assert await pipe.inbound.recover() == 1
    decoded = await pipe.store.get(old.id)
    assert decoded is not None
    assert decoded.transport_state is TransportState.DECODED
    assert decoded.business_key is not None
    assert decoded.business_key.endswith("PO-OLD")
    # The fresh one may still be in the hands of the call that stored it.
    still = await pipe.store.get(fresh.id)
    assert still is not None
    assert still.transport_state is TransportState.RECEIVED
    assert await pipe.inbound.recover() == 0  # nothing older is left


async def test_recover_goes_through_every_page(pipe: Pipeline) -> None:
    ids = [(await left_received(pipe.store, f"PO-{n}", timedelta(minutes=2))).id
           for n in range(105)]
    assert await pipe.inbound.recover() == 105
    for message_id in ids:
        record = await pipe.store.get(message_id)
        assert record is not None
        assert record.transport_state is TransportState.DECODED


async def test_a_started_gateway_processes_what_the_last_run_left(
    store: Store, store_url: str, tmp_path: Path,
) -> None:
    path = tmp_path / "gateway.toml"
    path.write_text(config_text(tmp_path, database=store_url), "utf-8")
    old = await left_received(store, "PO-LEFT", timedelta(minutes=5))
    gateway = GatewayService(path, make_plugin_manager(plugins=[("recorder", RecorderPlugin())]),
                             dispatch=FAST)
    await gateway.start()
    try:
        assert gateway.store is not None
        for _ in range(300):
            record = await gateway.store.get(old.id)
            assert record is not None
            if record.transport_state is not TransportState.RECEIVED:
                break
            await asyncio.sleep(0.01)
    finally:
        await gateway.stop()
    assert record is not None
    assert record.transport_state is TransportState.DECODED

