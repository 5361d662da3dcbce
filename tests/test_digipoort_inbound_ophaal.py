"""The OphaalService poller catches up on what a failed round lost.

getNieuweBerichten counts what it hands over as fetched; when the gateway
could not store it, the next round must ask again by time (getBerichten).
Real simulator, real inbound pipeline on SQLite.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from digipoort_channel_support import (
    SUPPLIER_KVK,
    client_settings,
    database_away,
    order_19,
    pki,
    registry,
    standards,
)

from gateway.channels import ChannelContext
from gateway.kinds import Direction
from gateway.pipeline import InboundPipeline
from gateway.store import Store, open_store
from plugins.digipoort.channel import DigipoortChannel
from plugins.digipoort.simulator import DigipoortSimulator, SimulatorSettings
from plugins.digipoort.wus.koppelvlak import Identiteit
from plugins.digipoort.wus.pki import Pki

__all__ = ["pki", "standards"]  # the shared fixtures, used by the tests here


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = open_store(f"sqlite:///{tmp_path / 'gateway.db'}")
    await opened.migrate()
    yield opened
    await opened.close()


async def test_a_round_that_could_not_store_is_fetched_again(
        pki: Pki, store: Store, tmp_path: Path) -> None:
    async with DigipoortSimulator(SimulatorSettings(pki_dir=pki.folder)) as simulator:
        message = simulator.make_afleverbericht(order_19(), "BESTELLING-UBL",
                                                ontvanger=Identiteit(SUPPLIER_KVK, "KvK"))
        simulator.queue_for_pickup(message)
        channel = DigipoortChannel("digipoort", client_settings(
            pki, aanlever_url=simulator.aanlever_url, status_url=simulator.status_url,
            ophaal=True, ophaal_url=simulator.ophaal_url, ophaal_poll_interval=3600))
        await channel.start(ChannelContext("digipoort", inbound=database_away,
                                           data_dir=str(tmp_path)))
        try:
            poller = channel.ophaal
            assert poller is not None

            def state() -> tuple[bool, bool]:
                return poller.catch_up, poller.watermark is not None

            for _ in range(200):  # the first round runs at start
                if state()[0]:
                    break
                await asyncio.sleep(0.02)
            assert state() == (True, False)
            page = await store.list_messages(direction=Direction.INBOUND)
            assert not page.items
            poller.inbound = InboundPipeline(store, registry()).receive
            assert await poller.poll_once() == 1
            assert state() == (False, True)
            assert (tmp_path / "digipoort" / "digipoort-ophaal.json").is_file()
            assert await poller.poll_once() == 0  # nothing new since
        finally:
            await channel.stop()
    [record] = (await store.list_messages(direction=Direction.INBOUND)).items
    assert record.transport_id == message.kenmerk
    assert record.document_kind == "order"


async def test_a_document_the_gateway_refuses_is_kept_aside_and_fetching_goes_on(
        pki: Pki, store: Store, tmp_path: Path) -> None:
    # Larger than the gateway takes: the same bytes get the same answer every round, so
    # kept in the spool it would stop all fetching for good.
    async with DigipoortSimulator(SimulatorSettings(pki_dir=pki.folder)) as simulator:
        order = order_19()
        large = simulator.make_afleverbericht(order, "BESTELLING-UBL",
                                              ontvanger=Identiteit(SUPPLIER_KVK, "KvK"))
        simulator.queue_for_pickup(large)
        channel = DigipoortChannel("digipoort", client_settings(
            pki, aanlever_url=simulator.aanlever_url, status_url=simulator.status_url,
            ophaal=True, ophaal_url=simulator.ophaal_url, ophaal_poll_interval=3600))
        inbound = InboundPipeline(store, registry(), max_bytes=len(order) - 1)
        await channel.start(ChannelContext("digipoort", inbound=inbound.receive,
                                           data_dir=str(tmp_path)))
        try:
            poller = channel.ophaal
            assert poller is not None
            refused = tmp_path / "digipoort" / "refused"
            for _ in range(200):  # the first round runs at start
                if list(refused.glob("*.error.json")):
                    break
                await asyncio.sleep(0.02)
            [kept] = [p for p in refused.iterdir() if not p.name.endswith(".error.json")]
            assert kept.read_bytes() == order
            assert large.kenmerk in kept.name
            note = json.loads((refused / f"{kept.name}.error.json").read_text("utf-8"))
            assert note["kenmerk"] == large.kenmerk
            assert "too large" in note["reason"] or "bytes" in note["reason"]
            assert poller.spools() == []
            # Until a person takes it out of the folder, /health says it waits.
            [problem] = await channel.problems()
            assert "1 document(s) fetched from the OphaalService were refused" in problem
            assert str(refused) in problem
            kept.unlink()
            assert await channel.problems() == ()

            poller.inbound = InboundPipeline(store, registry()).receive
            smaller = simulator.make_afleverbericht(order, "BESTELLING-UBL",
                                                    ontvanger=Identiteit(SUPPLIER_KVK, "KvK"))
            simulator.queue_for_pickup(smaller)
            assert await poller.poll_once() == 1
        finally:
            await channel.stop()
    [record] = (await store.list_messages(direction=Direction.INBOUND)).items
    assert record.transport_id == smaller.kenmerk


async def test_a_document_of_many_megabytes_is_fetched_and_stored(
        pki: Pki, store: Store, tmp_path: Path) -> None:
    # Base64 of a document over 7.5 MB is a text node over libxml2's 10 MB default
    # limit: the answer itself was read, but its spool was not, so it was set aside as
    # unreadable, and every catch-up round fetched the same document again.
    order = order_19() + b"".join(b"<!--" + b"x" * 1_000_000 + b"-->" for _ in range(8))
    async with DigipoortSimulator(SimulatorSettings(pki_dir=pki.folder)) as simulator:
        message = simulator.make_afleverbericht(order, "BESTELLING-UBL",
                                                ontvanger=Identiteit(SUPPLIER_KVK, "KvK"))
        simulator.queue_for_pickup(message)
        channel = DigipoortChannel("digipoort", client_settings(
            pki, aanlever_url=simulator.aanlever_url, status_url=simulator.status_url,
            ophaal=True, ophaal_url=simulator.ophaal_url, ophaal_poll_interval=3600))
        await channel.start(ChannelContext("digipoort", inbound=database_away,
                                           data_dir=str(tmp_path)))
        try:
            poller = channel.ophaal
            assert poller is not None
            for _ in range(500):  # the first round runs at start, and cannot store
                if poller.catch_up:
                    break
                await asyncio.sleep(0.02)
            poller.inbound = InboundPipeline(store, registry()).receive
            assert await poller.poll_once() == 1
            assert poller.spools() == []
            assert not (tmp_path / "digipoort" / "refused").exists() or not any(
                (tmp_path / "digipoort" / "refused").iterdir())
        finally:
            await channel.stop()
    [record] = (await store.list_messages(direction=Direction.INBOUND)).items
    assert record.transport_id == message.kenmerk
    assert record.raw_payload == order
