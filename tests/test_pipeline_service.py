"""The pipeline inside the running gateway: store from the config, dispatcher, health."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import attrs
from pipeline_support import AGENCY_OIN, FAST, RecorderPlugin, config_text, document_json

from gateway.channels import InboundDocument
from gateway.model.samples import example_invoice, example_order
from gateway.pluginmanager import make_plugin_manager
from gateway.service import GatewayService
from gateway.store import TransportState


async def test_the_gateway_queues_sends_and_counts(store_url: str, tmp_path: Path) -> None:
    path = tmp_path / "gateway.toml"
    path.write_text(config_text(tmp_path, database=store_url), "utf-8")
    plugin = RecorderPlugin()
    # A long poll: the message goes out at once only because queueing it wakes the workers.
    service = GatewayService(path, make_plugin_manager(plugins=[("recorder", plugin)]),
                             dispatch=attrs.evolve(FAST, idle_poll=30.0))
    await service.start()
    try:
        assert service.outbound is not None
        assert service.store is not None
        record, created = await service.outbound.submit(
            document_json(example_invoice()), agency_oin=AGENCY_OIN)
        assert created
        for _ in range(300):
            current = await service.store.get(record.id)
            assert current is not None
            if current.transport_state is TransportState.SENT:
                break
            await asyncio.sleep(0.01)
        assert current is not None
        assert current.transport_state is TransportState.SENT
        [message] = plugin.instances["recorder"].calls
        assert message.message_id == record.id
        await service.receive(InboundDocument(
            data=document_json(example_order()), channel="folder", transport_id="o-1"))
        assert service.address is not None
        host, port = service.address
        async with aiohttp.ClientSession() as session, session.get(
            f"http://{host}:{port}/health"
        ) as response:
            report = await response.json()
        assert report["messages"] == {"outbound": {"sent": 1}, "inbound": {"decoded": 1}}
        assert report["channels"]["recorder"] == "running"
    finally:
        await service.stop()


async def test_queued_messages_survive_a_restart(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'gateway.db'}"
    path = tmp_path / "gateway.toml"
    path.write_text(config_text(tmp_path, database=url), "utf-8")
    first = GatewayService(path, make_plugin_manager(plugins=[("recorder", RecorderPlugin())]),
                           dispatch=attrs.evolve(FAST, workers=0))
    await first.start()
    try:
        assert first.outbound is not None
        record, _ = await first.outbound.submit(document_json(example_invoice()),
                                                agency_oin=AGENCY_OIN)
    finally:
        await first.stop()
    plugin = RecorderPlugin()
    second = GatewayService(path, make_plugin_manager(plugins=[("recorder", plugin)]),
                            dispatch=FAST)
    await second.start()
    try:
        assert second.store is not None
        for _ in range(300):
            if plugin.instances["recorder"].calls:
                break
            await asyncio.sleep(0.01)
        [message] = plugin.instances["recorder"].calls
        assert message.message_id == record.id
    finally:
        await second.stop()
