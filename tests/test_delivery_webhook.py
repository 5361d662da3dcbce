"""Delivery of inbound documents to the ERP by signed webhook, against a real HTTP server."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import attrs
import pytest
from delivery_support import SECRET, SECRET_ENV, FakeErp, deliver_until
from pipeline_support import AGENCY_OIN, FAST, Pipeline, document_json, make_pipeline

from gateway.channels import InboundDocument
from gateway.config.model import ErpSettings
from gateway.delivery import DeliveryWorker, SignatureError, signature_header, verify
from gateway.model.samples import example_order
from gateway.store import AttemptOutcome, Store, TransportState

DONE = (TransportState.DELIVERED, TransportState.FAILED)


@pytest.fixture
async def erp() -> AsyncIterator[FakeErp]:
    server = FakeErp()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SECRET_ENV, SECRET)


def worker_for(pipe: Pipeline, url: str, **erp: object) -> DeliveryWorker:
    settings = ErpSettings(delivery="webhook", webhook_url=url, webhook_secret_env=SECRET_ENV,
                           webhook_timeout=2.0, **erp)  # type: ignore[arg-type]
    config = attrs.evolve(pipe.config, erp=settings)
    return DeliveryWorker(pipe.store, lambda: config, FAST, instance="test")


async def received_order(pipe: Pipeline, transport_id: str = "t-1") -> str:
    return await pipe.inbound.receive(InboundDocument(
        data=document_json(example_order()), channel="folder", transport_id=transport_id))


async def test_the_erp_gets_a_signed_envelope_it_can_verify(
    store: Store, tmp_path: Path, erp: FakeErp,
) -> None:
    pipe = await make_pipeline(store, tmp_path)
    message_id = await received_order(pipe)
    worker = worker_for(pipe, erp.url)
    try:
        record = await deliver_until(worker, store, message_id, DONE)
    finally:
        await worker.stop()
    assert record.transport_state is TransportState.DELIVERED
    [request] = erp.received
    assert request.headers["Wissel-Message-Id"] == message_id
    assert request.headers["Wissel-Attempt"] == "1"
    stamp = verify(SECRET.encode(), request.headers["Wissel-Signature"], request.body)
    assert abs(stamp - time.time()) < 60
    body = json.loads(request.body)
    assert body["message_id"] == message_id
    assert body["kind"] == "order"
    assert body["agency_oin"] == AGENCY_OIN
    assert body["document_number"] == example_order().number
    assert body["business_key"] == f"{AGENCY_OIN}:order:{example_order().number}"
    assert body["transport"] == {"channel": "folder", "transport_id": "t-1",
                                 "transport_ids": ["t-1"]}
    assert body["document"]["document"] == "order"
    assert "raw_base64" not in body
    with pytest.raises(SignatureError, match="does not match"):
        verify(b"another secret", request.headers["Wissel-Signature"], request.body)
    with pytest.raises(SignatureError, match="does not match"):
        verify(SECRET.encode(), request.headers["Wissel-Signature"], request.body + b" ")
    events = [e.kind for e in await store.events(message_id)]
    assert events == ["received", "decoded", "deliver", "delivered"]


def test_a_stale_or_malformed_signature_is_refused() -> None:
    body = b'{"message_id": "x"}'
    old = signature_header(SECRET.encode(), body, timestamp=int(time.time()) - 3600)
    with pytest.raises(SignatureError, match="more than 300 s"):
        verify(SECRET.encode(), old, body)
    with pytest.raises(SignatureError, match="no Wissel-Signature"):
        verify(SECRET.encode(), None, body)
    with pytest.raises(SignatureError, match="numeric t="):
        verify(SECRET.encode(), "v1=abc", body)
    # A rotated secret: the ERP accepts either value while both are in use.
    fresh = signature_header(SECRET.encode(), body)
    both = fresh + ",v1=" + signature_header(b"old", body).rpartition("v1=")[2]
    assert verify(SECRET.encode(), both, body) > 0


# Headers a forger may send the ERP: a non-ASCII signature made hmac.compare_digest
# raise TypeError, and a t= of digits int() does not take ("²") a ValueError, so the
# ERP's handler failed with a traceback instead of refusing the request.
FORGED_HEADERS = ("t={now},v1=\u00e9\u00e9", "t=\u00b2,v1=00", "t={now},v1=caf\udcff")


def test_a_forged_signature_with_odd_characters_is_refused_not_an_error() -> None:
    body = b'{"message_id": "x"}'
    for forged in FORGED_HEADERS:
        with pytest.raises(SignatureError):
            verify(SECRET.encode(), forged.format(now=int(time.time())), body)


async def test_an_erp_that_is_down_gets_the_document_once_it_is_up(
    store: Store, tmp_path: Path,
) -> None:
    pipe = await make_pipeline(store, tmp_path)
    message_id = await received_order(pipe)
    erp = FakeErp()  # not started yet: connections are refused
    worker = worker_for(pipe, erp.url)
    try:
        retrying = await deliver_until(worker, store, message_id, (TransportState.RETRYING,))
        assert "cannot reach the ERP webhook" in (retrying.last_error or "")
        await erp.start()
        erp.script = [503, 502]
        record = await deliver_until(worker, store, message_id, DONE)
    finally:
        await worker.stop()
        await erp.stop()
    assert record.transport_state is TransportState.DELIVERED
    outcomes = [a.outcome for a in await store.attempts(message_id)]
    assert outcomes == [AttemptOutcome.RETRYABLE] * 3 + [AttemptOutcome.ACCEPTED]
    # Every try was one delivery of the same message, signed afresh.
    assert {r.headers["Wissel-Message-Id"] for r in erp.received} == {message_id}
    assert [r.headers["Wissel-Attempt"] for r in erp.received] == ["2", "3", "4"]


async def test_an_erp_refusal_is_a_dead_letter_with_its_answer(
    store: Store, tmp_path: Path, erp: FakeErp,
) -> None:
    pipe = await make_pipeline(store, tmp_path)
    message_id = await received_order(pipe)
    erp.always = 400
    erp.answer = "unknown cost centre KP-77"
    worker = worker_for(pipe, erp.url)
    try:
        record = await deliver_until(worker, store, message_id, DONE)
        assert await worker.run_once() == 0
    finally:
        await worker.stop()
    assert record.transport_state is TransportState.FAILED
    assert record.last_error == "the ERP answered HTTP 400: unknown cost centre KP-77 [http-400]"
    assert len(erp.received) == 1


@pytest.mark.parametrize("status", [429, 503])
async def test_an_erp_that_stays_unavailable_ends_in_dead_letters_after_max_attempts(
    store: Store, tmp_path: Path, erp: FakeErp, status: int,
) -> None:
    pipe = await make_pipeline(store, tmp_path)
    pipe.inbound.max_attempts = 3  # [erp] max_attempts when the document arrived
    message_id = await received_order(pipe)
    erp.always = status
    worker = worker_for(pipe, erp.url, max_attempts=3)
    try:
        record = await deliver_until(worker, store, message_id, DONE)
        # No more attempts, however long one waits.
        for _ in range(5):
            assert await worker.run_once() == 0
    finally:
        await worker.stop()
    assert record.transport_state is TransportState.FAILED
    assert record.last_error is not None
    assert record.last_error.startswith("gave up after 3 of 3 attempts")
    assert f"HTTP {status}" in record.last_error
    assert len(erp.received) == 3
    assert len(await store.attempts(message_id)) == 3


async def test_a_missing_secret_keeps_the_document_and_says_why(
    store: Store, tmp_path: Path, erp: FakeErp, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(SECRET_ENV)
    pipe = await make_pipeline(store, tmp_path)
    message_id = await received_order(pipe)
    worker = worker_for(pipe, erp.url)
    try:
        record = await deliver_until(worker, store, message_id, (TransportState.RETRYING,))
    finally:
        await worker.stop()
    assert f"{SECRET_ENV} named by [erp] webhook_secret_env is not set" in (
        record.last_error or "")
    assert erp.received == []


def test_the_readme_verification_code_accepts_our_signature_and_nothing_else() -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text("utf-8")
    start = readme.index("def verify_wissel_signature")
    code = readme[readme.rindex("```python", 0, start) + len("```python"):
                  readme.index("```", start)]
    namespace: dict[str, object] = {}
    exec(compile(code, "README.md", "exec"), namespace)
    check = namespace["verify_wissel_signature"]
    assert callable(check)
    body = b'{"message_id": "01J", "document": {}}'
    header = signature_header(SECRET.encode(), body)
    assert check(SECRET.encode(), header, body) is True
    assert check(SECRET.encode(), header, body + b"\n") is False
    assert check(b"wrong", header, body) is False
    stale = signature_header(SECRET.encode(), body, timestamp=int(time.time()) - 600)
    assert check(SECRET.encode(), stale, body) is False
    for forged in FORGED_HEADERS:
        assert check(SECRET.encode(), forged.format(now=int(time.time())), body) is False


async def test_a_batch_behind_a_slow_erp_keeps_the_claims_of_those_waiting(
    store: Store, tmp_path: Path, erp: FakeErp,
) -> None:
    # The lease of a delivery is three webhook timeouts: 2.4 s. Each call takes
    # 0.45 s, so the seventh document of the batch waits 2.7 s for its turn.
    pipe = await make_pipeline(store, tmp_path)
    ids = {await received_order(pipe, f"t-{n}") if n == 0 else await pipe.inbound.receive(
        InboundDocument(data=document_json(attrs.evolve(example_order(), number=f"PO-{n}")),
                        channel="folder", transport_id=f"t-{n}")) for n in range(7)}
    erp.delay = 0.45
    settings = ErpSettings(delivery="webhook", webhook_url=erp.url,
                           webhook_secret_env=SECRET_ENV, webhook_timeout=0.8)
    config = attrs.evolve(pipe.config, erp=settings)
    worker = DeliveryWorker(store, lambda: config,
                            attrs.evolve(FAST, batch=7, lease=timedelta(milliseconds=100)),
                            instance="test")
    rival: list[str] = []
    delivering = asyncio.create_task(worker.run_once("slow-worker"))
    for _ in range(400):  # until the worker has claimed the batch and started on it
        if erp.received:
            break
        await asyncio.sleep(0.005)
    while not delivering.done():
        rival += [record.id for record in
                  await store.claim_deliverable("rival", 1, timedelta(seconds=2.4))]
        await asyncio.sleep(0.02)
    assert await delivering == 7
    assert rival == []
    assert len(erp.received) == 7
    for message_id in ids:
        record = await store.get(message_id)
        assert record is not None
        assert record.transport_state is TransportState.DELIVERED
