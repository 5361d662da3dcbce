"""Orders from the Digipoort simulator reach the running gateway's inbox exactly once.

Pushed to the channel's AfleverService (two-way TLS, signed both ways), or
fetched from the simulator's OphaalService; delivered twice either way.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from digipoort_channel_support import (
    SUPPLIER_KVK,
    aflever_settings,
    gateway_config,
    order_19,
    pki,
    standards,
)
from pipeline_support import FAST

from gateway.kinds import Direction
from gateway.pluginmanager import make_plugin_manager
from gateway.service import GatewayService
from gateway.store import MessageRecord, TransportState
from plugins.digipoort.channel import DigipoortChannel
from plugins.digipoort.simulator import DigipoortSimulator, SimulatorSettings
from plugins.digipoort.wus.koppelvlak import Identiteit
from plugins.digipoort.wus.pki import Pki

__all__ = ["pki", "standards"]  # the shared fixtures, used by the tests here


@pytest.fixture
async def simulator(pki: Pki) -> AsyncIterator[DigipoortSimulator]:
    async with DigipoortSimulator(SimulatorSettings(pki_dir=pki.folder)) as running:
        yield running


async def started(tmp_path: Path, settings: dict[str, Any]) -> GatewayService:
    del settings["belanghebbende_nummer"]  # the gateway's [supplier] says who we are
    service = GatewayService(gateway_config(tmp_path, settings), make_plugin_manager(),
                             dispatch=FAST)
    await service.start()
    assert "digipoort" in service.channels, service.channel_problems
    return service


async def inbox(service: GatewayService) -> list[MessageRecord]:
    assert service.store is not None
    page = await service.store.list_messages(direction=Direction.INBOUND, limit=100)
    return list(page.items)


async def test_an_order_pushed_twice_is_in_the_inbox_once(
        pki: Pki, simulator: DigipoortSimulator, tmp_path: Path) -> None:
    service = await started(tmp_path, aflever_settings(
        pki, aanlever_url=simulator.aanlever_url, status_url=simulator.status_url))
    try:
        channel = service.channels["digipoort"]
        assert isinstance(channel, DigipoortChannel)
        assert channel.aflever is not None
        message = simulator.make_afleverbericht(order_19(), "BESTELLING-UBL",
                                                ontvanger=Identiteit(SUPPLIER_KVK, "KvK"))
        answers = [await simulator.deliver(b"", "BESTELLING-UBL", to=channel.aflever.url,
                                           message=message) for _ in range(2)]
        assert {a.kenmerk for a in answers} == {message.kenmerk}
        [record] = await inbox(service)
        assert record.transport_id == message.kenmerk
        assert record.transport_state is TransportState.DECODED
        assert record.document_kind == "order"
        assert record.raw_payload == order_19()
    finally:
        await service.stop()


async def test_an_order_fetched_twice_is_in_the_inbox_once(
        pki: Pki, simulator: DigipoortSimulator, tmp_path: Path) -> None:
    settings = aflever_settings(pki, aanlever_url=simulator.aanlever_url,
                                status_url=simulator.status_url)
    for key in ("aflever_listen", "aflever_certificate", "aflever_private_key",
                "aflever_client_ca", "aflever_client_ids"):
        del settings[key]
    settings.update(ophaal=True, ophaal_url=simulator.ophaal_url, ophaal_poll_interval=0.05)
    message = simulator.make_afleverbericht(order_19(), "BESTELLING-UBL",
                                            ontvanger=Identiteit(SUPPLIER_KVK, "KvK"))
    simulator.queue_for_pickup(message)
    first = await started(tmp_path, dict(settings))
    try:
        for _ in range(200):
            if await inbox(first):
                break
            await asyncio.sleep(0.05)
        # Offered again (a second mailbox entry with the same kenmerk).
        simulator.queue_for_pickup(message)
        await asyncio.sleep(0.5)
        poller = first.channels["digipoort"]
        assert isinstance(poller, DigipoortChannel)
        assert poller.ophaal is not None
        before = poller.ophaal.watermark
    finally:
        await first.stop()
    assert before is not None
    # A restart catches up with getBerichten from the watermark: the same order again.
    second = await started(tmp_path, dict(settings))
    try:
        channel = second.channels["digipoort"]
        assert isinstance(channel, DigipoortChannel)
        assert channel.ophaal is not None
        await asyncio.sleep(0.3)
        assert not channel.ophaal.catch_up
        assert channel.ophaal.watermark is not None
        assert channel.ophaal.watermark > before
        [record] = await inbox(second)
        assert record.transport_id == message.kenmerk
        assert record.document_kind == "order"
    finally:
        await second.stop()
