"""Deliveries to the ERP against odd answers, reloads and faults of the target itself."""

from __future__ import annotations

import asyncio
import os
import socket
from pathlib import Path

import attrs
import pytest
from aiohttp import web
from delivery_support import SECRET, SECRET_ENV, FakeErp, webhook_config
from pipeline_support import (
    FAST,
    Pipeline,
    RecorderPlugin,
    document_json,
    make_pipeline,
)

from gateway.channels import InboundDocument, RetryableError
from gateway.config.model import ErpSettings
from gateway.delivery import DeliveryWorker, SignatureError, signature_header, verify
from gateway.delivery.targets import WebhookTarget, classify
from gateway.model.samples import example_order
from gateway.pluginmanager import make_plugin_manager
from gateway.service import GatewayService
from gateway.store import Store, TransportState


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SECRET_ENV, SECRET)


@pytest.mark.parametrize("retry_after", ["\u00b2", "9" * 30])
def test_an_odd_retry_after_header_is_still_a_retryable_answer(retry_after: str) -> None:
    """``Retry-After`` comes from the ERP; whatever it says, a 503 is 'later'.

    str.isdigit() is True for superscripts, which int() refuses, and a long
    digit string overflows timedelta.
    """
    outcome = classify(503, "busy", retry_after)
    assert isinstance(outcome, RetryableError)


def test_a_header_with_a_unicode_digit_timestamp_raises_signature_error() -> None:
    """verify() raises SignatureError naming what is wrong, also for 't=\u00b2'."""
    body = b"{}"
    header = "t=\u00b2,v1=" + signature_header(SECRET.encode(), body).rpartition("v1=")[2]
    with pytest.raises(SignatureError):
        verify(SECRET.encode(), header, body)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_an_erp_answering_503_with_an_odd_retry_after_is_retried_not_stuck(
    store: Store, tmp_path: Path,
) -> None:
    """The same through the worker: retried on the schedule, not left 'delivering'
    under its claim until the lease (5 minutes by default) runs out."""
    calls = 0

    async def handle(request: web.Request) -> web.Response:
        nonlocal calls
        calls += 1
        return web.Response(status=503, text="busy", headers={"Retry-After": "\u00b2"})

    app = web.Application()
    app.router.add_post("/hook", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    pipe = await make_pipeline(store, tmp_path)
    message_id = await pipe.inbound.receive(InboundDocument(
        data=document_json(example_order()), channel="folder", transport_id="t-1"))
    settings = ErpSettings(delivery="webhook", webhook_url=f"http://127.0.0.1:{port}/hook",
                           webhook_secret_env=SECRET_ENV, webhook_timeout=2.0)
    config = attrs.evolve(pipe.config, erp=settings)
    worker = DeliveryWorker(pipe.store, lambda: config, FAST, instance="test")
    try:
        await worker.run_once()
    finally:
        await worker.stop()
        await runner.cleanup()
    assert calls == 1
    record = await store.get(message_id)
    assert record is not None
    assert record.transport_state is TransportState.RETRYING, (
        record.transport_state, record.claimed_by, record.claim_expires_at)


async def test_a_reloaded_erp_max_attempts_applies_to_new_documents(tmp_path: Path) -> None:
    """A document gets the [erp] max_attempts in force when it arrives: after a
    reload raising it from 2 to 5, a new document is tried 5 times."""
    erp = FakeErp()
    await erp.start()
    erp.always = 503
    url = f"sqlite:///{tmp_path / 'gateway.db'}"
    path = webhook_config(tmp_path, url, erp.url, 2)
    pm = make_plugin_manager(plugins=[("recorder", RecorderPlugin())])
    gateway = GatewayService(path, pm, dispatch=FAST)
    await gateway.start()
    try:
        webhook_config(tmp_path, url, erp.url, 5)
        assert gateway.config_holder.reload()
        assert gateway.config.erp.max_attempts == 5
        message_id = await gateway.receive(InboundDocument(
            data=document_json(example_order()), channel="folder", transport_id="o-1"))
        assert gateway.store is not None
        for _ in range(500):
            record = await gateway.store.get(message_id)
            assert record is not None
            if record.transport_state is TransportState.FAILED:
                break
            await asyncio.sleep(0.01)
    finally:
        await gateway.stop()
        await erp.stop()
    assert record is not None
    assert record.max_attempts == 5, record.last_error
    assert len(erp.received) == 5


def session_open(target: WebhookTarget) -> bool:
    return target._session is not None


async def test_a_config_change_does_not_cut_off_a_delivery_in_flight(
    store: Store, tmp_path: Path,
) -> None:
    """target() rebuilds the target when [erp] changed; the old one is closed only
    when its deliveries are done, since closing an aiohttp session aborts the
    request in flight (the ERP would get the document and we would record a
    failure and send it again)."""
    erp = FakeErp()
    await erp.start()
    erp.hold = asyncio.Event()
    pipe = await make_pipeline(store, tmp_path)
    message_id = await pipe.inbound.receive(InboundDocument(
        data=document_json(example_order()), channel="folder", transport_id="t-1"))
    settings = ErpSettings(delivery="webhook", webhook_url=erp.url,
                           webhook_secret_env=SECRET_ENV, webhook_timeout=5.0)
    current = {"config": attrs.evolve(pipe.config, erp=settings)}
    worker = DeliveryWorker(pipe.store, lambda: current["config"], FAST, instance="test")
    try:
        round_ = asyncio.create_task(worker.run_once("w-1"))
        for _ in range(300):
            if erp.received:
                break
            await asyncio.sleep(0.01)
        assert erp.received  # the request is at the ERP, waiting for its answer
        old = worker.target()
        assert isinstance(old, WebhookTarget)
        # The operator raises the timeout; the next round (another worker) sees it.
        current["config"] = attrs.evolve(
            current["config"], erp=attrs.evolve(settings, webhook_timeout=6.0))
        assert worker.target() is not old
        await asyncio.sleep(0.2)
        assert session_open(old)  # still carrying the delivery
        erp.hold.set()
        await round_
        for _ in range(100):
            if not session_open(old):
                break
            await asyncio.sleep(0.01)
        assert not session_open(old)  # closed once its delivery was done
    finally:
        await worker.stop()
        await erp.stop()
    record = await store.get(message_id)
    assert record is not None
    assert record.transport_state is TransportState.DELIVERED, record.last_error


async def test_a_target_that_raises_is_retried_on_the_schedule(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A bug in a target is an attempt that failed, with its reason, not a claim left
    to run out."""
    pipe = await make_pipeline(store, tmp_path)
    message_id = await pipe.inbound.receive(InboundDocument(
        data=document_json(example_order()), channel="folder", transport_id="t-1"))

    async def broken(self: WebhookTarget, record: object) -> object:
        raise KeyError("envelope")

    monkeypatch.setattr(WebhookTarget, "deliver", broken)
    settings = ErpSettings(delivery="webhook", webhook_url="http://127.0.0.1:9/hook",
                           webhook_secret_env=SECRET_ENV)
    config = attrs.evolve(pipe.config, erp=settings)
    worker = DeliveryWorker(pipe.store, lambda: config, FAST, instance="test")
    try:
        assert await worker.run_once() == 1
    finally:
        await worker.stop()
    record = await store.get(message_id)
    assert record is not None
    assert record.transport_state is TransportState.RETRYING
    assert record.claimed_by is None
    assert record.last_error == "the delivery failed: KeyError: 'envelope' [error]"
    [attempt] = await store.attempts(message_id)
    assert attempt.outcome.value == "retryable"


async def test_a_switch_to_poll_after_the_claim_costs_no_attempt(
    store: Store, tmp_path: Path,
) -> None:
    pipe = await make_pipeline(store, tmp_path)
    message_id = await pipe.inbound.receive(InboundDocument(
        data=document_json(example_order()), channel="folder", transport_id="t-1"))
    webhook = ErpSettings(delivery="webhook", webhook_url="http://127.0.0.1:9/hook",
                          webhook_secret_env=SECRET_ENV)
    current = {"config": attrs.evolve(pipe.config, erp=webhook)}
    worker = DeliveryWorker(pipe.store, lambda: current["config"], FAST, instance="test")
    try:
        [claimed] = await store.claim_deliverable("w-1", 1, FAST.lease)
        current["config"] = attrs.evolve(pipe.config, erp=ErpSettings(delivery="poll"))
        assert await worker.deliver(claimed, "w-1") is None
    finally:
        await worker.stop()
    record = await store.get(message_id)
    assert record is not None
    assert record.transport_state is TransportState.DECODED  # in the ERP's inbox again
    assert record.claimed_by is None
    assert record.last_error is not None
    assert record.last_error.startswith("[erp] delivery is poll now")
    assert (record.attempts, record.max_attempts) == (1, claimed.max_attempts + 1)
    assert await store.attempts(message_id) == []


async def test_workers_of_two_processes_alike_in_host_and_pid_have_their_own_ids(
    pipe: Pipeline,
) -> None:
    """Containers often share a hostname and run as pid 1: claims must still be told apart."""
    first = DeliveryWorker(pipe.store, lambda: pipe.config)
    second = DeliveryWorker(pipe.store, lambda: pipe.config)
    assert first.instance.startswith(f"{socket.gethostname()}:{os.getpid()}:")
    assert first.instance != second.instance
