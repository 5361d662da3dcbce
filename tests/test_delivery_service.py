"""ERP delivery inside the running gateway: [erp] from the file, and across a restart."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import attrs
import pytest
from delivery_support import SECRET, SECRET_ENV, FakeErp, webhook_config
from pipeline_support import FAST, RecorderPlugin, config_text, document_json

from gateway.channels import InboundDocument
from gateway.delivery import verify
from gateway.model.samples import example_order
from gateway.pluginmanager import make_plugin_manager
from gateway.service import GatewayService
from gateway.store import Store, TransportState, open_store


@pytest.fixture
async def erp() -> AsyncIterator[FakeErp]:
    server = FakeErp()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SECRET_ENV, SECRET)


def service(path: Path, *, workers: int = FAST.workers,
            idle_poll: float = FAST.idle_poll) -> GatewayService:
    pm = make_plugin_manager(plugins=[("recorder", RecorderPlugin())])
    return GatewayService(path, pm,
                          dispatch=attrs.evolve(FAST, workers=workers, idle_poll=idle_poll))


async def wait_for(store: Store, message_id: str, state: TransportState) -> None:
    seen = None
    for _ in range(500):
        record = await store.get(message_id)
        assert record is not None
        seen = record.transport_state
        if seen is state:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"message {message_id} stayed {seen}")


async def test_the_running_gateway_delivers_by_webhook_as_configured(
    store_url: str, tmp_path: Path, erp: FakeErp,
) -> None:
    # A long poll: the document goes out at once only because decoding it wakes the worker.
    gateway = service(webhook_config(tmp_path, store_url, erp.url), idle_poll=30.0)
    await gateway.start()
    try:
        message_id = await gateway.receive(InboundDocument(
            data=document_json(example_order()), channel="folder", transport_id="o-1"))
        assert gateway.store is not None
        await wait_for(gateway.store, message_id, TransportState.DELIVERED)
        record = await gateway.store.get(message_id)
        assert record is not None
        assert record.max_attempts == 4  # [erp] max_attempts
    finally:
        await gateway.stop()
    [request] = erp.received
    verify(SECRET.encode(), request.headers["Wissel-Signature"], request.body)


async def test_a_delivery_cut_off_by_a_stop_is_made_after_the_restart(
    tmp_path: Path, erp: FakeErp,
) -> None:
    url = f"sqlite:///{tmp_path / 'gateway.db'}"
    path = webhook_config(tmp_path, url, erp.url)
    first = service(path, workers=0)
    await first.start()
    try:
        message_id = await first.receive(InboundDocument(
            data=document_json(example_order()), channel="folder", transport_id="o-1"))
        assert first.store is not None
        # A worker of this instance claims it and dies with the claim held.
        [claimed] = await first.store.claim_deliverable(
            "dead-instance:deliver-0", 1, timedelta(milliseconds=300))
        assert claimed.id == message_id
    finally:
        await first.stop()
    assert erp.received == []
    second = service(path)
    await second.start()
    try:
        assert second.store is not None
        await wait_for(second.store, message_id, TransportState.DELIVERED)
        events = await second.store.events(message_id)
    finally:
        await second.stop()
    [request] = erp.received
    assert request.headers["Wissel-Message-Id"] == message_id
    assert request.headers["Wissel-Attempt"] == "2"
    takeover = [e for e in events if e.kind == "deliver"][-1]
    assert takeover.detail["taken_over_from"] == "dead-instance:deliver-0"


async def test_a_delivery_cut_off_by_a_clean_stop_is_given_back_and_made_after_restart(
    tmp_path: Path, erp: FakeErp,
) -> None:
    path = webhook_config(tmp_path, f"sqlite:///{tmp_path / 'gateway.db'}", erp.url)
    erp.hold = asyncio.Event()
    first = service(path)
    await first.start()
    try:
        message_id = await first.receive(InboundDocument(
            data=document_json(example_order()), channel="folder", transport_id="o-1"))
        for _ in range(300):
            if erp.received:
                break
            await asyncio.sleep(0.01)
        assert len(erp.received) == 1
    finally:
        await first.stop()  # the ERP still has not answered: the stop gives the document back
        erp.hold.set()
    async with open_store(f"sqlite:///{tmp_path / 'gateway.db'}") as store:
        record = await store.get(message_id)
    assert record is not None
    assert record.transport_state is TransportState.RETRYING
    assert record.claimed_by is None
    assert record.last_error == "the gateway stopped during this delivery"
    erp.hold = None
    second = service(path)
    await second.start()
    try:
        assert second.store is not None
        await wait_for(second.store, message_id, TransportState.DELIVERED)
    finally:
        await second.stop()
    assert [r.headers["Wissel-Attempt"] for r in erp.received] == ["1", "2"]


async def test_the_dispatch_table_sets_the_workers_unless_tests_pass_settings(
    tmp_path: Path,
) -> None:
    path = tmp_path / "gateway.toml"
    path.write_text(config_text(tmp_path) + """
[dispatch]
workers = 3
poll_interval = 0.5
max_attempts = 5
backoff_base = 2
backoff_cap = 60
lease = 90
""", "utf-8")
    pm = make_plugin_manager(plugins=[("recorder", RecorderPlugin())])
    configured = GatewayService(path, pm)
    assert configured.dispatch_settings.workers == 3
    assert configured.dispatch_settings.idle_poll == 0.5
    assert configured.dispatch_settings.backoff_base == timedelta(seconds=2)
    assert configured.dispatch_settings.backoff_cap == timedelta(seconds=60)
    assert configured.dispatch_settings.lease == timedelta(seconds=90)
    assert configured.outbound_settings.max_attempts == 5
    explicit = GatewayService(path, pm, dispatch=FAST)
    assert explicit.dispatch_settings is FAST
    assert explicit.outbound_settings.max_attempts == 5


async def test_in_poll_mode_the_running_gateway_leaves_documents_decoded(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'gateway.db'}"
    path = tmp_path / "gateway.toml"
    path.write_text(config_text(tmp_path, database=url), "utf-8")
    gateway = service(path)
    await gateway.start()
    try:
        message_id = await gateway.receive(InboundDocument(
            data=document_json(example_order()), channel="folder", transport_id="o-1"))
        await asyncio.sleep(0.2)
    finally:
        await gateway.stop()
    async with open_store(url) as store:
        record = await store.get(message_id)
    assert record is not None
    assert record.transport_state is TransportState.DECODED


async def test_health_names_a_webhook_secret_variable_the_gateway_does_not_have(
    tmp_path: Path, erp: FakeErp, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # An [erp] switch to webhook applies at once, but the secret comes from the environment
    # the gateway was started with: every delivery would be retried until the dead letters
    # while /health said ok.
    monkeypatch.delenv(SECRET_ENV)
    gateway = service(webhook_config(tmp_path, f"sqlite:///{tmp_path / 'gateway.db'}", erp.url))
    await gateway.start()
    try:
        health = await gateway.health()
        assert health["status"] == "degraded"
        assert any(p.startswith("[erp]:") and SECRET_ENV in p for p in health["problems"])
        monkeypatch.setenv(SECRET_ENV, SECRET)
        health = await gateway.health()
        assert health["status"] == "ok", health["problems"]
    finally:
        await gateway.stop()
