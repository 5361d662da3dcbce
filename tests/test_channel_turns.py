"""A channel's turn (gateway.channels.Turn) over store leases, on both backends.

Two store objects on one database stand for two gateway instances. A round
longer than the turn's time to live keeps it (renewed as it runs); a round
whose turn another instance took is cancelled; a store that cannot answer
means "not my turn", not a crash of the poller.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator

import pytest

from gateway.channels import MIN_TURN_TTL, Turn, TurnLost
from gateway.pipeline.turns import StoreTurns
from gateway.store import Store, open_store

INTERVAL = 0.1  # the turn lives MIN_TURN_TTL, renewed every third of it during a round
TTL = MIN_TURN_TTL.total_seconds()


@pytest.fixture
async def pair(store_url: str) -> AsyncIterator[tuple[Store, Store]]:
    async with open_store(store_url) as first, open_store(store_url) as second:
        await first.migrate()
        yield first, second


def turn(store: Store, holder: str) -> Turn:
    return Turn(StoreTurns(store, "digipoort", holder), "status", INTERVAL,
                who=f"{holder}: status polling")


async def test_a_round_longer_than_the_turn_keeps_it(pair: tuple[Store, Store]) -> None:
    first, second = pair
    mine, theirs = turn(first, "a"), turn(second, "b")
    assert await mine.take()
    assert mine.new
    refused: list[bool] = []

    async def long_round() -> str:
        for _ in range(int(TTL * 2.5 / 0.1)):
            refused.append(not await theirs.take())
            await asyncio.sleep(0.1)
        return "done"

    assert await mine.keep(long_round()) == "done"
    assert all(refused), "the other instance got the turn during the round"
    assert await mine.take()
    assert not mine.new, "kept all along"


async def endless_round(cancelled: asyncio.Event) -> None:
    """A poll round that would run a minute; ``cancelled`` is set when it is cut short."""
    try:
        await asyncio.sleep(60)
    except asyncio.CancelledError:
        cancelled.set()
        raise


async def test_a_round_whose_turn_was_taken_is_cancelled(pair: tuple[Store, Store]) -> None:
    first, second = pair
    mine, theirs = turn(first, "a"), turn(second, "b")
    assert await mine.take()
    cancelled = asyncio.Event()

    async def taken_meanwhile() -> None:
        await asyncio.sleep(0.1)
        # As if "a" had not renewed in time: its lease is gone and "b" has the turn.
        assert await second.release_lease("channel:digipoort:status", "a")
        assert await theirs.take()

    with pytest.raises(TurnLost):
        await asyncio.gather(mine.keep(endless_round(cancelled)), taken_meanwhile())
    assert cancelled.is_set()
    assert not mine.held
    assert theirs.held
    assert theirs.new


async def test_a_round_ends_once_the_turn_expired_unrenewed(pair: tuple[Store, Store]) -> None:
    first, second = pair
    mine = turn(second, "a")
    assert await mine.take()
    cancelled = asyncio.Event()

    async def store_away() -> None:
        await asyncio.sleep(0.1)
        await second.close()  # this instance's database connection is gone

    started = asyncio.get_running_loop().time()
    with pytest.raises(TurnLost):
        await asyncio.gather(mine.keep(endless_round(cancelled)), store_away())
    ended = asyncio.get_running_loop().time() - started
    assert cancelled.is_set()
    # Not at the first renewal that could not be answered, but once the lease it last
    # renewed had run out, when another instance may hold the turn.
    assert TTL <= ended < TTL * 2, ended
    # By the database's clock too, give or take the time a write takes.
    other = turn(first, "b")
    for _ in range(25):
        if await other.take():
            break
        await asyncio.sleep(0.02)
    assert other.held


async def test_giving_up_hands_the_turn_over_at_once(pair: tuple[Store, Store]) -> None:
    first, second = pair
    mine, theirs = turn(first, "a"), turn(second, "b")
    assert await mine.take()
    assert not await theirs.take()
    await mine.give_up()
    assert await theirs.take()
    assert not await mine.take()


async def test_a_store_that_cannot_answer_is_not_my_turn(pair: tuple[Store, Store]) -> None:
    first, second = pair
    mine = turn(second, "a")
    assert await mine.take()
    await second.close()
    assert not await mine.take(), "a closed store cannot tell"
    await mine.give_up()  # does not raise either; the lease expires by itself
    # The lease "a" took is still there until it expires.
    assert not await turn(first, "b").take()
    await asyncio.sleep(TTL * 1.2)
    assert await turn(first, "b").take()


async def test_without_a_store_the_turn_is_always_this_instances() -> None:
    alone = Turn(None, "status", INTERVAL, who="alone")
    assert [(await alone.take(), alone.new) for _ in range(2)] == [(True, True), (True, False)]
    assert await alone.keep(asyncio.sleep(0.01, result=7)) == 7


async def test_a_failure_of_a_round_cut_off_as_it_ended_is_not_left_unread() -> None:
    # The round fails in the same tick as the poller is stopped: its error must be taken
    # out of its task, or asyncio complains about it when the task is collected.
    complaints: list[str] = []
    asyncio.get_running_loop().set_exception_handler(
        lambda _loop, context: complaints.append(context["message"]))
    gate = asyncio.Event()

    async def round_failing() -> None:
        await gate.wait()
        raise RuntimeError("the round failed")

    keeper = asyncio.create_task(Turn(None, "poll", 60, who="test").keep(round_failing()))
    await asyncio.sleep(0)
    gate.set()
    keeper.cancel()
    await asyncio.wait([keeper])
    assert keeper.cancelled()
    del keeper
    gc.collect()
    assert complaints == []
