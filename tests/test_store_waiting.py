"""How many outbound messages wait to be claimed, per channel, on SQLite and PostgreSQL alike.

What /health counts for the channels an instance has configured but does not
run: its dispatcher leaves their messages unclaimed for an instance that runs
them, and without the count nobody sees them wait.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import attrs
from test_store import LEASE, RWS, T0, invoice

from gateway.store import MessageRecord, Store, TransportState


async def added(store: Store, key: str, channel: str = "digipoort", **kwargs: Any
                ) -> MessageRecord:
    record, created = await store.add_outbound(attrs.evolve(invoice(key, **kwargs),
                                                            channel=channel))
    assert created
    return record


async def decoded_inbound(store: Store, transport_id: str) -> MessageRecord:
    raw, _ = await store.add_inbound_raw(MessageRecord.new_inbound(
        channel="digipoort", raw_payload=b"<Order/>", transport_id=transport_id, now=T0))
    return await store.transition(
        raw.id, event="decode", transport_state=TransportState.DECODED, document_kind="order",
        format_key="peppol-bis:order:3", business_key=f"ORDER-{transport_id}",
        canonical_json='{"id": "7"}', agency_oin=RWS, now=T0)


async def test_only_queued_and_retrying_outbound_messages_of_the_channels_asked_count(
    store: Store,
) -> None:
    # Four digipoort messages that move on: one sent, one dead-lettered, one retrying
    # (due in an hour: it waits for the channel all the same), one held by a live claim.
    moving = [await added(store, f"MOVING-{n}") for n in range(4)]
    claimed = await store.claim_due("w", 4, LEASE, now=T0)
    assert {r.id for r in claimed} == {r.id for r in moving}
    sent, dead, retrying, _sending = moving
    await store.transition(sent.id, event="sent", transport_state=TransportState.SENT,
                           expect_claimed_by="w", now=T0)
    await store.dead_letter(dead.id, "refused", expect_claimed_by="w", now=T0)
    later = await store.schedule_retry(retrying.id, T0 + timedelta(hours=1), "busy",
                                       expect_claimed_by="w", now=T0)
    assert later.transport_state is TransportState.RETRYING

    for n in range(2):
        await added(store, f"QUEUED-{n}")
    await added(store, "NOT-DUE-YET", next_attempt_at=T0 + timedelta(days=1))
    cancelled = await added(store, "CANCELLED")
    await store.transition(cancelled.id, event="cancel",
                           transport_state=TransportState.CANCELLED, now=T0)
    await added(store, "REJECTED", transport_state=TransportState.REJECTED)
    await added(store, "TO-PEPPOL", "peppol")
    await added(store, "BY-EMAIL", "email")
    # Inbound messages of the same channel waiting to be delivered to the ERP, and retrying.
    inbound = {(await decoded_inbound(store, tid)).id for tid in ("IN-1", "IN-2")}
    [delivering] = await store.claim_deliverable("d", 1, LEASE, now=T0)
    assert delivering.id in inbound
    await store.schedule_retry(delivering.id, T0 + timedelta(minutes=1), "ERP 502",
                               expect_claimed_by="d", now=T0)

    assert await store.count_waiting_by_channel(["digipoort", "peppol", "portal"]) == {
        "digipoort": 4, "peppol": 1}
    assert await store.count_waiting_by_channel({"email"}) == {"email": 1}
    assert await store.count_waiting_by_channel(["portal"]) == {}
    assert await store.count_waiting_by_channel([]) == {}
    counts = await store.count_by_state()
    assert counts["outbound"]["queued"] + counts["outbound"]["retrying"] == 6, counts
    assert counts["inbound"] == {"decoded": 1, "retrying": 1}, counts



async def test_overdue_counts_due_unclaimed_outbound_messages_and_the_oldest(
    store: Store,
) -> None:
    """What /health reads to tell that queued messages wait and nobody takes them (only
    intake instances run, or the dispatcher is stuck)."""
    await added(store, "EARLY", next_attempt_at=T0 - timedelta(minutes=30))
    await added(store, "LATER", next_attempt_at=T0 - timedelta(minutes=10))
    await added(store, "NOT-YET", next_attempt_at=T0 + timedelta(hours=1))
    taken = await added(store, "TAKEN", "peppol", next_attempt_at=T0 - timedelta(hours=2))
    [claimed] = await store.claim_due("w", 1, LEASE, now=T0)
    assert claimed.id == taken.id  # sending now: not waiting
    await decoded_inbound(store, "IN-1")  # inbound: not outbound's business

    assert await store.overdue_outbound(T0 - timedelta(minutes=5)) == (
        2, T0 - timedelta(minutes=30))
    assert await store.overdue_outbound(T0 - timedelta(minutes=20)) == (
        1, T0 - timedelta(minutes=30))
    assert await store.overdue_outbound(T0 - timedelta(hours=1)) == (0, None)
    assert await store.overdue_outbound(T0, skip_channels=["digipoort"]) == (0, None)
    count, oldest = await store.overdue_outbound(T0, cap=1)
    assert (count, oldest) == (1, T0 - timedelta(minutes=30))
