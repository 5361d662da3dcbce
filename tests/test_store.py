"""The message store: every behaviour against SQLite and PostgreSQL alike."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from gateway.kinds import Direction
from gateway.store import (
    Attempt,
    AttemptOutcome,
    AuditRecord,
    BusinessState,
    ClaimLost,
    DuplicateBusinessKey,
    InvalidTransition,
    MessageNotFound,
    MessageRecord,
    NewEvent,
    SchemaError,
    Store,
    StoreError,
    TransportState,
    migrations,
    new_message_id,
    open_store,
)
from gateway.store.base import claim_event
from gateway.store.model import TRANSITIONS, predecessors

HERE = Path(__file__).resolve().parent
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
LEASE = timedelta(minutes=5)
BZK = "00000001003214345000"
RWS = "00000001006492083000"


@pytest.fixture
async def other_store(store_url: str, store: Store) -> AsyncIterator[Store]:
    """A second store on the same database: another gateway instance, as far as it knows."""
    async with open_store(store_url) as opened:
        yield opened


async def raw_execute(url: str, sql: str) -> None:
    """Run SQL past the store, as an operator with a database shell would."""
    if url.startswith("sqlite:///"):
        def run() -> None:
            conn = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
            try:
                conn.execute("PRAGMA foreign_keys = ON")  # per connection in SQLite
                conn.execute(sql)
            finally:
                conn.close()

        await asyncio.to_thread(run)
    else:
        conn = await asyncpg.connect(url)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()


def invoice(key: str | None = "INV-1", *, now: datetime = T0, **kwargs: Any) -> MessageRecord:
    return MessageRecord.new_outbound(
        document_kind="invoice", business_key=key, agency_oin=kwargs.pop("agency_oin", BZK),
        canonical_json='{"number": "1"}', raw_payload=b"<Invoice/>", channel="digipoort",
        format_key="nlcius:invoice:1.0", now=now, **kwargs,
    )


async def add_many(store: Store, count: int, *, now: datetime = T0, **kwargs: Any
                   ) -> list[str]:
    ids = []
    for n in range(count):
        record, created = await store.add_outbound(invoice(f"INV-{n}", now=now, **kwargs))
        assert created
        ids.append(record.id)
    return ids


# -- opening and migrating ------------------------------------------------


def latest_version(backend: str) -> int:
    return migrations.load(backend)[-1].version


async def test_migrate_twice_is_harmless(store: Store) -> None:
    latest = latest_version(store.backend)
    assert await store.migrate() == latest
    assert await store.migrate() == latest
    record, _ = await store.add_outbound(invoice())
    assert await store.get(record.id) == record


async def test_a_newer_schema_is_refused(store: Store, store_url: str) -> None:
    latest = latest_version(store.backend)
    await raw_execute(store_url, "INSERT INTO schema_migrations VALUES "
                      f"({latest + 1}, 'from_the_future', 'x', '2030-01-01T00:00:00Z')")
    with pytest.raises(SchemaError, match=f"schema version {latest + 1}, but this gateway knows "
                                          f"versions up to {latest}"):
        await store.migrate()


async def test_an_altered_migration_is_refused(store: Store, store_url: str) -> None:
    await raw_execute(store_url, "UPDATE schema_migrations SET checksum = 'edited'")
    with pytest.raises(SchemaError, match=r"migration 0001 \(initial\) with different contents"):
        await store.migrate()


async def test_two_instances_migrate_together(store_url: str) -> None:
    stores = [open_store(store_url) for _ in range(3)]
    try:
        latest = latest_version(stores[0].backend)
        assert await asyncio.gather(*(s.migrate() for s in stores)) == [latest] * 3
    finally:
        for s in stores:
            await s.close()


def test_open_store_urls(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="unsupported database URL 'mysql://u:\\*\\*\\*@h/db'"):
        open_store("mysql://u:secret@h/db")
    with pytest.raises(StoreError, match="needs a file"):
        open_store("sqlite:///:memory:")
    with pytest.raises(StoreError, match="unknown SQLite option"):
        open_store(f"sqlite:///{tmp_path}/x.db?journal=off")
    with pytest.raises(StoreError, match="synchronous must be one of"):
        open_store(f"sqlite:///{tmp_path}/x.db?synchronous=off")
    from gateway.store.postgres import PostgresStore
    from gateway.store.sqlite import SqliteStore

    opened = open_store(f"sqlite:///{tmp_path}/sub/x.db?synchronous=normal&busy_timeout=250")
    assert isinstance(opened, SqliteStore)
    assert (opened.path, opened.synchronous, opened.busy_timeout_ms) == (
        tmp_path / "sub" / "x.db", "NORMAL", 250)
    asyncio.run(opened.close())
    for url in ("postgresql://gw@db/wissel", "postgres://gw@db/wissel",
                "postgresql+asyncpg://gw@db/wissel"):
        server = open_store(url)
        assert isinstance(server, PostgresStore)
        assert server.dsn == "postgresql://gw@db/wissel"


def test_store_options_are_not_part_of_the_file_name(tmp_path: Path) -> None:
    from gateway.config.model import GatewaySettings

    settings = GatewaySettings(listen="127.0.0.1:1", data_dir=tmp_path, audit_log=tmp_path / "a",
                               database=f"sqlite:///{tmp_path}/gw.db?synchronous=normal")
    assert settings.sqlite_path == tmp_path / "gw.db"


async def test_unreachable_server_is_a_clear_error() -> None:
    from gateway.devtools.pgcluster import free_port

    async with open_store(f"postgresql://gw:pw@127.0.0.1:{free_port()}/x") as server:
        with pytest.raises(StoreError, match=r"cannot connect to postgresql://gw:\*\*\*@"):
            await server.migrate()


# -- ids and records ---------------------------------------------------------


def test_message_ids_sort_by_creation() -> None:
    ids = [new_message_id() for _ in range(2000)]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    assert all(len(i) == 26 for i in ids)


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="no time zone"):
        invoice(now=datetime(2026, 3, 1, 9, 0))


def test_every_state_has_a_place_in_the_machine() -> None:
    for direction, table in TRANSITIONS.items():
        for state in table:
            assert state in TransportState
        assert TransportState.FAILED in table, f"{direction} has no dead letter"
    assert predecessors(Direction.OUTBOUND, TransportState.SENT) == {TransportState.SENDING}


# -- idempotent intake -------------------------------------------------------


async def test_the_same_business_key_is_one_message(store: Store) -> None:
    first, created = await store.add_outbound(invoice(), [NewEvent("intake", {"via": "api"})])
    assert created
    again, created_again = await store.add_outbound(invoice(), [NewEvent("intake")])
    assert not created_again
    assert again == first
    assert [e.kind for e in await store.events(first.id)] == ["intake"]
    assert await store.find_by_business_key(Direction.OUTBOUND, "INV-1") == first
    assert await store.find_by_business_key(Direction.INBOUND, "INV-1") is None


async def test_concurrent_adds_of_one_key_create_one_message(
    store: Store, other_store: Store
) -> None:
    results = await asyncio.gather(*(
        (store if n % 2 else other_store).add_outbound(invoice("INV-RACE")) for n in range(40)
    ))
    assert sum(created for _, created in results) == 1
    assert len({record.id for record, _ in results}) == 1
    page = await store.list_messages(business_key="INV-RACE")
    assert len(page.items) == 1


async def test_messages_without_a_key_are_never_merged(store: Store) -> None:
    await store.add_outbound(invoice(None))
    await store.add_outbound(invoice(None))
    assert len((await store.list_messages()).items) == 2


async def test_a_rejected_document_leaves_its_key_free(store: Store) -> None:
    refused, _ = await store.add_outbound(
        invoice(transport_state=TransportState.REJECTED, last_error="BR-CO-15"),
        [NewEvent("validate", {"errors": ["BR-CO-15"]})],
    )
    assert refused.transport_state is TransportState.REJECTED
    assert refused.next_attempt_at is None
    assert refused.raw_payload == b"<Invoice/>"
    corrected, created = await store.add_outbound(invoice())
    assert created
    assert await store.find_by_business_key(Direction.OUTBOUND, "INV-1") == corrected
    assert not await store.claim_due("w", 10, LEASE, now=T0 - timedelta(seconds=1))
    assert [r.id for r in await store.claim_due("w", 10, LEASE, now=T0)] == [corrected.id]


async def test_new_messages_are_checked(store: Store) -> None:
    with pytest.raises(InvalidTransition, match="starts in"):
        await store.add_outbound(invoice(transport_state=TransportState.SENT))
    inbound = MessageRecord.new_inbound(channel="peppol", raw_payload=b"x", transport_id="t")
    with pytest.raises(StoreError, match="is inbound, expected outbound"):
        await store.add_outbound(inbound)


async def test_payloads_round_trip(store: Store) -> None:
    payload = bytes(range(256)) * 40
    text = '{"naam": "Rijkswaterstaat – Ω", "bedrag": "12.50"}'
    record, _ = await store.add_outbound(
        MessageRecord.new_outbound(document_kind="invoice", business_key="K", raw_payload=payload,
                                   canonical_json=text, routing={"explanation": ["a", "b"]},
                                   validation={"valid": True, "errors": []}, now=T0)
    )
    stored = await store.get(record.id)
    assert stored == record
    assert stored is not None
    assert stored.raw_payload == payload
    assert stored.canonical_json == text
    assert stored.routing == {"explanation": ["a", "b"]}


# -- claiming ---------------------------------------------------------------


async def test_concurrent_claimers_split_the_work(store: Store, other_store: Store) -> None:
    ids = await add_many(store, 200)

    async def claimer(on: Store, worker: str) -> list[str]:
        claimed: list[str] = []
        while batch := await on.claim_due(worker, 7, LEASE, now=T0):
            claimed.extend(r.id for r in batch)
            assert all(r.claimed_by == worker for r in batch)
            assert all(r.transport_state is TransportState.SENDING for r in batch)
            await asyncio.sleep(0)
        return claimed

    results = await asyncio.gather(
        claimer(store, "a1"), claimer(other_store, "b1"),
        claimer(store, "a2"), claimer(other_store, "b2"),
    )
    seen = [i for claimed in results for i in claimed]
    assert sorted(seen) == sorted(ids), "every message claimed exactly once"
    assert (await store.count_by_state()) == {"outbound": {"sending": 200}}


async def test_claims_wait_for_next_attempt_at(store: Store) -> None:
    later, _ = await store.add_outbound(invoice("LATER", next_attempt_at=T0 + timedelta(hours=1)))
    now_ids = await add_many(store, 3)
    claimed = await store.claim_due("w", 10, timedelta(hours=3), now=T0)
    assert sorted(r.id for r in claimed) == sorted(now_ids)
    assert await store.claim_due("w", 10, LEASE, now=T0 + timedelta(minutes=59)) == []
    [record] = await store.claim_due("w", 10, LEASE, now=T0 + timedelta(hours=1))
    assert record.id == later.id
    assert record.attempts == 1
    assert record.claim_expires_at == T0 + timedelta(hours=1) + LEASE


async def test_a_claimers_change_counts_what_another_instance_wrote_since_the_claim(
    store: Store, other_store: Store,
) -> None:
    # PostgreSQL's store keeps the rows it claimed for the claimer's next change, rather
    # than reading them back: what changed since must still decide.
    record, _ = await store.add_outbound(invoice())
    [mine] = await store.claim_due("w1", 1, LEASE, now=T0)
    [taken] = await other_store.claim_due("w2", 1, LEASE, now=T0 + LEASE)
    assert taken.id == mine.id
    with pytest.raises(ClaimLost, match="claimed by w1 but is now claimed by w2"):
        await store.transition(record.id, event="sent", transport_state=TransportState.SENT,
                               expect_claimed_by="w1")
    sent = await other_store.transition(
        record.id, event="sent", transport_state=TransportState.SENT, expect_claimed_by="w2",
        transport_id="T-2")
    assert (sent.transport_state, sent.transport_id) == (TransportState.SENT, "T-2")

    # A claim extended before its outcome: the outcome lands on the extended row.
    again, _ = await store.add_outbound(invoice("K-2"))
    [claimed] = await store.claim_due("w1", 1, LEASE, now=T0)
    assert claimed.id == again.id
    await store.extend_claim(again.id, "w1", LEASE, now=T0 + timedelta(minutes=1))
    done = await store.transition(again.id, event="sent", transport_state=TransportState.SENT,
                                  expect_claimed_by="w1", transport_id="T-3")
    assert (done.transport_state, done.claimed_by, done.attempts) == (
        TransportState.SENT, None, 1)
    assert done.raw_payload == claimed.raw_payload
    assert [e.kind for e in await store.events(again.id)][-2:] == ["send-attempt", "sent"]


async def test_claim_limit_takes_the_longest_waiting_first(store: Store) -> None:
    for n in range(5):
        await store.add_outbound(invoice(f"K{n}", next_attempt_at=T0 - timedelta(minutes=n)))
    claimed = await store.claim_due("w", 2, LEASE, now=T0)
    assert sorted(r.business_key or "" for r in claimed) == ["K3", "K4"]


async def test_a_crashed_workers_claim_is_taken_over(store: Store) -> None:
    record, _ = await store.add_outbound(invoice())
    [mine] = await store.claim_due("w1", 1, LEASE, now=T0)
    # Still within the lease: nobody else may take it.
    assert await store.claim_due("w2", 1, LEASE, now=T0 + LEASE - timedelta(seconds=1)) == []
    [taken] = await store.claim_due("w2", 1, LEASE, now=T0 + LEASE)
    assert taken.id == record.id
    assert (taken.claimed_by, taken.attempts) == ("w2", 2)
    assert taken.last_error is not None
    assert "w1 did not finish attempt 1" in taken.last_error

    # The first worker wakes up: its result must not land.
    with pytest.raises(ClaimLost, match="claimed by w1 but is now claimed by w2"):
        await store.transition(record.id, event="sent", transport_state=TransportState.SENT,
                               expect_claimed_by="w1")
    with pytest.raises(ClaimLost):
        await store.schedule_retry(record.id, T0 + timedelta(hours=1), "timeout",
                                   expect_claimed_by="w1")
    sent = await store.transition(record.id, event="sent", transport_state=TransportState.SENT,
                                  expect_claimed_by="w2", transport_id="KNM-1")
    assert (sent.transport_state, sent.claimed_by, sent.claim_expires_at) == (
        TransportState.SENT, None, None)
    events = await store.events(record.id)
    assert [(e.kind, e.transport_state) for e in events] == [
        ("send-attempt", TransportState.SENDING), ("send-attempt", TransportState.SENDING),
        ("sent", TransportState.SENT),
    ]
    assert events[1].detail["taken_over_from"] == "w1"
    assert mine.id == record.id


async def test_a_claim_writes_the_same_event_on_both_backends(store: Store) -> None:
    await store.add_outbound(invoice())
    inbound, _ = await store.add_inbound_raw(
        MessageRecord.new_inbound(channel="peppol", raw_payload=b"<Order/>", transport_id="M1",
                                  now=T0))
    await store.transition(inbound.id, event="decode", transport_state=TransportState.DECODED,
                           document_kind="order", now=T0)
    [sending] = await store.claim_due("w1", 5, LEASE, now=T0)
    [delivering] = await store.claim_deliverable("d1", 5, LEASE, now=T0)
    for claimed, kind, worker, seq in ((sending, "send-attempt", "w1", 1),
                                       (delivering, "deliver", "d1", 2)):
        assert claimed == await store.get(claimed.id)
        event = (await store.events(claimed.id))[-1]
        assert (event.seq, event.at, event.kind, event.transport_state, event.business_state) == (
            seq, T0, kind, claimed.transport_state, None)
        assert event.detail == {"worker": worker, "attempt": 1,
                                "lease_until": (T0 + LEASE).isoformat()}
        assert event.detail == dict(claim_event(claimed, worker, None).detail)


async def test_extending_a_claim(store: Store) -> None:
    record, _ = await store.add_outbound(invoice())
    await store.claim_due("w1", 1, LEASE, now=T0)
    extended = await store.extend_claim(record.id, "w1", LEASE, now=T0 + timedelta(minutes=4))
    assert extended.claim_expires_at == T0 + timedelta(minutes=9)
    assert await store.claim_due("w2", 1, LEASE, now=T0 + timedelta(minutes=8)) == []
    with pytest.raises(ClaimLost):
        await store.extend_claim(record.id, "w2", LEASE)
    with pytest.raises(MessageNotFound):
        await store.extend_claim("nope", "w1", LEASE)


async def test_a_worker_that_keeps_dying_ends_in_the_dead_letter(store: Store) -> None:
    record, _ = await store.add_outbound(invoice(max_attempts=2))
    await store.claim_due("w1", 1, LEASE, now=T0)
    await store.claim_due("w2", 1, LEASE, now=T0 + LEASE)
    assert await store.claim_due("w3", 1, LEASE, now=T0 + 2 * LEASE) == []
    dead = await store.get(record.id)
    assert dead is not None
    assert dead.transport_state is TransportState.FAILED
    assert dead.claimed_by is None
    assert dead.last_error is not None
    assert dead.last_error.startswith("gave up after 2 of 2 attempts: w2 did not finish")
    last = (await store.events(record.id))[-1]
    assert (last.kind, last.transport_state) == ("dead-lettered", TransportState.FAILED)


# -- retries, dead letters, attempts ------------------------------------------


async def test_retries_are_bounded(store: Store) -> None:
    record, _ = await store.add_outbound(invoice(max_attempts=2))
    started = T0
    [claimed] = await store.claim_due("w", 1, LEASE, now=started)
    attempt = Attempt(record.id, claimed.attempts, started, started + timedelta(seconds=2),
                      AttemptOutcome.RETRYABLE, "503", "overloaded", transport_id="AK-1")
    retry_at = T0 + timedelta(minutes=1)
    retrying = await store.schedule_retry(record.id, retry_at, "503 overloaded",
                                          expect_claimed_by="w", attempt=attempt)
    assert retrying.transport_state is TransportState.RETRYING
    assert (retrying.next_attempt_at, retrying.last_error) == (retry_at, "503 overloaded")
    assert (retrying.transport_id, retrying.transport_ids) == ("AK-1", ("AK-1",))
    assert retrying.claimed_by is None
    assert await store.claim_due("w", 1, LEASE, now=retry_at - timedelta(seconds=1)) == []

    [again] = await store.claim_due("w", 1, LEASE, now=retry_at)
    assert again.attempts == 2
    assert again.transport_id == "AK-1", "retries keep the transport id"
    second = Attempt(record.id, 2, retry_at, retry_at, AttemptOutcome.RETRYABLE, "503", "again",
                     transport_id="AK-1")
    dead = await store.schedule_retry(record.id, retry_at + timedelta(minutes=2), "503 again",
                                      expect_claimed_by="w", attempt=second)
    assert dead.transport_state is TransportState.FAILED
    assert dead.next_attempt_at is None
    assert dead.last_error == "gave up after 2 of 2 attempts: 503 again"
    assert [a.outcome for a in await store.attempts(record.id)] == ["retryable", "retryable"]
    kinds = [e.kind for e in await store.events(record.id)]
    assert kinds == ["send-attempt", "retry-scheduled", "send-attempt", "dead-lettered"]
    assert await store.claim_due("w", 1, LEASE, now=retry_at + timedelta(days=1)) == []


async def test_a_final_error_goes_to_the_dead_letter(store: Store) -> None:
    record, _ = await store.add_outbound(invoice())
    await store.claim_due("w", 1, LEASE, now=T0)
    final = Attempt(record.id, 1, T0, T0, AttemptOutcome.FINAL, "AFL-401", "unknown OIN")
    dead = await store.dead_letter(record.id, "AFL-401 unknown OIN", expect_claimed_by="w",
                                   attempt=final)
    assert (dead.transport_state, dead.last_error) == (TransportState.FAILED,
                                                       "AFL-401 unknown OIN")
    [stored] = await store.attempts(record.id)
    assert stored == final
    # The operator puts it back after fixing the directory.
    back = await store.transition(record.id, event=NewEvent("operator-retry", {"by": "ops"}),
                                  transport_state=TransportState.QUEUED, max_attempts=9,
                                  now=T0 + timedelta(hours=1))
    assert back.next_attempt_at == T0 + timedelta(hours=1)
    [reclaimed] = await store.claim_due("w", 1, LEASE, now=T0 + timedelta(hours=1))
    assert reclaimed.attempts == 2


async def test_requeueing_needs_an_attempt_left(store: Store) -> None:
    record, _ = await store.add_outbound(invoice(max_attempts=1))
    await store.claim_due("w", 1, LEASE, now=T0)
    await store.schedule_retry(record.id, T0, "timeout", expect_claimed_by="w")
    with pytest.raises(InvalidTransition, match="all 1 attempts are used; raise max_attempts"):
        await store.transition(record.id, event="operator-retry",
                               transport_state=TransportState.QUEUED)
    requeued = await store.transition(record.id, event="operator-retry",
                                      transport_state=TransportState.QUEUED, max_attempts=3)
    assert (requeued.transport_state, requeued.max_attempts) == (TransportState.QUEUED, 3)


async def test_attempt_numbers_are_unique(store: Store) -> None:
    record, _ = await store.add_outbound(invoice())
    attempt = Attempt(record.id, 1, T0, T0, AttemptOutcome.RETRYABLE)
    await store.record_attempt(attempt)
    with pytest.raises(StoreError, match=r"attempt 1 of message \w+ is already recorded"):
        await store.record_attempt(attempt)


async def test_transport_ids_accumulate_and_find_their_message(store: Store) -> None:
    record, _ = await store.add_outbound(invoice())
    await store.claim_due("w", 1, LEASE, now=T0)
    await store.record_attempt(
        Attempt(record.id, 1, T0, T0, AttemptOutcome.RETRYABLE, transport_id="AK-1"),
        expect_claimed_by="w",
    )
    sent = await store.transition(
        record.id, event="sent", transport_state=TransportState.SENT, expect_claimed_by="w",
        attempt=Attempt(record.id, 2, T0, T0, AttemptOutcome.ACCEPTED, transport_id="KNM-9"),
    )
    assert sent.transport_id == "AK-1"
    assert sent.transport_ids == ("AK-1", "KNM-9")
    for tid in ("AK-1", "KNM-9"):
        found = await store.find_by_transport_id("digipoort", tid, Direction.OUTBOUND)
        assert found is not None
        assert found.id == record.id
    assert await store.find_by_transport_id("peppol", "KNM-9") is None
    assert await store.find_by_transport_id("digipoort", "KNM-9", Direction.INBOUND) is None


async def test_transitions_follow_the_state_machine(store: Store) -> None:
    record, _ = await store.add_outbound(invoice())
    with pytest.raises(InvalidTransition, match="cannot go from queued to sent"):
        await store.transition(record.id, event="sent", transport_state=TransportState.SENT)
    with pytest.raises(InvalidTransition, match="only a claim"):
        await store.transition(record.id, event="x", transport_state=TransportState.SENDING)
    with pytest.raises(InvalidTransition, match="queued to delivered"):
        await store.transition(record.id, event="x", transport_state=TransportState.DELIVERED)
    with pytest.raises(MessageNotFound):
        await store.transition("missing", event="x")
    with pytest.raises(StoreError, match="cannot be set by a transition"):
        await store.transition(record.id, event="x", attempts=0)
    cancelled = await store.transition(record.id, event="operator-cancel",
                                       transport_state=TransportState.CANCELLED)
    assert cancelled.next_attempt_at is None
    assert await store.claim_due("w", 1, LEASE, now=T0 + timedelta(days=1)) == []
    # A refused transition leaves no trace.
    assert [e.kind for e in await store.events(record.id)] == ["operator-cancel"]


# -- the timeline and the two states ------------------------------------------


async def test_the_timeline_is_ordered_and_append_only(
    store: Store, store_url: str
) -> None:
    record, _ = await store.add_outbound(
        invoice(), [NewEvent("intake"), NewEvent("route", {"channel": "digipoort"}),
                    NewEvent("validate", {"valid": True}), NewEvent("persist")],
    )
    await store.claim_due("w", 1, LEASE, now=T0)
    await store.transition(record.id, event="sent", transport_state=TransportState.SENT,
                           expect_claimed_by="w", now=T0 + timedelta(seconds=1))
    await store.transition(record.id, event=NewEvent("status", {"code": "AB"}),
                           business_state=BusinessState.ACKNOWLEDGED,
                           now=T0 + timedelta(hours=1))
    await store.transition(record.id, event=NewEvent("status", {"code": "PD"}),
                           business_state=BusinessState.PAID, now=T0 + timedelta(days=30))
    events = await store.events(record.id)
    assert [e.seq for e in events] == list(range(1, 9))
    assert [e.kind for e in events] == ["intake", "route", "validate", "persist",
                                        "send-attempt", "sent", "status", "status"]
    transport = [e.transport_state for e in events if e.transport_state]
    business = [e.business_state for e in events if e.business_state]
    assert transport == ["queued", "sending", "sent"]
    assert business == ["acknowledged", "paid"]
    assert events[1].detail == {"channel": "digipoort"}
    final = await store.get(record.id)
    assert final is not None
    assert (final.transport_state, final.business_state) == ("sent", "paid")

    for sql in ("UPDATE events SET kind = 'forged'", "DELETE FROM events"):
        with pytest.raises(Exception, match="append-only"):
            await raw_execute(store_url, sql)
    assert len(await store.events(record.id)) == 8


async def test_deleting_a_message_takes_its_history(store: Store, store_url: str) -> None:
    # What retention will do one day: the timeline goes only with its message.
    record, _ = await store.add_outbound(invoice(), [NewEvent("intake")])
    await store.record_attempt(Attempt(record.id, 1, T0, T0, AttemptOutcome.ACCEPTED,
                                       transport_id="T"))
    await raw_execute(store_url, f"DELETE FROM messages WHERE id = '{record.id}'")
    assert await store.get(record.id) is None
    assert await store.events(record.id) == []
    assert await store.attempts(record.id) == []
    assert await store.find_by_transport_id("digipoort", "T") is None


async def test_concurrent_changes_keep_the_sequence(store: Store, other_store: Store) -> None:
    record, _ = await store.add_outbound(invoice())
    await asyncio.gather(*(
        (store if n % 2 else other_store).transition(record.id, event=NewEvent("note", {"n": n}))
        for n in range(30)
    ))
    events = await store.events(record.id)
    assert [e.seq for e in events] == list(range(1, 31))
    assert sorted(e.detail["n"] for e in events) == list(range(30))


# -- inbound ---------------------------------------------------------------


async def test_inbound_bytes_are_deduplicated_by_transport_id(
    store: Store, other_store: Store
) -> None:
    def received(channel: str = "peppol", tid: str | None = "MSG-1") -> MessageRecord:
        return MessageRecord.new_inbound(channel=channel, raw_payload=b"<Order/>",
                                         transport_id=tid, now=T0)

    results = await asyncio.gather(*(
        (store if n % 2 else other_store).add_inbound_raw(received(), [NewEvent("intake")])
        for n in range(20)
    ))
    assert sum(created for _, created in results) == 1
    first = results[0][0]
    assert {r.id for r, _ in results} == {first.id}
    assert first.raw_payload == b"<Order/>"
    _, created = await store.add_inbound_raw(received(channel="digipoort"))
    assert created, "the same id on another channel is another document"
    _, created = await store.add_inbound_raw(received(tid=None))
    _, created_again = await store.add_inbound_raw(received(tid=None))
    assert created, "without a transport id nothing can be deduplicated"
    assert created_again
    found = await store.find_by_transport_id("peppol", "MSG-1")
    assert found is not None
    assert found.id == first.id


async def test_inbound_delivery_and_acknowledgement(store: Store) -> None:
    raw, _ = await store.add_inbound_raw(
        MessageRecord.new_inbound(channel="peppol", raw_payload=b"<Order/>", transport_id="M1",
                                  now=T0))
    decoded = await store.transition(
        raw.id, event="decode", transport_state=TransportState.DECODED, document_kind="order",
        format_key="peppol-bis:order:3", business_key="ORDER-7", canonical_json='{"id": "7"}',
        agency_oin=RWS, now=T0,
    )
    assert decoded.next_attempt_at == T0
    assert await store.claim_due("w", 5, LEASE, now=T0) == [], "outbound workers see no inbound"
    [claimed] = await store.claim_deliverable("d1", 5, LEASE, now=T0)
    assert (claimed.transport_state, claimed.claimed_by) == (TransportState.DELIVERING, "d1")
    failed = await store.schedule_retry(raw.id, T0 + timedelta(minutes=1), "ERP 502",
                                        expect_claimed_by="d1")
    assert failed.transport_state is TransportState.RETRYING
    [again] = await store.claim_deliverable("d1", 5, LEASE, now=T0 + timedelta(minutes=1))
    delivered = await store.transition(raw.id, event="delivered",
                                       transport_state=TransportState.DELIVERED,
                                       expect_claimed_by="d1")
    assert delivered.claimed_by is None
    acked = await store.acknowledge(raw.id, detail={"by": "erp"})
    assert acked.transport_state is TransportState.ACKNOWLEDGED
    assert await store.acknowledge(raw.id) == acked, "acknowledging twice is harmless"
    kinds = [e.kind for e in await store.events(raw.id)]
    assert kinds == ["decode", "deliver", "retry-scheduled", "deliver", "delivered",
                     "acknowledged"]
    assert again.attempts == 2


async def test_an_inbound_repeat_is_marked_duplicate(store: Store) -> None:
    first, _ = await store.add_inbound_raw(
        MessageRecord.new_inbound(channel="peppol", raw_payload=b"a", transport_id="M1"))
    repeat, _ = await store.add_inbound_raw(
        MessageRecord.new_inbound(channel="email", raw_payload=b"a", transport_id="<x@y>"))
    await store.transition(first.id, event="decode", transport_state=TransportState.DECODED,
                           business_key="INV-9")
    with pytest.raises(DuplicateBusinessKey, match="INV-9"):
        await store.transition(repeat.id, event="decode", transport_state=TransportState.DECODED,
                               business_key="INV-9")
    marked = await store.transition(repeat.id, event=NewEvent("duplicate", {"of": first.id}),
                                    transport_state=TransportState.DUPLICATE,
                                    business_key="INV-9")
    assert marked.transport_state is TransportState.DUPLICATE
    live = await store.find_by_business_key(Direction.INBOUND, "INV-9")
    assert live is not None
    assert live.id == first.id
    with pytest.raises(InvalidTransition):
        await store.acknowledge(repeat.id)


# -- listing ---------------------------------------------------------------


async def test_listing_filters_and_pages(store: Store) -> None:
    ids = []
    for n in range(25):
        record, _ = await store.add_outbound(
            invoice(f"INV-{n}", now=T0 + timedelta(minutes=n),
                    agency_oin=BZK if n % 2 else RWS))
        ids.append(record.id)
    await store.add_inbound_raw(MessageRecord.new_inbound(
        channel="peppol", raw_payload=b"x", transport_id="m", now=T0))
    await store.transition(ids[3], event="operator-cancel",
                           transport_state=TransportState.CANCELLED)

    pages, cursor = [], None
    while True:
        page = await store.list_messages(direction=Direction.OUTBOUND, limit=10, cursor=cursor)
        pages.append([r.id for r in page.items])
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert [len(p) for p in pages] == [10, 10, 5]
    assert [i for p in pages for i in p] == list(reversed(ids)), "newest first, no gaps"

    by_agency = await store.list_messages(agency_oin=BZK, limit=100)
    assert {r.agency_oin for r in by_agency.items} == {BZK}
    assert len(by_agency.items) == 12
    cancelled = await store.list_messages(transport_state="cancelled")
    assert [r.id for r in cancelled.items] == [ids[3]]
    window = await store.list_messages(created_from=T0 + timedelta(minutes=5),
                                       created_to=T0 + timedelta(minutes=8),
                                       direction=Direction.OUTBOUND)
    assert [r.id for r in window.items] == [ids[7], ids[6], ids[5]]
    assert [r.id for r in (await store.list_messages(business_key="INV-4")).items] == [ids[4]]
    assert len((await store.list_messages(kind="invoice", limit=100)).items) == 25
    assert len((await store.list_messages(direction=Direction.INBOUND)).items) == 1
    assert (await store.list_messages(channel="email")).items == ()
    with pytest.raises(StoreError, match="limit must be between"):
        await store.list_messages(limit=0)
    assert await store.count_by_state() == {
        "outbound": {"queued": 24, "cancelled": 1}, "inbound": {"received": 1},
    }


# -- audit log ---------------------------------------------------------------


async def test_audit_log(store: Store, store_url: str) -> None:
    records = [
        AuditRecord(actor="ops@host", action="switch-route", subject=f"{BZK} invoice",
                    reason="Digipoort outage", at=T0 + timedelta(minutes=n),
                    detail={"old": {"channel": "digipoort"}, "new": {"channel": "portal"}, "n": n})
        for n in range(3)
    ]
    stored = [await store.append_audit(r) for r in records]
    assert [s.seq for s in stored] == sorted(s.seq for s in stored if s.seq is not None)
    log = await store.audit_log()
    assert log == list(reversed(stored))
    assert await store.audit_log(limit=1) == [stored[-1]]
    with pytest.raises(Exception, match="append-only"):
        await raw_execute(store_url, "DELETE FROM audit_log")


def test_audit_file_records_convert() -> None:
    line = {"time": "2026-03-01T09:00:00Z", "actor": "ops@host", "action": "switch-route",
            "oin": BZK, "kind": "invoice", "reason": "outage", "old": None, "new": {"c": 1}}
    record = AuditRecord.from_mapping(line)
    assert (record.at, record.actor, record.action, record.reason) == (
        T0, "ops@host", "switch-route", "outage")
    assert record.detail == {"oin": BZK, "kind": "invoice", "old": None, "new": {"c": 1}}


# -- several processes -----------------------------------------------------


async def _run_workers(url: str, count: int) -> list[list[str]]:
    env = {**os.environ, "PYTHONPATH": str(HERE.parent)}
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable, str(HERE / "claim_worker.py"), url, f"proc-{n}",
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env,
        )
        for n in range(count)
    ]
    for proc in procs:
        assert proc.stdout is not None
        assert (await asyncio.wait_for(proc.stdout.readline(), 60)).strip() == b"ready"
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write(b"go\n")
        await proc.stdin.drain()
    outputs = await asyncio.wait_for(asyncio.gather(*(p.communicate() for p in procs)), 120)
    assert [p.returncode for p in procs] == [0] * count
    return [json.loads(out) for out, _ in outputs]


async def test_worker_processes_never_claim_the_same_message(store: Store,
                                                             store_url: str) -> None:
    ids = await add_many(store, 150, now=datetime.now(UTC) - timedelta(seconds=1))
    results = await _run_workers(store_url, 2)
    seen = [i for claimed in results for i in claimed]
    assert sorted(seen) == sorted(ids)
    assert await store.count_by_state() == {"outbound": {"sent": 150}}
    for message_id in ids[:10]:
        assert [e.kind for e in await store.events(message_id)] == ["send-attempt", "sent"]


# -- durability ------------------------------------------------------------

KILLED_WRITER = """
import asyncio, sys
from gateway.store import MessageRecord, open_store

async def main():
    store = open_store(sys.argv[1])
    await store.migrate()
    n = 0
    while True:
        batch = [MessageRecord.new_outbound(document_kind="invoice", business_key=f"K{n + i}",
                                            raw_payload=b"x" * 10_000) for i in range(8)]
        for record, _ in await asyncio.gather(*(store.add_outbound(r) for r in batch)):
            print(record.id, flush=True)
        n += 8

asyncio.run(main())
"""


@pytest.mark.parametrize("synchronous", ["normal", "full"])
def test_acknowledged_messages_survive_kill_9(tmp_path: Path, synchronous: str) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}?synchronous={synchronous}"
    proc = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, url], stdout=subprocess.PIPE,
                            text=True)
    assert proc.stdout is not None
    acknowledged = [proc.stdout.readline().strip() for _ in range(400)]
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    acknowledged += [line.strip() for line in proc.stdout if line.strip()]

    async def check() -> set[str]:
        async with open_store(url) as reopened:
            await reopened.migrate()
            found: set[str] = set()
            cursor = None
            while True:
                page = await reopened.list_messages(limit=1000, cursor=cursor)
                found.update(r.id for r in page.items)
                if page.next_cursor is None:
                    return found
                cursor = page.next_cursor

    assert set(acknowledged) <= asyncio.run(check())
