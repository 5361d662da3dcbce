"""Claims of a gone process expired at once (a gateway restarted on its data directory).

Against SQLite and PostgreSQL alike: only the claims under the prefix end,
and they are taken over as any expired claim is, attempt counted and the
previous owner named.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from test_store import BZK, LEASE, T0, invoice

from gateway.kinds import Direction
from gateway.store import MessageRecord, Store, StoreError, TransportState


async def test_only_the_claims_under_the_prefix_expire_and_are_taken_over(store: Store) -> None:
    for n in range(3):
        await store.add_outbound(invoice(f"INV-{n}"))
    [gone] = await store.claim_due("host:1a2b3c4d/4711:dispatch-0", 1, LEASE, now=T0)
    [also_gone] = await store.claim_due("host:1a2b3c4d/4711:dispatch-1", 1, LEASE, now=T0)
    # Another instance's worker, its name starting alike but for the separator.
    [alive] = await store.claim_due("host:1a2b3c4d0:dispatch-0", 1, LEASE, now=T0)
    inbound, _ = await store.add_inbound_raw(
        MessageRecord.new_inbound(channel="peppol", raw_payload=b"<Order/>", transport_id="M1",
                                  now=T0))
    await store.transition(inbound.id, event="decode", transport_state=TransportState.DECODED,
                           document_kind="order", now=T0)
    [delivering] = await store.claim_deliverable("host:1a2b3c4d/4711:deliver-0", 1, LEASE,
                                                 now=T0)

    restart = T0 + timedelta(seconds=5)
    assert await store.expire_claims("host:1a2b3c4d/", now=restart) == 3
    # Expired ones are expired: doing it again finds none.
    assert await store.expire_claims("host:1a2b3c4d/", now=restart) == 0

    taken = await store.claim_due("host:1a2b3c4d/4800:dispatch-0", 10, LEASE, now=restart)
    assert sorted(r.id for r in taken) == sorted([gone.id, also_gone.id])
    for record in taken:
        assert (record.attempts, record.transport_state) == (2, TransportState.SENDING)
        assert record.last_error is not None
        assert "host:1a2b3c4d/4711:dispatch-" in record.last_error
        events = await store.events(record.id)
        assert events[-1].detail["taken_over_from"].startswith("host:1a2b3c4d/4711:")
    [redelivering] = await store.claim_deliverable("host:1a2b3c4d/4800:deliver-0", 1, LEASE,
                                                   now=restart)
    assert redelivering.id == delivering.id
    assert redelivering.direction is Direction.INBOUND

    kept = await store.get(alive.id)
    assert kept is not None
    assert (kept.claimed_by, kept.claim_expires_at) == ("host:1a2b3c4d0:dispatch-0", T0 + LEASE)


async def test_pattern_characters_in_the_prefix_are_plain_text(store: Store) -> None:
    await store.add_outbound(invoice("INV-1"))
    await store.add_outbound(invoice("INV-2"))
    [one] = await store.claim_due("box_1:ab/1:dispatch-0", 1, LEASE, now=T0)
    [other] = await store.claim_due("boxX1:ab/1:dispatch-0", 1, LEASE, now=T0)
    assert await store.expire_claims("box_1:ab/", now=T0) == 1
    assert await store.expire_claims("box%", now=T0) == 0
    assert (await store.get(one.id)).claim_expires_at == T0  # type: ignore[union-attr]
    assert (await store.get(other.id)).claim_expires_at == T0 + LEASE  # type: ignore[union-attr]


async def test_a_lease_already_over_is_left_as_it_is(store: Store) -> None:
    await store.add_outbound(invoice())
    [claimed] = await store.claim_due("h:aa/1:dispatch-0", 1, LEASE, now=T0)
    assert await store.expire_claims("h:aa/", now=T0 + LEASE + timedelta(minutes=1)) == 0
    kept = await store.get(claimed.id)
    assert kept is not None
    assert kept.claim_expires_at == T0 + LEASE


@pytest.mark.parametrize("prefix", ["", "   ", None])
async def test_every_claim_at_once_is_refused(store: Store, prefix: object) -> None:
    await store.add_outbound(invoice(agency_oin=BZK))
    [claimed] = await store.claim_due("w", 1, LEASE, now=T0)
    with pytest.raises(StoreError, match="prefix"):
        await store.expire_claims(prefix, now=T0)  # type: ignore[arg-type]
    kept = await store.get(claimed.id)
    assert kept is not None
    assert kept.claim_expires_at == T0 + LEASE
