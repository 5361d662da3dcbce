"""Of two instances on one database, one asks Digipoort's OphaalService each round.

Before, every instance's OphaalPoller called getNieuweBerichten every
interval: N instances, N calls. Now the call is made under the ``ophaal``
turn; the spool (the only copy of what Digipoort handed over) is finished by
the instance that wrote it, turn or no turn. A call whose answer was lost
(Digipoort counts it as fetched) is caught up by time, by the holder or, once
the turn moved, by the instance that took it: also a new instance that never
saw the holder, from the note the holder left in the database, and once more
when the call of the holder before is over for certain. Real instances on one
real PostgreSQL database, against the product's Digipoort simulator.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
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
from pipeline_support import FAST
from test_instances_statuses import digipoort_config

from gateway.channels import TURN_INTERVALS, ChannelContext
from gateway.kinds import Direction
from gateway.pipeline import InboundPipeline
from gateway.pipeline.turns import HOLDER_FILE, StoreTurns
from gateway.service import GatewayService
from gateway.store import open_store
from plugins.digipoort.channel import DigipoortChannel
from plugins.digipoort.ophaal import TURN_PURPOSE, OphaalPoller
from plugins.digipoort.simulator import DigipoortSimulator, SimulatorSettings
from plugins.digipoort.simulator.settings import Fault, FaultKind
from plugins.digipoort.wus.koppelvlak import AfleverRequest, Identiteit
from plugins.digipoort.wus.pki import Pki

__all__ = ["pki", "standards"]  # the shared fixtures, used by the tests here

INTERVAL = 0.4
TTL = INTERVAL * TURN_INTERVALS


@attrs.define
class Installation:
    simulator: DigipoortSimulator
    services: list[GatewayService]
    folders: list[Path]

    def poller(self, service: GatewayService) -> OphaalPoller:
        channel = service.channels["digipoort"]
        assert isinstance(channel, DigipoortChannel)
        assert channel.ophaal is not None
        return channel.ophaal

    def holders(self) -> list[GatewayService]:
        """The running instances whose OphaalPoller has the turn, by its own account."""
        return [s for s in self.services if "digipoort" in s.channels
                and (turn := getattr(self.poller(s), "turn", None)) is not None and turn.held]

    def queue(self) -> AfleverRequest:
        message = self.simulator.make_afleverbericht(
            order_19(), "BESTELLING-UBL", ontvanger=Identiteit(SUPPLIER_KVK, "KvK"))
        self.simulator.queue_for_pickup(message)
        return message

    async def stored(self) -> Counter[str]:
        """How often each kenmerk is stored as an inbound document of the channel."""
        [store, *_] = [s.store for s in self.services
                       if s.store is not None and "digipoort" in s.channels]
        page = await store.list_messages(direction=Direction.INBOUND, limit=500)
        return Counter(r.transport_id for r in page.items
                       if r.channel == "digipoort" and r.transport_id is not None)


Start = Callable[..., Awaitable[Installation]]


@pytest.fixture
async def simulator(pki: Pki) -> AsyncIterator[DigipoortSimulator]:
    started = DigipoortSimulator(SimulatorSettings(pki_dir=pki.folder))
    await started.start()
    try:
        yield started
    finally:
        await started.stop()


@pytest.fixture
async def start(postgres_url: str, tmp_path: Path, pki: Pki,
                simulator: DigipoortSimulator) -> AsyncIterator[Start]:
    """Starts full instances (``names``, each in a folder of that name: two by default)
    on one PostgreSQL database fetching from the simulator every INTERVAL, the others
    once the first did a round (and, with turns, has the turn); ``prepare`` gets each
    instance's folder before it starts."""
    async with contextlib.AsyncExitStack() as stack:

        async def started(prepare: Callable[[Path], None] | None = None,
                          names: tuple[str, ...] = ("first", "second")) -> Installation:
            installation = Installation(simulator, [], [])
            for name in names:
                folder = tmp_path / name
                config = digipoort_config(folder, postgres_url, settings(simulator, pki))
                if prepare is not None:
                    prepare(folder)
                service = GatewayService(config, dispatch=FAST)
                stack.push_async_callback(service.stop)
                await service.start()
                assert "digipoort" in service.channels, service.channel_problems
                installation.services.append(service)
                installation.folders.append(folder)
                if name == names[0]:
                    await until(lambda: bool(done_a_round(installation)), 5 * INTERVAL,
                                "the first instance's first round")
            return installation

        yield started


def done_a_round(installation: Installation) -> list[GatewayService]:
    return [s for s in installation.services if installation.poller(s).watermark is not None]


def settings(simulator: DigipoortSimulator, pki: Pki) -> dict[str, Any]:
    return client_settings(pki, aanlever_url=simulator.aanlever_url,
                           status_url=simulator.status_url, ophaal=True,
                           ophaal_url=simulator.ophaal_url, ophaal_poll_interval=INTERVAL,
                           request_timeout=5)


async def until(condition: Callable[[], bool | Awaitable[bool]], within: float,
                what: str) -> float:
    """Seconds until ``condition`` held; fails after ``within``."""
    started = time.monotonic()
    while True:
        held = condition()
        if not isinstance(held, bool):
            held = await held
        if held:
            return time.monotonic() - started
        if time.monotonic() - started > within:
            raise AssertionError(f"{what}: not within {within:.1f} s")
        await asyncio.sleep(0.01)


async def all_stored_once(installation: Installation, kenmerken: list[str],
                          within: float) -> None:
    async def done() -> bool:
        counts = await installation.stored()
        return all(counts[k] for k in kenmerken)

    await until(done, within, "every document stored")
    counts = await installation.stored()
    assert {k: counts[k] for k in kenmerken} == dict.fromkeys(kenmerken, 1)


async def test_one_instance_asks_for_new_documents_each_interval(start: Start) -> None:
    installation = await start()
    calls = installation.simulator.ophaal_calls
    await until(lambda: calls["getNieuweBerichten"] > 0, 5 * INTERVAL, "the first call")
    rounds = 8
    before = calls["getNieuweBerichten"]
    kenmerken = []
    for _ in range(rounds):
        kenmerken.append(installation.queue().kenmerk)
        await asyncio.sleep(INTERVAL)
    asked = calls["getNieuweBerichten"] - before
    # One poller: a round every interval (plus the round's own time), so at most one
    # call per interval; two pollers made about twice as many.
    assert 2 <= asked <= rounds + 1, f"{asked} getNieuweBerichten calls in {rounds} intervals"
    assert len(installation.holders()) == 1
    await all_stored_once(installation, kenmerken, 5 * INTERVAL)


async def test_the_other_instance_fetches_on_when_the_holder_stops(start: Start) -> None:
    installation = await start()
    await until(lambda: len(installation.holders()) == 1, 5 * INTERVAL, "a holder")
    [holder] = installation.holders()
    [other] = [s for s in installation.services if s is not holder]
    first = installation.queue().kenmerk
    await all_stored_once(installation, [first], 5 * INTERVAL)
    calls = installation.simulator.ophaal_calls["getBerichten"]
    await holder.stop()
    # Given up, the turn is taken at the other's next try, not after it expired.
    took = await until(lambda: installation.poller(other).turn.held, TTL + 2 * INTERVAL,
                       "the other instance taking the turn")
    assert took < TTL, f"taken over after {took:.2f} s, as if the turn had expired"
    second = installation.queue().kenmerk
    await all_stored_once(installation, [first, second], 5 * INTERVAL)
    # It cannot know whether the holder's last call was cut off: it caught up by time.
    assert installation.simulator.ophaal_calls["getBerichten"] > calls


async def test_an_answer_lost_on_the_way_is_fetched_again_by_time(start: Start) -> None:
    installation = await start()
    # Digipoort answers and counts the document as fetched; the answer's signature is
    # broken, so the gateway cannot use it.
    kenmerk = installation.queue().kenmerk
    installation.simulator.inject(Fault(FaultKind.BAD_SIGNATURE, service="ophaal"))
    await all_stored_once(installation, [kenmerk], 8 * INTERVAL)


async def test_the_next_holder_catches_up_on_an_answer_the_stopped_holder_lost(
    start: Start,
) -> None:
    installation = await start()
    simulator = installation.simulator
    await until(lambda: len(installation.holders()) == 1, 5 * INTERVAL, "a holder")
    [holder] = installation.holders()
    kenmerk = installation.queue().kenmerk
    simulator.inject(Fault(FaultKind.BAD_SIGNATURE, service="ophaal"))
    # The holder's call took the broken answer; it stops before its next round, which
    # would have caught up.
    poller = installation.poller(holder)
    await until(lambda: poller.catch_up, 3 * INTERVAL, "the holder's failed call")
    # Its poller first: the rest of the instance takes a while to stop.
    await poller.stop()
    assert poller.catch_up, "the holder caught up itself before it stopped"
    await holder.stop()
    await all_stored_once(installation, [kenmerk], TTL + 5 * INTERVAL)


async def test_a_stopped_instance_finishes_its_spool_without_the_turn(
    start: Start, simulator: DigipoortSimulator, postgres_url: str, tmp_path: Path, pki: Pki,
) -> None:
    # The second instance's earlier run fetched a document and could not store it (its
    # database was away); it stopped with the document in its spool.
    message = simulator.make_afleverbericht(
        order_19(), "BESTELLING-UBL", ontvanger=Identiteit(SUPPLIER_KVK, "KvK"))
    simulator.queue_for_pickup(message)
    earlier = tmp_path / "earlier-data"
    channel = DigipoortChannel("digipoort", settings(simulator, pki))
    await channel.start(ChannelContext("digipoort", inbound=database_away,
                                       data_dir=str(earlier)))
    try:
        poller = channel.ophaal
        assert poller is not None
        await until(lambda: poller.catch_up, 5 * INTERVAL, "the round that could not store")
    finally:
        await channel.stop()
    assert len(list((earlier / "digipoort").glob("digipoort-ophaal-spool*.xml"))) == 1

    def second_data_dir(folder: Path) -> None:
        if folder.name == "second":
            earlier.rename(folder / "data")

    # The first instance has the turn when the second starts again.
    installation = await start(second_data_dir)
    spool_folder = tmp_path / "second" / "data" / "digipoort"
    first, _ = installation.services
    await all_stored_once(installation, [message.kenmerk], 5 * INTERVAL)
    await until(lambda: not list(spool_folder.glob("digipoort-ophaal-spool*.xml")), INTERVAL,
                "the spool removed")
    # Finished without the turn, and without a call: only the first instance asks.
    calls = simulator.ophaal_calls
    rounds = 6
    before = sum(calls.values())
    await asyncio.sleep(rounds * INTERVAL)
    asked = sum(calls.values()) - before
    assert asked <= rounds + 1, f"{asked} OphaalService calls in {rounds} intervals"
    assert installation.holders() == [first]


async def test_a_new_instance_recovers_what_the_holder_lost_before_it_died(
    start: Start,
) -> None:
    # One instance holds the turn; its call takes a document Digipoort then counts as
    # fetched, and the answer is lost on the way.
    alone = await start(names=("dying",))
    [dying] = alone.services
    poller = alone.poller(dying)
    assert poller.turn.held
    kenmerk = alone.queue().kenmerk
    alone.simulator.inject(Fault(FaultKind.BAD_SIGNATURE, service="ophaal"))
    await until(lambda: poller.catch_up, 3 * INTERVAL, "the holder's failed call")
    # Before its next round could catch up, it loses its database and stops: it cannot
    # give the turn up, which expires.
    assert dying.store is not None
    await dying.store.close()
    await dying.stop()
    assert poller.catch_up, "the holder caught up itself before it stopped"
    await asyncio.sleep(TTL + INTERVAL)
    # A new instance, with a data directory of its own: it never held the turn nor saw
    # another hold it, and has no watermark.
    later = await start(names=("new",))
    await all_stored_once(later, [kenmerk], 5 * INTERVAL)


async def test_the_installations_first_holder_dying_in_its_first_call_is_caught_up_on(
    postgres_url: str, simulator: DigipoortSimulator, pki: Pki, tmp_path: Path,
    start: Start,
) -> None:
    # A new installation: the first instance's very first call takes a document that
    # Digipoort then counts as fetched, and the answer is lost on the way. The instance
    # dies before any round stored everything: it never had a watermark to leave.
    message = simulator.make_afleverbericht(
        order_19(), "BESTELLING-UBL", ontvanger=Identiteit(SUPPLIER_KVK, "KvK"))
    simulator.queue_for_pickup(message)
    kenmerk = message.kenmerk
    simulator.inject(Fault(FaultKind.BAD_SIGNATURE, service="ophaal"))
    config = digipoort_config(tmp_path / "dying", postgres_url, settings(simulator, pki))
    dying = GatewayService(config, dispatch=FAST)
    await dying.start()
    try:
        poller = Installation(simulator, [dying], []).poller(dying)
        await until(lambda: poller.catch_up, 3 * INTERVAL, "the first call failing")
        assert poller.watermark is None
        assert dying.store is not None
        await dying.store.close()
    finally:
        await dying.stop()
    assert simulator.ophaal_calls["getNieuweBerichten"] == 1
    assert simulator.ophaal_calls["getBerichten"] == 0
    await asyncio.sleep(TTL + INTERVAL)
    # A new instance, with a data directory of its own, that never saw the dead one.
    later = await start(names=("new",))
    await all_stored_once(later, [kenmerk], 5 * INTERVAL)


async def test_a_call_handled_after_its_turn_was_taken_is_caught_up_on(
    start: Start, postgres_url: str,
) -> None:
    # The holder's call waits at a busy Digipoort; meanwhile the other instance takes
    # the turn (as if the holder had not renewed in time) and catches up. Digipoort
    # handles the waiting call after that catch-up, when its instance has cut it off
    # for the lost turn: what it hands over reaches nobody.
    late = 2.5
    installation = await start()
    simulator = installation.simulator
    holder, other = installation.services
    assert installation.holders() == [holder]
    holding, taking = installation.poller(holder), installation.poller(other)
    simulator.inject(Fault(FaultKind.LATE, service="ophaal", delay=late))
    await until(lambda: not simulator.pending_faults(), 2 * INTERVAL, "the holder's call")
    lease = f"channel:digipoort:{TURN_PURPOSE}"
    names = [(folder / "data" / HOLDER_FILE).read_text("utf-8").strip()
             for folder in installation.folders]
    caught_up = simulator.ophaal_calls["getBerichten"]
    async with open_store(postgres_url) as store:
        while not await store.hold_lease(lease, names[1], timedelta(seconds=TTL)):
            await store.release_lease(lease, names[0])
    await until(lambda: simulator.ophaal_calls["getBerichten"] > caught_up
                and taking.turn.held and not taking.catch_up, 3 * INTERVAL,
                "the other instance's catch-up on taking the turn")
    # Its next call is handled after the holder's, which takes the document queued now.
    simulator.inject(Fault(FaultKind.LATE, service="ophaal", delay=late + 1))
    kenmerk = installation.queue().kenmerk
    await until(lambda: not holding.turn.held, 2 * INTERVAL, "the holder finding its turn gone")
    handled = simulator.ophaal_calls["getNieuweBerichten"]
    await until(lambda: simulator.ophaal_calls["getNieuweBerichten"] > handled, late,
                "the holder's call handled")
    assert (await installation.stored())[kenmerk] == 0
    await holder.stop()  # its pending catch-up goes with it
    # Once that call is over for certain, the new holder asks again by time.
    await all_stored_once(installation, [kenmerk], 5 + TTL + 6 * INTERVAL)


async def test_until_its_second_catch_up_the_new_holder_leaves_the_note_where_it_was(
    postgres_url: str, simulator: DigipoortSimulator, pki: Pki, tmp_path: Path,
) -> None:
    # One poller driven round by round; the instance before it left its note and died.
    again_after = 1.5  # the call time-out, longer than the turn's time to live
    channel = DigipoortChannel("digipoort", settings(simulator, pki)
                               | {"request_timeout": again_after})
    await channel.start(ChannelContext("digipoort", data_dir=str(tmp_path)))
    try:
        assert channel.client is not None
        async with open_store(postgres_url) as store:
            await store.migrate()
            lease = f"channel:digipoort:{TURN_PURPOSE}"
            left = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
            assert await store.hold_lease(lease, "before", timedelta(seconds=TTL))
            assert await store.leave_lease_note(lease, "before", left)
            poller = OphaalPoller("digipoort", channel.config, channel.client,
                                  InboundPipeline(store, registry()).receive,
                                  Identiteit(SUPPLIER_KVK, "KvK"), str(tmp_path),
                                  StoreTurns(store, "digipoort", "after"))
            calls = simulator.ophaal_calls
            await asyncio.sleep(TTL)  # the lease of the one before runs out
            await poller.poll_once()
            assert calls == {"getBerichten": 1}, "the catch-up on taking the turn"
            await poller.poll_once()
            assert calls == {"getBerichten": 1, "getNieuweBerichten": 1}
            assert await store.lease_note(lease) == left
            await asyncio.sleep(again_after)
            await poller.poll_once()
            assert calls == {"getBerichten": 2, "getNieuweBerichten": 1}, "once more"
            note = await store.lease_note(lease)
            assert note is not None
            assert datetime.fromisoformat(note) > datetime.fromisoformat(left)
            await poller.poll_once()
            assert calls == {"getBerichten": 2, "getNieuweBerichten": 2}
            await poller.stop()
    finally:
        await channel.stop()
