"""A database made by an older schema version upgrades at start, its data intact."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest

from gateway.store import MessageRecord, NewEvent, migrations, open_store

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def invoice(key: str, state_channel: str = "digipoort") -> MessageRecord:
    return MessageRecord.new_outbound(
        document_kind="invoice", business_key=key, agency_oin="00000001003214345000",
        canonical_json=json.dumps({"number": key}), raw_payload=b"<Invoice/>",
        channel=state_channel, format_key="ubl-ohnl:invoice:1.9", now=T0,
        routing={"channel": state_channel},
    )


def sqlite_to(path: Path, version: int) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY,"
                     " name TEXT NOT NULL, checksum TEXT NOT NULL, applied_at TEXT NOT NULL)")
        for m in migrations.load("sqlite")[:version]:
            for statement in migrations.statements(m.sql):
                conn.execute(statement)
            conn.execute("INSERT INTO schema_migrations VALUES (?, ?, ?, ?)",
                         (m.version, m.name, m.checksum, "2026-01-01T00:00:00.000000Z"))
    finally:
        conn.close()


async def test_sqlite_version_1_upgrades_with_its_messages(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    sqlite_to(path, 1)
    url = f"sqlite:///{path}"
    async with open_store(url) as store:
        records = []
        for n in range(3):
            record, created = await store.add_outbound(invoice(f"INV-{n}"),
                                                       [NewEvent("intake", {"n": n})])
            assert created
            records.append(record)
        assert await store.migrate() == len(migrations.load("sqlite"))
        for record in records:
            assert await store.get(record.id) == record
            assert [e.kind for e in await store.events(record.id)] == ["intake"]
    conn = sqlite3.connect(path)
    try:
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
        assert "messages_waiting" in names
    finally:
        conn.close()


@pytest.mark.postgres
@pytest.mark.parametrize("start", [0, 1, 2])
async def test_two_gateways_migrate_one_postgres_database_at_once(
    postgres_url: str, start: int,
) -> None:
    if start:
        conn = await asyncpg.connect(postgres_url)
        try:
            await conn.execute(
                "CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL,"
                " checksum text NOT NULL, applied_at timestamptz NOT NULL)")
            for m in migrations.load("postgres")[:start]:
                await conn.execute(m.sql)
                await conn.execute("INSERT INTO schema_migrations VALUES ($1, $2, $3, now())",
                                   m.version, m.name, m.checksum)
        finally:
            await conn.close()
    stores = [open_store(postgres_url) for _ in range(4)]
    try:
        results = await asyncio.gather(*(s.migrate() for s in stores))
        assert results == [len(migrations.load("postgres"))] * 4
    finally:
        for s in stores:
            await s.close()
