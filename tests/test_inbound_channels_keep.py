"""Inbound channels keep what they were handed when the gateway cannot take it at once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from digipoort_channel_support import SUPPLIER_KVK, client_settings, order_19, pki, registry

from gateway.channels import ChannelContext, InboundDocument
from gateway.kinds import Direction
from gateway.model import Order
from gateway.model.common import Attachment
from gateway.model.json import loads
from gateway.paths import STANDARDS_DIR_ENV
from gateway.pipeline import InboundPipeline
from gateway.store import Store, StoreError, TransportState, open_store
from plugins.digipoort.channel import DigipoortChannel
from plugins.digipoort.simulator import DigipoortSimulator, SimulatorSettings
from plugins.digipoort.wus.koppelvlak import Identiteit
from plugins.digipoort.wus.pki import Pki
from plugins.folder.channel import FolderChannel

__all__ = ["pki"]  # the shared fixture, used by the tests here


@pytest.fixture
def standards(installed_standards: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(STANDARDS_DIR_ENV, str(installed_standards))


@pytest.fixture
async def sqlite_store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = open_store(f"sqlite:///{tmp_path / 'gateway.db'}")
    await opened.migrate()
    yield opened
    await opened.close()


async def test_documents_of_a_first_ophaal_round_cut_off_survive_a_restart(
        pki: Pki, sqlite_store: Store, tmp_path: Path, standards: None) -> None:
    """getNieuweBerichten counts what it hands over as fetched.

    The very first round (no watermark file yet) fetches a document and the
    gateway stops before it is stored (here: the sink fails; a kill -9 is the
    same). With no watermark there is nothing to catch up from by time, and
    getNieuweBerichten returns nothing again: only the spool has the document.
    """
    async with DigipoortSimulator(SimulatorSettings(pki_dir=pki.folder)) as simulator:
        message = simulator.make_afleverbericht(order_19(), "BESTELLING-UBL",
                                                ontvanger=Identiteit(SUPPLIER_KVK, "KvK"))
        simulator.queue_for_pickup(message)
        settings = client_settings(
            pki, aanlever_url=simulator.aanlever_url, status_url=simulator.status_url,
            ophaal=True, ophaal_url=simulator.ophaal_url, ophaal_poll_interval=3600)

        async def crashing(document: InboundDocument) -> str:
            raise StoreError("the gateway died here")

        before = DigipoortChannel("digipoort", settings)
        await before.start(ChannelContext("digipoort", inbound=crashing,
                                          data_dir=str(tmp_path)))
        try:
            assert before.ophaal is not None
            for _ in range(300):  # the first round runs at start
                if before.ophaal.catch_up:
                    break
                await asyncio.sleep(0.02)
            assert before.ophaal.catch_up  # the round failed after fetching
        finally:
            await before.stop()

        # The restart: a new process, the same data directory.
        pipeline = InboundPipeline(sqlite_store, registry())
        after = DigipoortChannel("digipoort", settings)
        await after.start(ChannelContext("digipoort", inbound=pipeline.receive,
                                         data_dir=str(tmp_path)))
        try:
            assert after.ophaal is not None
            await after.ophaal.poll_once()
            await asyncio.sleep(0.2)
        finally:
            await after.stop()
    page = await sqlite_store.list_messages(direction=Direction.INBOUND)
    assert [m.transport_id for m in page.items] == [message.kenmerk]


async def test_a_folder_file_is_retried_after_a_transient_store_failure(
        sqlite_store: Store, tmp_path: Path) -> None:
    """The store is briefly unavailable when the folder channel hands a file over.

    The file stays in the inbox (nothing was stored) and is taken on a later
    scan, not moved to error/ as if the document were refused.
    """
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    from pipeline_support import document_json

    from gateway.model.samples import example_order
    (inbox / "order.json").write_bytes(document_json(example_order()))
    reg = registry()
    pipeline = InboundPipeline(sqlite_store, reg)
    down = True

    async def sink(document: InboundDocument) -> str:
        if down:
            raise StoreError("PostgreSQL: ConnectionDoesNotExistError: connection was closed")
        return await pipeline.receive(document)

    folder = reg.channel_type("folder").factory("erp", {"inbox": str(inbox),
                                                        "poll_interval": 3600})
    assert isinstance(folder, FolderChannel)
    await folder.start(ChannelContext("erp", inbound=sink, store=sqlite_store))
    try:
        await asyncio.sleep(0.1)  # the first scan runs at start, while the store is down
        down = False
        await folder.scan_once()  # the store is back
    finally:
        await folder.stop()
    page = await sqlite_store.list_messages(direction=Direction.INBOUND)
    assert len(page.items) == 1, sorted(p.name for p in (inbox / "error").iterdir())


async def test_attachments_of_a_digipoort_delivery_are_kept(
        pki: Pki, sqlite_store: Store, standards: None) -> None:
    """An afleverRequest may carry berichtBijlagen (for invoices the attachments go
    there, not in the UBL), and afleverResponse tells Digipoort they arrived:
    they are stored with the document and reach the ERP in its attachments."""
    import attrs

    from plugins.digipoort.aflever import inbound_document
    from plugins.digipoort.wus.koppelvlak import BerichtInhoud

    async with DigipoortSimulator(SimulatorSettings(pki_dir=pki.folder)) as simulator:
        message = simulator.make_afleverbericht(order_19(), "BESTELLING-UBL",
                                                ontvanger=Identiteit(SUPPLIER_KVK, "KvK"))
    pdf = b"%PDF-1.4 specification of the ordered goods"
    message = attrs.evolve(message, bijlagen=(
        BerichtInhoud("application/pdf", "bijlage-review-7731.pdf", pdf),))
    pipeline = InboundPipeline(sqlite_store, registry())
    message_id = await pipeline.receive(inbound_document("digipoort", message))
    record = await sqlite_store.get(message_id)
    assert record is not None
    assert record.canonical_json is not None
    assert record.transport_state is TransportState.DECODED
    order = loads(record.canonical_json)
    assert isinstance(order, Order)
    carried = [a for a in order.attachments if a.filename == "bijlage-review-7731.pdf"]
    assert carried == [Attachment(content=pdf, mime_type="application/pdf",
                                  filename="bijlage-review-7731.pdf")]
    # The order's own embedded attachments stay, ahead of the carried ones.
    data = message.bericht_inhoud.inhoud
    own = registry().detect(data).format.decode(data).document
    assert isinstance(own, Order)
    assert order.attachments == (*own.attachments, *carried)


async def test_a_catch_up_finds_a_document_stamped_before_the_last_good_round(
        pki: Pki, sqlite_store: Store, tmp_path: Path, standards: None) -> None:
    """The catch-up by time asks getBerichten from (our clock at the last good round)
    - 5 min, but Digipoort filters on tijdstempelAangeleverd, the agency's
    submission time. A document submitted 20 minutes before the last good
    round that only became available for pickup after it (Digipoort still
    processing it, or clocks 20 minutes apart) and handed over in a round
    that fails is out of that window: the spool has it."""
    from datetime import UTC, datetime, timedelta

    import attrs

    async with DigipoortSimulator(SimulatorSettings(pki_dir=pki.folder)) as simulator:
        settings = client_settings(
            pki, aanlever_url=simulator.aanlever_url, status_url=simulator.status_url,
            ophaal=True, ophaal_url=simulator.ophaal_url, ophaal_poll_interval=3600)
        pipeline = InboundPipeline(sqlite_store, registry())
        channel = DigipoortChannel("digipoort", settings)
        await channel.start(ChannelContext("digipoort", inbound=pipeline.receive,
                                           data_dir=str(tmp_path)))
        try:
            poller = channel.ophaal
            assert poller is not None
            for _ in range(300):  # the first (good, empty) round runs at start
                if poller.watermark is not None:
                    break
                await asyncio.sleep(0.02)
            assert poller.watermark is not None
            message = simulator.make_afleverbericht(order_19(), "BESTELLING-UBL",
                                                    ontvanger=Identiteit(SUPPLIER_KVK, "KvK"))
            message = attrs.evolve(message, tijdstempel_aangeleverd=datetime.now(UTC)
                                   - timedelta(minutes=20))
            simulator.queue_for_pickup(message)

            async def crashing(document: InboundDocument) -> str:
                raise StoreError("the database went away")

            poller.inbound = crashing
            with pytest.raises(StoreError):
                await poller.poll_once()
            assert poller.catch_up
            poller.inbound = pipeline.receive
            await poller.poll_once()  # the catch-up
        finally:
            await channel.stop()
    page = await sqlite_store.list_messages(direction=Direction.INBOUND)
    assert [m.transport_id for m in page.items] == [message.kenmerk]
