"""How the store writes: what a change answers, refused inserts, the stored time text.

The store answers a change with the message as it now is, built from what it
wrote instead of reading it back where that is exact; these tests hold every
such answer against a fresh read, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from gateway.store import (
    Attempt,
    AttemptOutcome,
    MessageRecord,
    NewEvent,
    Store,
    StoreError,
    TransportState,
    open_store,
)

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
LEASE = timedelta(minutes=5)
BZK = "00000001003214345000"
EVENTS = [NewEvent("intake", {"bytes": 12}), NewEvent("route", {"channel": "digipoort"}),
          NewEvent("persist")]


def invoice(key: str, *, now: datetime = T0, max_attempts: int = 8) -> MessageRecord:
    return MessageRecord.new_outbound(
        document_kind="invoice", business_key=key, agency_oin=BZK,
        canonical_json='{"number": "1"}', raw_payload=b"<Invoice/>", channel="digipoort",
        format_key="nlcius:invoice:1.0", routing={"channel": "digipoort", "why": ["kind"]},
        validation={"valid": True, "layers": []}, now=now, max_attempts=max_attempts,
    )


async def same_as_read(store: Store, answer: MessageRecord) -> None:
    stored = await store.get(answer.id)
    assert stored == answer


async def test_every_change_answers_what_a_read_gives(store: Store) -> None:
    record, _ = await store.add_outbound(invoice("INV-1", max_attempts=2), EVENTS)
    await same_as_read(store, record)
    [claimed] = await store.claim_due("w", 1, LEASE, now=T0)
    await same_as_read(store, claimed)
    # A new transport id, no state change.
    first = Attempt(record.id, 1, T0, T0 + timedelta(seconds=1), AttemptOutcome.RETRYABLE,
                    "503", "busy", transport_id="AK-1")
    await same_as_read(store, await store.record_attempt(first, expect_claimed_by="w"))
    retry_at = T0 + timedelta(minutes=1)
    retrying = await store.schedule_retry(record.id, retry_at, "503 busy",
                                          expect_claimed_by="w")
    assert retrying.transport_state is TransportState.RETRYING
    await same_as_read(store, retrying)
    [again] = await store.claim_due("w", 1, LEASE, now=retry_at)
    second = Attempt(record.id, 2, retry_at, retry_at, AttemptOutcome.RETRYABLE, "503", "again",
                     transport_id="AK-2")
    # No attempt left: the retry becomes a dead letter.
    dead = await store.schedule_retry(record.id, retry_at, "503 again",
                                      expect_claimed_by="w", attempt=second)
    assert dead.transport_state is TransportState.FAILED
    assert dead.transport_ids == ("AK-1", "AK-2")
    await same_as_read(store, dead)
    # Operator paths that set other columns: the answer is the message read back.
    rerouted = await store.transition(
        record.id, event=NewEvent("operator-retry", {"by": "ops"}),
        transport_state=TransportState.QUEUED, max_attempts=5, channel="peppol",
        routing={"channel": "peppol", "amount": 12.5}, now=retry_at)
    assert (rerouted.channel, rerouted.max_attempts) == ("peppol", 5)
    await same_as_read(store, rerouted)
    [third] = await store.claim_due("w", 1, LEASE, now=retry_at)
    sent = await store.transition(
        record.id, event="sent", transport_state=TransportState.SENT, expect_claimed_by="w",
        attempt=Attempt(record.id, 3, retry_at, retry_at, AttemptOutcome.ACCEPTED,
                        transport_id="KNM-3"),
        last_error=None, now=retry_at + timedelta(seconds=1))
    assert (sent.claimed_by, sent.claim_expires_at, sent.last_error) == (None, None, None)
    await same_as_read(store, sent)
    paid = await store.transition(record.id, event="invoice-response", business_state="paid",
                                  now=datetime(2026, 3, 2, 10, 0, tzinfo=timezone(
                                      timedelta(hours=1))))
    assert paid.updated_at == datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    await same_as_read(store, paid)
    kinds = [e.kind for e in await store.events(record.id)]
    assert kinds == ["intake", "route", "persist", "send-attempt", "retry-scheduled",
                     "send-attempt", "dead-lettered", "operator-retry", "send-attempt",
                     "sent", "invoice-response"]
    assert [e.seq for e in await store.events(record.id)] == list(range(1, 12))
    assert [a.number for a in await store.attempts(record.id)] == [1, 2, 3]
    assert again.attempts == 2
    assert third.attempts == 3


async def test_inbound_changes_answer_what_a_read_gives(store: Store) -> None:
    raw, _ = await store.add_inbound_raw(
        MessageRecord.new_inbound(channel="peppol", raw_payload=b"<Order/>", transport_id="M1",
                                  now=T0))
    decoded = await store.transition(
        raw.id, event="decode", transport_state=TransportState.DECODED, document_kind="order",
        business_key="ORDER-7", canonical_json='{"id": "7"}', now=T0)
    assert decoded.canonical_json == '{"id": "7"}'
    await same_as_read(store, decoded)
    acked = await store.acknowledge(raw.id)
    await same_as_read(store, acked)
    assert await store.acknowledge(raw.id) == acked


async def test_a_message_id_that_exists_is_refused_and_nothing_is_written(
    store: Store,
) -> None:
    record, _ = await store.add_outbound(invoice("INV-1"), EVENTS)
    clash = MessageRecord(**{**{f: getattr(invoice("INV-2"), f) for f in (
        "direction", "document_kind", "transport_state", "created_at", "updated_at",
        "business_key", "raw_payload", "next_attempt_at")}, "id": record.id})
    with pytest.raises(StoreError, match=f"a message with id {record.id} exists already"):
        await store.add_outbound(clash, [NewEvent("intake")])
    assert await store.find_by_business_key(record.direction, "INV-2") is None
    assert [e.kind for e in await store.events(record.id)] == ["intake", "route", "persist"]
    assert await store.get(record.id) == record


async def test_a_repeated_attempt_changes_nothing(store: Store) -> None:
    record, _ = await store.add_outbound(invoice("INV-1"))
    [claimed] = await store.claim_due("w", 1, LEASE, now=T0)
    attempt = Attempt(record.id, 1, T0, T0, AttemptOutcome.RETRYABLE, transport_id="AK-1")
    await store.record_attempt(attempt, expect_claimed_by="w")
    with pytest.raises(StoreError, match=r"attempt 1 of message \w+ is already recorded"):
        await store.transition(record.id, event="sent", transport_state=TransportState.SENT,
                               expect_claimed_by="w", attempt=attempt)
    after = await store.get(record.id)
    assert after is not None
    assert (after.transport_state, after.claimed_by) == (TransportState.SENDING, "w")
    assert [e.kind for e in await store.events(record.id)] == ["send-attempt"]
    assert claimed.attempts == 1


async def test_concurrent_adds_each_get_their_own_answer(store: Store) -> None:
    """Group commit: many writes in one transaction, each caller hears of its own."""
    first, _ = await store.add_outbound(invoice("INV-0"))
    records = [invoice(f"INV-{n}") for n in range(1, 40)]
    answers = await asyncio.gather(
        *(store.add_outbound(r, EVENTS) for r in records),
        store.add_outbound(invoice("INV-0"), EVENTS),
        store.transition("no-such-message", event="sent"),
        return_exceptions=True,
    )
    for record, answer in zip(records, answers[:-2], strict=True):
        assert answer == (record, True)
    assert answers[-2] == (first, False)
    assert isinstance(answers[-1], StoreError)
    assert "no message with id no-such-message" in str(answers[-1])
    counts = await store.count_by_state()
    assert counts == {"outbound": {"queued": 40}}


def test_sqlite_times_are_fixed_width_utc_text(tmp_path: Path) -> None:
    """Stored times sort as text: 'YYYY-MM-DDTHH:MM:SS.ffffffZ' whatever zone they came in."""
    path = tmp_path / "store.db"
    amsterdam = timezone(timedelta(hours=1))

    async def run() -> None:
        async with open_store(f"sqlite:///{path}") as store:
            await store.migrate()
            # A whole second (no microseconds) in another zone.
            record, _ = await store.add_outbound(
                invoice("INV-1", now=datetime(2026, 3, 1, 10, 0, tzinfo=amsterdam)), EVENTS)
            await store.claim_due("w", 1, LEASE, now=T0 + timedelta(microseconds=7))
            await store.transition(
                record.id, event="sent", transport_state=TransportState.SENT,
                expect_claimed_by="w",
                attempt=Attempt(record.id, 1, T0, datetime(2026, 3, 1, 9, 0, 1, 250,
                                                           tzinfo=UTC),
                                AttemptOutcome.ACCEPTED),
                now=datetime(2026, 3, 1, 11, 0, 0, 5, tzinfo=amsterdam))

    asyncio.run(run())
    conn = sqlite3.connect(path)
    try:
        created, updated = conn.execute("SELECT created_at, updated_at FROM messages").fetchone()
        events = [at for (at,) in conn.execute("SELECT at FROM events ORDER BY seq")]
        attempt = conn.execute("SELECT started_at, finished_at FROM attempts").fetchone()
    finally:
        conn.close()
    assert created == "2026-03-01T09:00:00.000000Z"
    assert updated == "2026-03-01T10:00:00.000005Z"
    assert events == ["2026-03-01T09:00:00.000000Z"] * 3 + [
        "2026-03-01T09:00:00.000007Z", "2026-03-01T10:00:00.000005Z"]
    assert attempt == ("2026-03-01T09:00:00.000000Z", "2026-03-01T09:00:01.000250Z")


async def test_concurrent_changes_of_a_claimed_message_all_land(
    store: Store, store_url: str,
) -> None:
    """Changes racing on one row: each is written once, on the row as it then is."""
    async with open_store(store_url) as other:
        record, _ = await store.add_outbound(invoice("INV-1"))
        await store.claim_due("w", 1, LEASE, now=T0)
        attempts = [Attempt(record.id, n, T0, T0, AttemptOutcome.RETRYABLE, transport_id=f"AK-{n}")
                    for n in range(1, 11)]
        await asyncio.gather(
            *((store if n % 2 else other).transition(
                record.id, event=NewEvent("note", {"n": n}), expect_claimed_by="w")
              for n in range(20)),
            *((other if a.number % 2 else store).record_attempt(a, expect_claimed_by="w")
              for a in attempts),
            *(store.extend_claim(record.id, "w", LEASE, now=T0 + timedelta(seconds=n))
              for n in range(5)),
        )
        events = await store.events(record.id)
        assert [e.seq for e in events] == list(range(1, 22))
        assert sorted(e.detail["n"] for e in events[1:]) == list(range(20))
        stored = await store.get(record.id)
        assert stored is not None
        assert sorted(stored.transport_ids) == sorted(f"AK-{n}" for n in range(1, 11))
        assert [a.number for a in await store.attempts(record.id)] == list(range(1, 11))
        sent = await other.transition(record.id, event="sent", expect_claimed_by="w",
                                      transport_state=TransportState.SENT)
        await same_as_read(store, sent)


@pytest.mark.postgres
async def test_a_postgres_write_planned_on_a_stale_read_is_not_made(
    postgres_url: str,
) -> None:
    """The one-statement write finds no row once another change came between."""
    from gateway.store.base import Change, plan_change
    from gateway.store.postgres import SELECT_FULL_SEQ, PostgresStore, _record

    async with open_store(postgres_url) as store:
        assert isinstance(store, PostgresStore)
        await store.migrate()
        record, _ = await store.add_outbound(invoice("INV-1"))
        await store.claim_due("w", 1, LEASE, now=T0)
        pool = await store._get_pool()
        async with pool.acquire() as conn:
            row = await conn.fetchrow(f"{SELECT_FULL_SEQ} WHERE m.id = $1", record.id)
        await store.extend_claim(record.id, "w", LEASE, now=T0 + timedelta(minutes=1))
        current = _record(row)
        plan = plan_change(
            Change(event=NewEvent("sent"), transport_state=TransportState.SENT,
                   expect_claimed_by="w"), current, row["last_event_seq"], T0)
        async with pool.acquire() as conn:
            assert not await store._write_plan(conn, current, plan, unchanged_since=row)
        after = await store.get(record.id)
        assert after is not None
        assert (after.transport_state, after.claimed_by) == (TransportState.SENDING, "w")
        assert [e.kind for e in await store.events(record.id)] == ["send-attempt"]
