"""A database made by an older schema version upgrades at start, its data intact."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import attrs
import pytest

from gateway.store import (
    Attempt,
    AttemptOutcome,
    MessageRecord,
    NewEvent,
    TransportState,
    migrations,
    open_store,
)

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


async def postgres_to(url: str, version: int) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(
            "CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL,"
            " checksum text NOT NULL, applied_at timestamptz NOT NULL)")
        for m in migrations.load("postgres")[:version]:
            await conn.execute(m.sql)
            await conn.execute("INSERT INTO schema_migrations VALUES ($1, $2, $3, now())",
                               m.version, m.name, m.checksum)
    finally:
        await conn.close()


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
        await postgres_to(postgres_url, start)
    stores = [open_store(postgres_url) for _ in range(4)]
    try:
        results = await asyncio.gather(*(s.migrate() for s in stores))
        assert results == [len(migrations.load("postgres"))] * 4
    finally:
        for s in stores:
            await s.close()


# Timelines after the 'intake' event (seq 1) of sent, delivered messages, as a gateway
# before status_followed left them: which of them are still followed after the upgrade.
OLD_TIMELINES = {
    "live": [("sent", {}), ("status", {"code": "400", "final": False})],
    "stopped": [("sent", {}), ("status", {"code": "400", "final": False}),
                ("status", {"code": "polling-stopped", "final": True})],
    # no-status (final), then sent again by an operator: the final word was the old send's.
    "sent-again": [("sent", {}), ("status", {"code": "no-status", "final": True}),
                   ("sent", {}), ("status", {"code": "400", "final": False})],
}


async def write_sent(url: str, message_id: str, timeline: list[tuple[str, dict[str, Any]]]
                     ) -> None:
    """What the old gateway wrote when it sent the message and recorded its statuses."""
    events = [(message_id, seq, kind, json.dumps(detail))
              for seq, (kind, detail) in enumerate(timeline, start=2)]
    sent = ("UPDATE messages SET transport_state = 'sent', next_attempt_at = NULL, "
            "business_state = 'delivered-to-agency', transport_id = id, last_event_seq = {} "
            "WHERE id = {}")
    if url.startswith("sqlite:///"):
        with contextlib.closing(sqlite3.connect(url.removeprefix("sqlite:///"))) as db, db:
            db.executemany("INSERT INTO events VALUES (?, ?, '2026-03-01T09:00:00.000000Z', ?, "
                           "NULL, NULL, ?)", events)
            db.execute(sent.format("?", "?"), (len(timeline) + 1, message_id))
        return
    conn = await asyncpg.connect(url)
    try:
        await conn.executemany("INSERT INTO events VALUES ($1, $2, $3, $4, NULL, NULL, $5::jsonb)",
                               [(m, seq, T0, kind, detail) for m, seq, kind, detail in events])
        await conn.execute(sent.format("$1", "$2"), len(timeline) + 1, message_id)
    finally:
        await conn.close()


async def test_the_upgrade_to_status_followed_keeps_sent_messages_followed_but_the_stopped(
    store_url: str,
) -> None:
    backend = "sqlite" if store_url.startswith("sqlite") else "postgres"
    [added] = [m for m in migrations.load(backend) if m.name == "status_followed"]
    if backend == "sqlite":
        sqlite_to(Path(store_url.removeprefix("sqlite:///")), added.version - 1)
    else:
        await postgres_to(store_url, added.version - 1)
    async with open_store(store_url) as store:
        ids = {}
        for name, timeline in OLD_TIMELINES.items():
            record, _ = await store.add_outbound(invoice(name), [NewEvent("intake")])
            await write_sent(store_url, record.id, timeline)
            ids[name] = record.id

        await store.migrate()
        waiting = await store.waiting_for_status("digipoort", "delivered-to-agency", 10)
        assert [r.id for r in waiting] == [ids["live"], ids["sent-again"]]
        for message_id in ids.values():
            kept = await store.get(message_id)
            assert kept is not None
            assert kept.transport_state is TransportState.SENT
            assert kept.updated_at == T0, "the upgrade is no change of the message"


async def test_the_upgrade_to_interrupted_attempts_keeps_the_attempts_recorded(
    store_url: str,
) -> None:
    backend = "sqlite" if store_url.startswith("sqlite") else "postgres"
    [added] = [m for m in migrations.load(backend) if m.name == "interrupted_attempts"]
    if backend == "sqlite":
        sqlite_to(Path(store_url.removeprefix("sqlite:///")), added.version - 1)
    else:
        await postgres_to(store_url, added.version - 1)
    lease = timedelta(minutes=5)
    async with open_store(store_url) as store:
        record, _ = await store.add_outbound(invoice("INV-1"), [NewEvent("intake")])
        await store.claim_due("old-worker", 1, lease, now=T0)
        old = Attempt(record.id, 1, T0, T0, AttemptOutcome.RETRYABLE, "http-503", "busy", "T-1")
        await store.schedule_retry(record.id, T0, "busy", expect_claimed_by="old-worker",
                                   attempt=old, now=T0)

        assert await store.migrate() == len(migrations.load(backend))
        assert await store.attempts(record.id) == [old]
        await store.claim_due("new-worker", 1, lease, now=T0)
        cut_off = attrs.evolve(old, number=2, outcome=AttemptOutcome.INTERRUPTED,
                               code="gateway-stopped", detail="stopped")
        released = await store.release(record.id, "stopped", expect_claimed_by="new-worker",
                                       attempt=cut_off, now=T0)
        assert released.transport_state is TransportState.RETRYING
        assert await store.attempts(record.id) == [old, cut_off]
