"""Both stores refuse or answer alike at the edges: long indexed text, NUL, limits, bad URLs."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest

from gateway.kinds import Direction
from gateway.store import (
    AuditRecord,
    MessageRecord,
    Store,
    StoreError,
    TransportState,
    open_store,
)


def long_text() -> str:
    # Random, so PostgreSQL cannot compress it below its index row limit.
    return os.urandom(3000).hex()


async def test_a_too_long_business_key_is_refused_alike(store: Store) -> None:
    key = long_text()
    with pytest.raises(StoreError, match="business key is 6000 bytes; at most 1000"):
        await store.add_outbound(MessageRecord.new_outbound(document_kind="invoice",
                                                            business_key=key))
    # A key at the limit is stored and found on both.
    key = "é" * 500
    stored, created = await store.add_outbound(
        MessageRecord.new_outbound(document_kind="invoice", business_key=key))
    assert created
    found = await store.find_by_business_key(Direction.OUTBOUND, key)
    assert found is not None
    assert found.id == stored.id
    # Given later (an inbound document's key is known once it is decoded).
    inbound, _ = await store.add_inbound_raw(
        MessageRecord.new_inbound(channel="folder", raw_payload=b"<x/>", transport_id=None))
    with pytest.raises(StoreError, match="business key is 6000 bytes; at most 1000"):
        await store.transition(inbound.id, event="decoded",
                               transport_state=TransportState.DECODED, business_key=long_text())
    assert (await store.get(inbound.id)).transport_state is TransportState.RECEIVED  # type: ignore[union-attr]


async def test_a_too_long_transport_id_is_refused_alike(store: Store) -> None:
    with pytest.raises(StoreError, match="transport id is 6000 bytes; at most 1000"):
        await store.add_inbound_raw(MessageRecord.new_inbound(
            channel="folder", raw_payload=b"<x/>", transport_id=long_text()))
    queued, _ = await store.add_outbound(
        MessageRecord.new_outbound(document_kind="invoice", business_key="k"))
    with pytest.raises(StoreError, match="transport id is 6000 bytes; at most 1000"):
        await store.transition(queued.id, event="x", transport_id=long_text())


async def test_a_negative_limit_is_refused_alike(store: Store) -> None:
    for _ in range(3):
        await store.append_audit(AuditRecord(actor="ops", action="channel.add"))
    with pytest.raises(StoreError, match="limit"):
        await store.audit_log(limit=-1)
    with pytest.raises(StoreError, match="limit"):
        await store.waiting_for_status("folder", "none", -1)
    assert await store.audit_log(limit=0) == []
    assert len(await store.audit_log(limit=1)) == 1
    assert await store.waiting_for_status("folder", "none", 0) == []


@pytest.mark.parametrize("url", [
    "postgresql://wissel:Geheim-pw@127.0.0.1:notaport/wissel",
    "postgresql://wissel:Geheim-pw@[::1/wissel",
    "postgresql://wissel:Geheim-pw@127.0.0.1:1/wissel?sslmode=bogus",
    "postgresql://wissel:Ge@heim:Geheim-pw@127.0.0.1:notaport/wissel",
    "postgresql://wissel:x@127.0.0.1:5432/wissel?password=Geheim-pw&port=nope",
])
async def test_a_malformed_postgres_url_is_a_store_error_naming_the_database(url: str) -> None:
    async with open_store(url) as store:
        with pytest.raises(StoreError) as caught:
            await store.migrate()
    message = str(caught.value)
    assert "postgresql://wissel:***@" in message, message
    assert "heim" not in message, message  # not even a piece of the password


async def test_an_expired_lease_is_taken_over_with_one_more_attempt(store: Store) -> None:
    # An expired lease is taken over with the attempt counted once.
    record, _ = await store.add_outbound(
        MessageRecord.new_outbound(document_kind="invoice", business_key="lease"))
    first = await store.claim_due("w1", 1, timedelta(seconds=1))
    assert [m.attempts for m in first] == [1]
    expires = first[0].claim_expires_at
    assert expires is not None
    now = expires + timedelta(seconds=1)
    taken = await store.claim_due("w2", 5, timedelta(seconds=30), now=now)
    assert [(m.id, m.attempts, m.claimed_by) for m in taken] == [(record.id, 2, "w2")]
    assert await store.claim_due("w3", 5, timedelta(seconds=30), now=now) == []


async def test_a_lookup_by_text_with_a_nul_finds_nothing_alike(store: Store) -> None:
    # A status report or a query naming an id with a NUL: no message holds one.
    await store.add_outbound(MessageRecord.new_outbound(document_kind="invoice",
                                                        business_key="K1"))
    assert await store.find_by_business_key(Direction.OUTBOUND, "K1\x00") is None
    assert await store.find_by_transport_id("digipoort", "a\x00b") is None
    assert await store.get("01ARZ3NDEKTSV4RRFFQ69G5FA\x00") is None
    assert await store.events("x\x00") == []
    assert (await store.list_messages(business_key="K1\x00")).items == ()
    with pytest.raises(StoreError):  # a lone surrogate cannot even be sent to the database
        await store.find_by_business_key(Direction.OUTBOUND, "K\ud800")


async def test_a_key_no_backend_can_hold_is_refused_alike(store: Store) -> None:
    for key in ("K\x001", "K\udc801"):
        with pytest.raises(StoreError, match="business key holds a NUL character or a lone"):
            await store.add_outbound(MessageRecord.new_outbound(document_kind="invoice",
                                                                business_key=key))
    assert (await store.list_messages()).items == ()
