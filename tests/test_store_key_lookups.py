"""Business-key look-ups intake makes for every invoice: exact keys and key prefixes.

An invoice naming an order asks whether the agency sent that order (exactly
its key, or a staffing order's closing under a key prefix), and one naming a
timecard reads the timecard's corrections (a prefix). Both run at every
intake, so on PostgreSQL the prefix must be served by an index: starts_with
alone read every row of the messages table.
"""

from __future__ import annotations

import pytest
from test_store import invoice

from gateway.kinds import Direction
from gateway.store import Store, TransportState
from gateway.store.postgres import PostgresStore, _starts_with

KEYS = ["a:order:7", "a:order:7:status:x1", "a:order:70", "a:or_er%:7", "b:order:7"]


async def stored(store: Store) -> None:
    for key in KEYS:
        _, created = await store.add_outbound(invoice(key))
        assert created


async def test_has_live_key_answers_for_keys_and_prefixes(store: Store) -> None:
    await stored(store)
    out = Direction.OUTBOUND
    assert await store.has_live_key(out, ["a:order:7"])
    assert await store.has_live_key(out, ["nope", "b:order:7"])
    assert not await store.has_live_key(out, ["a:order:8"])
    assert not await store.has_live_key(Direction.INBOUND, ["a:order:7"])
    assert await store.has_live_key(out, [], ["a:order:7:status:"])
    assert not await store.has_live_key(out, [], ["a:order:8:"])
    # % and _ are characters of the key, not patterns.
    assert not await store.has_live_key(out, [], ["a:or%"])
    assert await store.has_live_key(out, [], ["a:or_er%"])
    assert not await store.has_live_key(out, ["a:order:7\x00"], ["a:\x00"])
    assert not await store.has_live_key(out, [])
    # A rejected message holds no key.
    await store.add_outbound(invoice("c:order:1", transport_state=TransportState.REJECTED))
    assert not await store.has_live_key(out, ["c:order:1"], ["c:"])


async def test_a_prefix_finds_exactly_the_keys_that_start_with_it(store: Store) -> None:
    await stored(store)
    found = await store.find_by_business_key_prefix(Direction.OUTBOUND, "a:order:7")
    assert {r.business_key for r in found} == {"a:order:7", "a:order:7:status:x1",
                                               "a:order:70"}
    found = await store.find_by_business_key_prefix(Direction.OUTBOUND, "a:or_er%")
    assert [r.business_key for r in found] == ["a:or_er%:7"]


async def test_postgresql_serves_a_key_prefix_from_an_index(store: Store) -> None:
    if not isinstance(store, PostgresStore):
        pytest.skip("the index question is PostgreSQL's")
    await stored(store)
    pool = await store._get_pool()
    async with pool.acquire() as conn, conn.transaction():
        # The table is tiny: only with sequential scans off does the plan show whether
        # an index can serve the look-up at all.
        await conn.execute("SET LOCAL enable_seqscan = off")
        plan = "\n".join(row[0] for row in await conn.fetch(
            f"EXPLAIN SELECT 1 FROM messages WHERE {_starts_with('business_key', '$1')}",
            "a:order:7"))
    assert "messages_business_key_bytes" in plan, plan
