"""Poll mode hands documents back to ``decoded`` while another instance on the same database
still pushes by webhook: what that instance did between our read and our move must stand.

The other instance acts at the exact moment of the race: a thin wrapper around the real store
lets it run its real delivery rounds right after the poll worker's read returned.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Any, cast

import attrs
import pytest
from delivery_support import SECRET, SECRET_ENV, FakeErp, deliver_until
from pipeline_support import FAST, Pipeline, document_json

from gateway.channels import InboundDocument
from gateway.config.model import ErpSettings
from gateway.delivery import DeliveryWorker
from gateway.kinds import Direction
from gateway.model.samples import example_order
from gateway.pipeline.inbound import InboundPipeline
from gateway.store import MessageRecord, Store, TransportState


class RaceAfter:
    """The real store, running ``meanwhile`` once right after the first call of ``method``.

    Everything is done by the real store; this only fixes when the other instance acts.
    """

    def __init__(self, store: Store, method: str, meanwhile: Callable[[], Awaitable[None]],
                 when: Callable[[dict[str, Any]], bool] = lambda _: True) -> None:
        self._store = store
        self._method = method
        self._meanwhile = meanwhile
        self._when = when
        self.raced = False

    def __getattr__(self, name: str) -> Any:
        real = getattr(self._store, name)
        if name != self._method:
            return real

        async def then_race(*args: Any, **kwargs: Any) -> Any:
            result = await real(*args, **kwargs)
            if not self.raced and self._when(kwargs):
                self.raced = True
                await self._meanwhile()
            return result
        return then_race


@pytest.fixture
async def erp() -> AsyncIterator[FakeErp]:
    server = FakeErp()
    await server.start()
    yield server
    await server.stop()


def pushing_instance(pipe: Pipeline, erp: FakeErp) -> DeliveryWorker:
    """Another gateway on the same database that still delivers by webhook."""
    webhook = ErpSettings(delivery="webhook", webhook_url=erp.url,
                          webhook_secret_env=SECRET_ENV, webhook_timeout=2.0)
    config = attrs.evolve(pipe.config, erp=webhook)
    return DeliveryWorker(pipe.store, lambda: config, FAST, instance="other")


def polling_instance(pipe: Pipeline, store: RaceAfter) -> DeliveryWorker:
    config = attrs.evolve(pipe.config, erp=ErpSettings(delivery="poll"))
    return DeliveryWorker(cast(Store, store), lambda: config, FAST, instance="poll")


async def received_order(pipe: Pipeline, transport_id: str, max_attempts: int) -> str:
    inbound = InboundPipeline(pipe.store, pipe.registry, max_attempts=max_attempts)
    return await inbound.receive(InboundDocument(
        data=document_json(example_order()), channel="folder", transport_id=transport_id))


async def in_default_inbox(store: Store, message_id: str) -> bool:
    page = await store.list_messages(direction=Direction.INBOUND,
                                     transport_state=TransportState.DECODED, limit=1000)
    return message_id in [item.id for item in page.items]


def lists_retrying(kwargs: dict[str, Any]) -> bool:
    return kwargs.get("transport_state") is TransportState.RETRYING


# Where the other instance acts: right after the poll worker listed the retrying documents,
# or right after it read the document once more, just before its move.
RACE_POINTS = [
    pytest.param(("list_messages", lists_retrying), id="after-listing"),
    pytest.param(("get", lambda _: True), id="before-move"),
]
RacePoint = tuple[str, Callable[[dict[str, Any]], bool]]


@pytest.mark.parametrize(("script", "budget", "outcome"), [
    pytest.param([503, 422], 5, TransportState.FAILED, id="refused"),
    pytest.param([503, 503], 2, TransportState.FAILED, id="last-attempt-failed"),
    pytest.param([503, 200], 5, TransportState.DELIVERED, id="delivered"),
])
@pytest.mark.parametrize("race", RACE_POINTS)
async def test_a_retrying_document_another_instance_finished_after_the_listing_stays_finished(
    pipe: Pipeline, erp: FakeErp, monkeypatch: pytest.MonkeyPatch,
    script: list[int], budget: int, outcome: TransportState, race: RacePoint,
) -> None:
    monkeypatch.setenv(SECRET_ENV, SECRET)
    erp.script = list(script)
    other = pushing_instance(pipe, erp)
    message_id = await received_order(pipe, "t-race", max_attempts=budget)
    finished: list[MessageRecord] = []

    async def other_instance_retries() -> None:
        # Its retry comes due just after the poll worker listed the document as retrying.
        finished.append(await deliver_until(other, pipe.store, message_id, {outcome}))

    store = RaceAfter(pipe.store, race[0], other_instance_retries, race[1])
    poll = polling_instance(pipe, store)
    try:
        assert await other.run_once() == 1
        before = await pipe.store.get(message_id)
        assert before is not None
        assert before.transport_state is TransportState.RETRYING
        await poll.run_once()
    finally:
        await poll.stop()
        await other.stop()
    assert store.raced
    assert [record.transport_state for record in finished] == [outcome]
    record = await pipe.store.get(message_id)
    assert record is not None
    # The move used to apply to a document the ERP refused (failed -> decoded is a legal
    # requeue while attempts are left), putting it back in the ERP's inbox as if the
    # ERP had never refused it.
    assert record.transport_state is outcome, (
        f"{outcome} by the other instance, then moved to {record.transport_state}")
    assert not await in_default_inbox(pipe.store, message_id)
    kinds = [event.kind for event in await pipe.store.events(message_id)]
    assert "waits-for-poll" not in kinds
    assert len(erp.received) == 2


@pytest.mark.parametrize("race", RACE_POINTS)
async def test_a_retrying_document_still_retrying_after_the_listing_is_handed_back(
    pipe: Pipeline, erp: FakeErp, monkeypatch: pytest.MonkeyPatch, race: RacePoint,
) -> None:
    # The other instance tried again meanwhile and failed once more: still retrying, so
    # the document belongs in the ERP's inbox all the same.
    monkeypatch.setenv(SECRET_ENV, SECRET)
    erp.always = 503
    other = pushing_instance(pipe, erp)
    message_id = await received_order(pipe, "t-again", max_attempts=5)

    async def other_instance_retries() -> None:
        while len(erp.received) < 2:
            if not await other.run_once():
                await asyncio.sleep(0.01)

    store = RaceAfter(pipe.store, race[0], other_instance_retries, race[1])
    poll = polling_instance(pipe, store)
    try:
        assert await other.run_once() == 1
        await poll.run_once()
    finally:
        await poll.stop()
        await other.stop()
    assert store.raced
    record = await pipe.store.get(message_id)
    assert record is not None
    assert record.transport_state is TransportState.DECODED, record.transport_state
    assert await in_default_inbox(pipe.store, message_id)


async def test_an_expired_claim_dead_lettered_by_another_instance_after_its_release_stays_so(
    pipe: Pipeline, erp: FakeErp, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Poll mode releases an expired claim (back to retrying, due at once), then moves the
    # document to decoded: in between, the pushing instance may claim it and the ERP
    # refuse it.
    monkeypatch.setenv(SECRET_ENV, SECRET)
    erp.always = 422
    other = pushing_instance(pipe, erp)
    message_id = await received_order(pipe, "t-release", max_attempts=3)
    [claimed] = await pipe.store.claim_deliverable("crashed-run:deliver-0", 1,
                                                   timedelta(minutes=5))
    assert claimed.id == message_id
    assert await pipe.store.expire_claims("crashed-run:") == 1

    async def other_instance_delivers() -> None:
        await deliver_until(other, pipe.store, message_id, {TransportState.FAILED})

    store = RaceAfter(pipe.store, "release", other_instance_delivers)
    poll = polling_instance(pipe, store)
    try:
        await poll.run_once()
    finally:
        await poll.stop()
        await other.stop()
    assert store.raced
    record = await pipe.store.get(message_id)
    assert record is not None
    assert record.transport_state is TransportState.FAILED, (
        f"dead-lettered by the other instance, then moved to {record.transport_state}")
    assert not await in_default_inbox(pipe.store, message_id)
    assert len(erp.received) == 1

