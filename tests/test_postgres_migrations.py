"""PostgreSQL migrations after the first: applied to a database that holds messages already."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import asyncpg
import pytest

from gateway.store import MessageRecord, NewEvent, migrations, open_store
from gateway.store.postgres import PostgresStore

pytestmark = pytest.mark.postgres

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
# Big enough for PostgreSQL to compress it (above ~2 kB a row is compressed).
DOCUMENT = json.dumps({"lines": [{"line": n, "text": f"line {n} of the invoice"}
                                 for n in range(200)]})


def invoice(key: str) -> MessageRecord:
    return MessageRecord.new_outbound(
        document_kind="invoice", business_key=key, agency_oin="00000001003214345000",
        canonical_json=DOCUMENT, raw_payload=DOCUMENT.encode(), channel="digipoort",
        format_key="nlcius:invoice:1.0", now=T0, routing={"channel": "digipoort"},
    )


async def migrate_to(url: str, version: int) -> None:
    """Apply the shipped migrations up to ``version`` only, recorded as the store does."""
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(
            "CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL,"
            " checksum text NOT NULL, applied_at timestamptz NOT NULL)"
        )
        for migration in migrations.load("postgres")[:version]:
            await conn.execute(migration.sql)
            await conn.execute("INSERT INTO schema_migrations VALUES ($1, $2, $3, now())",
                               migration.version, migration.name, migration.checksum)
    finally:
        await conn.close()


async def compression(url: str, message_id: str) -> tuple[str, str]:
    conn = await asyncpg.connect(url)
    try:
        row = await conn.fetchrow(
            "SELECT pg_column_compression(raw_payload) AS raw,"
            " pg_column_compression(canonical_json) AS canonical"
            " FROM payloads WHERE message_id = $1", message_id)
    finally:
        await conn.close()
    assert row is not None, message_id
    return row["raw"], row["canonical"]


async def lz4_available(url: str) -> bool:
    conn = await asyncpg.connect(url)
    try:
        return bool(await conn.fetchval(
            "SELECT 'lz4' = ANY (enumvals) FROM pg_settings"
            " WHERE name = 'default_toast_compression'"))
    finally:
        await conn.close()


async def test_payloads_lz4_on_a_database_with_messages(postgres_url: str) -> None:
    await migrate_to(postgres_url, 1)
    async with open_store(postgres_url) as store:
        before = []
        for n in range(3):
            record, created = await store.add_outbound(
                invoice(f"INV-{n}"), [NewEvent("intake", {"n": n})])
            assert created
            before.append(record)
        assert await compression(postgres_url, before[0].id) == ("pglz", "pglz")

        assert await store.migrate() == len(migrations.load("postgres"))

        for record in before:
            assert await store.get(record.id) == record
            assert [e.kind for e in await store.events(record.id)] == ["intake"]
        after, created = await store.add_outbound(invoice("INV-new"))
        assert created
        assert await store.get(after.id) == after
        # Stored values keep the method they were written with; new ones use lz4.
        assert await compression(postgres_url, before[0].id) == ("pglz", "pglz")
        expected = "lz4" if await lz4_available(postgres_url) else "pglz"
        assert await compression(postgres_url, after.id) == (expected, expected)


async def test_a_fresh_database_gets_every_migration(postgres_url: str) -> None:
    async with PostgresStore(postgres_url) as store:
        assert await store.migrate() == len(migrations.load("postgres"))
        assert await store.migrate() == len(migrations.load("postgres"))
