"""Lease notes: what the holder of a turn leaves for the next one, on both backends.

Each store object stands for a gateway instance, all on one database. A note
is written only by the lease's live holder, kept when the lease is released or
expires and across restarts, and read by whoever comes next.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from test_store_leases import SHORT, TTL, pair
from test_store_migration_upgrades import postgres_to, sqlite_to

from gateway.store import Store, StoreError, migrations, open_store
from gateway.store.base import MAX_LEASE_NOTE

__all__ = ["pair"]  # the fixture, used by the tests here

LEASE = "channel:digipoort:ophaal"


async def test_the_holder_leaves_a_note_the_other_reads(pair: tuple[Store, Store]) -> None:
    first, second = pair
    assert await second.lease_note(LEASE) is None
    assert await first.hold_lease(LEASE, "a", TTL)
    assert await first.leave_lease_note(LEASE, "a", "2026-03-01T09:00:00+00:00")
    assert await second.lease_note(LEASE) == "2026-03-01T09:00:00+00:00"
    assert await first.leave_lease_note(LEASE, "a", "2026-03-01T09:05:00+00:00")
    assert await second.lease_note(LEASE) == "2026-03-01T09:05:00+00:00"
    # Another lease has a note of its own.
    assert await second.lease_note("channel:peppol:receipts") is None


async def test_only_the_live_holder_writes(pair: tuple[Store, Store]) -> None:
    first, second = pair
    assert not await first.leave_lease_note(LEASE, "a", "nobody holds it"), "no lease"
    assert await first.hold_lease(LEASE, "a", SHORT)
    assert await first.leave_lease_note(LEASE, "a", "from a")
    assert not await second.leave_lease_note(LEASE, "b", "from b"), "b does not hold it"
    await asyncio.sleep(SHORT.total_seconds() * 1.5)
    assert not await first.leave_lease_note(LEASE, "a", "a, expired"), "a's lease expired"
    # The lease taken from "a", whose renewal came too late: "a" cannot move the note.
    assert await second.hold_lease(LEASE, "b", TTL)
    assert not await first.leave_lease_note(LEASE, "a", "a, taken over")
    assert await first.lease_note(LEASE) == "from a"
    assert await second.leave_lease_note(LEASE, "b", "from b")
    assert await first.lease_note(LEASE) == "from b"


async def test_the_note_outlives_the_lease_and_the_store(
    store_url: str, pair: tuple[Store, Store],
) -> None:
    first, second = pair
    assert await first.hold_lease(LEASE, "a", TTL)
    assert await first.leave_lease_note(LEASE, "a", "from a")
    assert await first.release_lease(LEASE, "a")
    assert await second.lease_note(LEASE) == "from a"
    await first.close()
    await second.close()
    async with open_store(store_url) as restarted:
        await restarted.migrate()
        assert await restarted.lease_note(LEASE) == "from a"
        assert await restarted.hold_lease(LEASE, "c", TTL)
        assert await restarted.lease_note(LEASE) == "from a", "taking the lease keeps it"


@pytest.mark.parametrize(("name", "holder", "note", "problem"), [
    ("", "a", "n", "a lease needs a name"),
    ("  ", "a", "n", "a lease needs a name"),
    (LEASE, "", "n", f"lease '{LEASE}': a holder needs an id"),
    (LEASE, "a", "", f"lease '{LEASE}': a note needs text"),
    (LEASE, "a", " \n", f"lease '{LEASE}': a note needs text"),
    (LEASE, "a", "2026\x00", f"lease '{LEASE}': a note cannot hold a NUL character"),
    (LEASE, "a", "x" * (MAX_LEASE_NOTE + 1),
     f"lease '{LEASE}': a note is at most {MAX_LEASE_NOTE} characters, "
     f"got {MAX_LEASE_NOTE + 1}"),
    (LEASE, "a", None, f"lease '{LEASE}': a note is text, got NoneType"),
])
async def test_bad_arguments_are_refused_and_nothing_is_written(
    pair: tuple[Store, Store], name: str, holder: str, note: Any, problem: str,
) -> None:
    first, _ = pair
    assert await first.hold_lease(LEASE, "a", TTL)
    assert await first.leave_lease_note(LEASE, "a", "kept")
    with pytest.raises(StoreError) as refused:
        await first.leave_lease_note(name, holder, note)
    assert str(refused.value).startswith(problem)
    assert await first.lease_note(LEASE) == "kept"
    assert await first.leave_lease_note(LEASE, "a", "x" * MAX_LEASE_NOTE), "the longest note"


async def test_reading_needs_a_name(pair: tuple[Store, Store]) -> None:
    first, _ = pair
    with pytest.raises(StoreError, match="a lease needs a name"):
        await first.lease_note(" ")


async def test_a_database_of_the_version_before_gets_notes_and_keeps_its_leases(
    store_url: str,
) -> None:
    backend = "sqlite" if store_url.startswith("sqlite") else "postgres"
    [added] = [m for m in migrations.load(backend) if m.name == "lease_notes"]
    if backend == "sqlite":
        sqlite_to(Path(store_url.removeprefix("sqlite:///")), added.version - 1)
    else:
        await postgres_to(store_url, added.version - 1)
    async with open_store(store_url) as store:
        assert await store.hold_lease(LEASE, "a", TTL)  # the lease of an older gateway
        await store.migrate()
        assert await store.lease_note(LEASE) is None
        assert await store.leave_lease_note(LEASE, "a", "from a")
        assert not await store.hold_lease(LEASE, "b", TTL), "the lease is still a's"
        assert await store.lease_note(LEASE) == "from a"
