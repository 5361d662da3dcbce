"""Poll mode after a push delivery: what a webhook or folder delivery left behind reaches the
ERP's inbox, and a delivery under way when ``[erp]`` is reloaded is recorded as it was made."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest
from delivery_support import SECRET, SECRET_ENV, FakeErp, webhook_config
from pipeline_support import FAST, Pipeline, RecorderPlugin, document_json

from gateway.channels import InboundDocument
from gateway.config.model import ErpSettings, GatewayConfig
from gateway.delivery import DeliveryWorker
from gateway.kinds import Direction
from gateway.model.samples import example_order
from gateway.pluginmanager import make_plugin_manager
from gateway.service import GatewayService
from gateway.store import Page, Store, TransportState


@pytest.fixture
async def erp() -> AsyncIterator[FakeErp]:
    server = FakeErp()
    await server.start()
    yield server
    await server.stop()


def switchable_worker(
    pipe: Pipeline, erp: ErpSettings,
) -> tuple[DeliveryWorker, dict[str, GatewayConfig]]:
    """A delivery worker reading ``current["config"]`` each round, as the service's does."""
    current = {"config": attrs.evolve(pipe.config, erp=erp)}
    worker = DeliveryWorker(pipe.store, lambda: current["config"], FAST, instance="poll")
    return worker, current


async def received_order(pipe: Pipeline, transport_id: str) -> str:
    return await pipe.inbound.receive(InboundDocument(
        data=document_json(example_order()), channel="folder", transport_id=transport_id))


async def in_default_inbox(store: Store, message_id: str) -> bool:
    """Whether ``GET /api/v1/inbox`` (and ``gateway inbox list``) shows the document."""
    page = await store.list_messages(direction=Direction.INBOUND,
                                     transport_state=TransportState.DECODED, limit=1000)
    return message_id in [item.id for item in page.items]


async def rounds(worker: DeliveryWorker, count: int = 3) -> None:
    try:
        for _ in range(count):
            await worker.run_once()
    finally:
        await worker.stop()


async def test_a_delivery_cut_off_by_a_crash_reaches_the_inbox_after_a_restart_in_poll_mode(
    pipe: Pipeline,
) -> None:
    # The run that crashed delivered by webhook and held the claim when it died.
    message_id = await received_order(pipe, "t-crash")
    [claimed] = await pipe.store.claim_deliverable("crashed-run:deliver-0", 1, FAST.lease)
    assert claimed.id == message_id
    # The next run on the data directory is in poll mode (the operator gave up on the
    # webhook) and ends the dead run's claims at once, as GatewayService does at start.
    assert await pipe.store.expire_claims("crashed-run:") == 1
    worker, _ = switchable_worker(pipe, ErpSettings(delivery="poll"))
    await rounds(worker)
    record = await pipe.store.get(message_id)
    assert record is not None
    # Nothing claims in poll mode, so the expired claim used to stay 'delivering' for good:
    # a state GET /api/v1/inbox refuses to list and `gateway inbox list` never shows.
    assert record.transport_state is TransportState.DECODED, record.transport_state
    assert record.claimed_by is None
    assert await in_default_inbox(pipe.store, message_id)
    kinds = [event.kind for event in await pipe.store.events(message_id)]
    assert kinds[-2:] == ["released", "waits-for-poll"]
    # Cut off by the crash, not refused by the ERP: the attempt is given back.
    assert record.max_attempts == claimed.max_attempts + 1


async def test_a_document_waiting_for_a_webhook_retry_reaches_the_inbox_after_a_switch_to_poll(
    pipe: Pipeline, erp: FakeErp, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(SECRET_ENV, SECRET)
    erp.always = 503
    webhook = ErpSettings(delivery="webhook", webhook_url=erp.url, webhook_secret_env=SECRET_ENV,
                          webhook_timeout=2.0)
    worker, current = switchable_worker(pipe, webhook)
    message_id = await received_order(pipe, "t-retry")
    try:
        assert await worker.run_once() == 1
        record = await pipe.store.get(message_id)
        assert record is not None
        assert record.transport_state is TransportState.RETRYING
        # The ERP's webhook stays down: the operator switches [erp] delivery to poll.
        current["config"] = attrs.evolve(pipe.config, erp=ErpSettings(delivery="poll"))
        for _ in range(3):
            await worker.run_once()
    finally:
        await worker.stop()
    record = await pipe.store.get(message_id)
    assert record is not None
    # A document waiting for its retry is never claimed again in poll mode: it used to
    # stay 'retrying' for ever, missing from the default inbox and `gateway inbox list`.
    assert record.transport_state is TransportState.DECODED, record.transport_state
    assert await in_default_inbox(pipe.store, message_id)
    assert len(erp.received) == 1  # handed back, not pushed again


def quiet_worker(pipe: Pipeline, lease: float) -> tuple[DeliveryWorker, list[str]]:
    """A poll-mode worker with ``lease``, and the states its store listings asked for."""
    settings = attrs.evolve(FAST, lease=timedelta(seconds=lease))
    worker = DeliveryWorker(pipe.store, lambda: attrs.evolve(
        pipe.config, erp=ErpSettings(delivery="poll")), settings, instance="poll")
    listed: list[str] = []
    original = pipe.store.list_messages

    async def list_messages(**kwargs: Any) -> Page:
        listed.append(str(kwargs.get("transport_state")))
        return await original(**kwargs)

    pipe.store.list_messages = list_messages  # type: ignore[method-assign]
    return worker, listed


async def test_a_live_claim_is_left_to_its_worker_until_it_expires(pipe: Pipeline) -> None:
    # Another instance on the same database, still delivering by webhook, holds the claim.
    message_id = await received_order(pipe, "t-live")
    await pipe.store.claim_deliverable("other-instance:deliver-0", 1, timedelta(minutes=5))
    worker, listed = quiet_worker(pipe, lease=60)
    try:
        assert await worker.run_once() == 0
        record = await pipe.store.get(message_id)
        assert record is not None
        assert record.transport_state is TransportState.DELIVERING
        assert record.claimed_by == "other-instance:deliver-0"
        # That instance dies: once its claim has expired, poll mode hands the document back,
        # in the next round: a look that found a delivery under way is not put off.
        assert await pipe.store.expire_claims("other-instance:") == 1
        assert await worker.run_once() == 1
    finally:
        await worker.stop()
    assert listed.count(str(TransportState.DELIVERING)) == 2, listed
    record = await pipe.store.get(message_id)
    assert record is not None
    assert record.transport_state is TransportState.DECODED
    assert await in_default_inbox(pipe.store, message_id)


async def test_poll_mode_that_found_no_delivery_under_way_looks_again_a_lease_later(
    pipe: Pipeline,
) -> None:
    # Long enough for the rounds and the other instance's claim below on a busy machine.
    worker, listed = quiet_worker(pipe, lease=2.0)
    try:
        for _ in range(20):
            assert await worker.run_once() == 0
        # Each round used to list the 'delivering' documents: a read every few
        # milliseconds at a short poll_interval, to find nothing.
        assert listed.count(str(TransportState.DELIVERING)) == 1, listed
        # Another instance, still pushing, claims a document and dies; its restart
        # ends the claim at once. Within the lease the quiet worker does not look...
        message_id = await received_order(pipe, "t-quiet")
        await pipe.store.claim_deliverable("other-instance:deliver-0", 1, FAST.lease)
        assert await pipe.store.expire_claims("other-instance:") == 1
        assert await worker.run_once() == 0
        # ...and a lease after its last look it does, and hands the document back.
        await asyncio.sleep(2.1)
        assert await worker.run_once() == 1
    finally:
        await worker.stop()
    record = await pipe.store.get(message_id)
    assert record is not None
    assert record.transport_state is TransportState.DECODED
    assert listed.count(str(TransportState.DELIVERING)) == 2, listed


async def test_a_delivery_in_flight_during_an_erp_reload_is_recorded_as_made(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """DeliveryWorker.deliver picked the target, then read [erp] again for the event: a
    reload while the webhook call was under way recorded a webhook delivery as made by
    "folder" (timeline event and log line)."""
    monkeypatch.setenv(SECRET_ENV, SECRET)
    erp = FakeErp()
    await erp.start()
    erp.hold = asyncio.Event()
    path = webhook_config(tmp_path, f"sqlite:///{tmp_path / 'gateway.db'}", erp.url)
    service = GatewayService(path, make_plugin_manager(plugins=[("recorder", RecorderPlugin())]),
                             dispatch=FAST)
    service.config_holder.check_interval = 0.05
    await service.start()
    try:
        assert service.store is not None
        message_id = await service.receive(InboundDocument(
            data=document_json(example_order()), channel="folder", transport_id="o-1"))
        for _ in range(300):
            if erp.received:
                break
            await asyncio.sleep(0.01)
        assert len(erp.received) == 1
        text = path.read_text("utf-8")
        path.write_text(text.replace('delivery = "webhook"', 'delivery = "folder"\n'
                                     'folder = "erp-in"'), "utf-8")
        await asyncio.sleep(0.1)
        assert service.config.erp.delivery == "folder"  # the reload is in force
        erp.hold.set()
        for _ in range(300):
            record = await service.store.get(message_id)
            assert record is not None
            if record.transport_state is TransportState.DELIVERED:
                break
            await asyncio.sleep(0.01)
        events = await service.store.events(message_id)
    finally:
        await service.stop()
        await erp.stop()
    [delivered] = [e for e in events if e.kind == "delivered"]
    assert len(erp.received) == 1  # it went to the webhook, once
    assert delivered.detail["to"] == "webhook", (
        f"delivered by webhook, recorded as delivered to {delivered.detail['to']!r}")
