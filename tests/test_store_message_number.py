"""The message list's number filter reads an indexed column, for old messages too.

It took each business key apart row by row: on a store of a million messages
an operator's search for one invoice number read every message the other
filters left. The number is now a column taken from the key, with an index.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import asyncpg
import attrs
import pytest
from test_store import BZK, invoice
from test_store_migration_upgrades import postgres_to, sqlite_to

from gateway.kinds import Direction
from gateway.store import (
    MessageRecord,
    NewEvent,
    Store,
    TransportState,
    migrations,
    open_store,
)
from gateway.store.postgres import SELECT_FULL as POSTGRES_LIST
from gateway.store.sqlite import SELECT_FULL as SQLITE_LIST

SUPPLIER = "12345678"
OTHER_OIN = "00000001822477348000"


async def decoded(store: Store, transport_id: str, kind: str, number: str) -> str:
    """An inbound message stored raw and keyed when decoded, as the inbound pipeline does."""
    record, _ = await store.add_inbound_raw(MessageRecord.new_inbound(
        channel="peppol", raw_payload=b"<Document/>", transport_id=transport_id))
    await store.transition(
        record.id, event=NewEvent("decoded", {}), transport_state=TransportState.DECODED,
        document_kind=kind, agency_oin=BZK, business_key=f"{BZK}:{kind}:{number}")
    return str(record.id)


async def outbound(store: Store, kind: str, number: str, agency: str = BZK) -> str:
    record, created = await store.add_outbound(attrs.evolve(
        invoice(f"{SUPPLIER}:{agency}:{kind}:{number}"), document_kind=kind))
    assert created
    return str(record.id)


async def every_kind_of_number(store: Store) -> dict[str, str]:
    """A message of each shape of key the number is taken from, by name."""
    return {
        "invoice 7": await outbound(store, "invoice", "7"),
        "invoice X:7": await outbound(store, "invoice", "X:7"),
        "invoice 70": await outbound(store, "invoice", "70"),
        # The key names another agency than the row: no number of this row's.
        "stray 7": await outbound(store, "invoice", "7", agency=OTHER_OIN),
        "order 7": await decoded(store, "in-1", "order", "7"),
        "closing 7": await decoded(store, "in-2", "staffing-order", "7:status:closed"),
        "correction 7": await decoded(store, "in-3", "timecard",
                                      "7:correction:0123456789abcdef"),
        "rejected timecard 7": await decoded(store, "in-4", "timecard", "7:status:rejected"),
        "order X:7": await decoded(store, "in-5", "order", "X:7"),
        "confirmation H-1": await outbound(store, "human-resource", "H-1:order:PO:9"),
        "old confirmation H-1": await outbound(store, "human-resource", "H-1"),
    }


async def found(store: Store, number: str, direction: Direction | None = None) -> set[str]:
    page = await store.list_messages(number=number, direction=direction)
    return {record.id for record in page.items}


async def check_numbers(store: Store, ids: dict[str, str]) -> None:
    def named(*names: str) -> set[str]:
        return {ids[name] for name in names}

    assert await found(store, "7") == named(
        "invoice 7", "order 7", "closing 7", "correction 7", "rejected timecard 7")
    assert await found(store, "7", Direction.OUTBOUND) == named("invoice 7")
    assert await found(store, "X:7") == named("invoice X:7", "order X:7")
    assert await found(store, "70") == named("invoice 70")
    assert await found(store, "H-1") == named("confirmation H-1", "old confirmation H-1")
    assert await found(store, "x:7") == set()
    assert await found(store, "0123456789abcdef") == set()


async def test_every_kind_of_number_is_found_by_the_column(store: Store) -> None:
    await check_numbers(store, await every_kind_of_number(store))


async def test_the_upgrade_gives_the_messages_stored_before_their_number(
    store_url: str,
) -> None:
    backend = "sqlite" if store_url.startswith("sqlite") else "postgres"
    [added] = [m for m in migrations.load(backend) if m.name == "message_number"]
    if backend == "sqlite":
        sqlite_to(Path(store_url.removeprefix("sqlite:///")), added.version - 1)
    else:
        await postgres_to(store_url, added.version - 1)
    async with open_store(store_url) as store:
        before = await every_kind_of_number(store)
        # Received before the upgrade, decoded after it.
        raw, _ = await store.add_inbound_raw(MessageRecord.new_inbound(
            channel="peppol", raw_payload=b"<Order/>", transport_id="in-late"))
        assert await store.migrate() == len(migrations.load(backend))
        await check_numbers(store, before)
        assert await found(store, "PO-late") == set()
        await store.transition(
            raw.id, event=NewEvent("decoded", {}), transport_state=TransportState.DECODED,
            document_kind="order", agency_oin=BZK, business_key=f"{BZK}:order:PO-late")
        assert await found(store, "PO-late") == {raw.id}
        assert await found(store, "7", Direction.OUTBOUND) == {before["invoice 7"]}


async def many(store: Store) -> None:
    """Enough messages that the planner weighs the index against reading them all."""
    for n in range(2000):
        await store.add_outbound(invoice(f"{SUPPLIER}:{BZK}:invoice:F-{n}"))


async def test_sqlite_serves_the_number_filter_from_its_index(tmp_path: Path) -> None:
    path = tmp_path / "gateway.db"
    async with open_store(f"sqlite:///{path}") as store:
        await store.migrate()
        await many(store)
    conn = sqlite3.connect(path)
    try:
        conn.execute("ANALYZE")
        for where in ("m.number = ?", "m.number = ? AND m.direction = 'outbound'"):
            plan = " / ".join(row[3] for row in conn.execute(
                f"EXPLAIN QUERY PLAN {SQLITE_LIST} WHERE {where} ORDER BY m.id DESC LIMIT 51",
                ("F-7",)))
            assert "USING INDEX messages_number (number=?)" in plan, plan
    finally:
        conn.close()


@pytest.mark.postgres
async def test_postgresql_serves_the_number_filter_from_its_index(postgres_url: str) -> None:
    async with open_store(postgres_url) as store:
        await store.migrate()
        await many(store)
    conn = await asyncpg.connect(postgres_url)
    try:
        await conn.execute("ANALYZE messages")
        for where in ("m.number = $1", "m.number = $1 AND m.direction = 'outbound'"):
            plan = "\n".join(row[0] for row in await conn.fetch(
                f"EXPLAIN {POSTGRES_LIST} WHERE {where} ORDER BY m.id DESC LIMIT 51",
                "F-7"))
            assert "messages_number" in plan, plan
            assert "Seq Scan on messages" not in plan, plan
    finally:
        await conn.close()
