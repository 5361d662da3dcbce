"""Leases: one holder at a time across the store objects of one database, on both backends.

Each store object here stands for a gateway instance (its own connections,
its own SQLite writer thread), all on one database: what keeps their turns
apart is the database, in one statement per call.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from gateway.store import Store, StoreError, open_store

TTL = timedelta(seconds=30)
SHORT = timedelta(seconds=0.4)
LEASE = "channel:digipoort:status"


@pytest.fixture
async def pair(store_url: str) -> AsyncIterator[tuple[Store, Store]]:
    async with open_store(store_url) as first, open_store(store_url) as second:
        await first.migrate()
        await second.migrate()
        yield first, second


async def test_one_holder_at_a_time_and_the_holder_renews(pair: tuple[Store, Store]) -> None:
    first, second = pair
    assert await first.hold_lease(LEASE, "a", TTL)
    assert not await second.hold_lease(LEASE, "b", TTL)
    # Renewing is holding again; the other still gets nothing.
    assert await first.hold_lease(LEASE, "a", TTL)
    assert not await second.hold_lease(LEASE, "b", TTL)
    # Another name is another lease.
    assert await second.hold_lease("channel:peppol:receipts", "b", TTL)
    assert not await first.hold_lease("channel:peppol:receipts", "a", TTL)


async def test_an_expired_lease_is_taken_by_another_and_lost_by_its_holder(
    pair: tuple[Store, Store],
) -> None:
    first, second = pair
    assert await first.hold_lease(LEASE, "a", SHORT)
    assert not await second.hold_lease(LEASE, "b", SHORT)
    await asyncio.sleep(SHORT.total_seconds() * 1.5)  # "a" died: nobody renewed it
    assert await second.hold_lease(LEASE, "b", TTL)
    assert not await first.hold_lease(LEASE, "a", TTL), "a holder that came back is too late"


async def test_a_renewal_pushes_the_expiry_out(pair: tuple[Store, Store]) -> None:
    first, second = pair
    assert await first.hold_lease(LEASE, "a", timedelta(seconds=0.8))
    await asyncio.sleep(0.5)
    assert await first.hold_lease(LEASE, "a", timedelta(seconds=0.8))
    await asyncio.sleep(0.5)  # past the first expiry, not the renewed one
    assert not await second.hold_lease(LEASE, "b", TTL)


async def test_a_released_lease_is_taken_at_once_and_only_its_holder_releases_it(
    pair: tuple[Store, Store],
) -> None:
    first, second = pair
    assert await first.hold_lease(LEASE, "a", TTL)
    assert not await second.release_lease(LEASE, "b"), "b does not hold it"
    assert not await second.hold_lease(LEASE, "b", TTL)
    assert await first.release_lease(LEASE, "a")
    assert await second.hold_lease(LEASE, "b", TTL)
    assert not await first.release_lease(LEASE, "a"), "a holds it no longer"
    assert not await first.hold_lease(LEASE, "a", TTL)


async def test_of_many_asking_at_once_one_gets_the_lease(pair: tuple[Store, Store]) -> None:
    first, second = pair
    stores = [first, second] * 8
    answers = await asyncio.gather(*(store.hold_lease(LEASE, f"holder-{n}", TTL)
                                     for n, store in enumerate(stores)))
    assert answers.count(True) == 1, answers
    winner = f"holder-{answers.index(True)}"
    # Everybody else, asking again, still finds it held; the winner renews.
    again = await asyncio.gather(*(store.hold_lease(LEASE, f"holder-{n}", TTL)
                                   for n, store in enumerate(stores)))
    assert [f"holder-{n}" for n, mine in enumerate(again) if mine] == [winner]


async def test_bad_lease_arguments_are_refused_by_name(pair: tuple[Store, Store]) -> None:
    first, _ = pair
    with pytest.raises(StoreError, match="a lease needs a name"):
        await first.hold_lease(" ", "a", TTL)
    with pytest.raises(StoreError, match=f"lease '{LEASE}': a holder needs an id"):
        await first.hold_lease(LEASE, "", TTL)
    with pytest.raises(StoreError, match=f"lease '{LEASE}': the time to live must be positive"):
        await first.hold_lease(LEASE, "a", timedelta(0))
    with pytest.raises(StoreError, match="a holder needs an id"):
        await first.release_lease(LEASE, "")
    # Nothing was taken by the refused calls.
    assert await first.hold_lease(LEASE, "a", TTL)


async def test_leases_name_their_holder_and_end(pair: tuple[Store, Store]) -> None:
    # For /health and `gateway status`: who holds each turn, and until when.
    first, second = pair
    before = datetime.now(UTC)
    assert await second.hold_lease("channel:peppol:receipts", "b", TTL)
    assert await first.hold_lease(LEASE, "a", TTL * 2)
    assert await first.hold_lease("other:lease", "a", TTL)
    listed = await second.leases("channel:")
    assert [(lease.name, lease.holder) for lease in listed] == [
        (LEASE, "a"), ("channel:peppol:receipts", "b")]
    # By the database's clock, which on one machine is ours.
    assert before + TTL * 2 <= listed[0].expires_at <= datetime.now(UTC) + TTL * 2
    assert before + TTL <= listed[1].expires_at <= datetime.now(UTC) + TTL
    assert await first.release_lease(LEASE, "a")
    assert [lease.name for lease in await first.leases()] == [
        "channel:peppol:receipts", "other:lease"]
