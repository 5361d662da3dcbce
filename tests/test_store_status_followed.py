"""A final status takes a sent message off the pollers' list for good; a new send puts it back.

On SQLite and PostgreSQL alike. Digipoort's ``polling-stopped`` leaves a
message ``sent`` / ``delivered-to-agency`` (the agency has it, its answer
never came): before, it stayed on the waiting list and took a poller's place
every round, so over the months a small ``status_batch`` reached nothing
that could still move.
"""

from __future__ import annotations

import sqlite3

import asyncpg
import pytest
from pipeline_support import SUPPLIER_KVK, Pipeline
from test_pipeline_status import SENT, sent_invoice_numbered

from gateway.channels import Accepted, StatusReport
from gateway.pipeline import operator
from gateway.pipeline.status import StatusDesk
from gateway.store import MessageRecord, Store, StoreError, TransportState, postgres, sqlite

DELIVERED = "delivered-to-agency"


async def delivered(pipe: Pipeline, desk: StatusDesk, number: str) -> MessageRecord:
    record = await sent_invoice_numbered(pipe, number)
    assert record.transport_id is not None
    await desk.record("recorder", StatusReport(
        "400", "Afleveren gelukt", transport_id=record.transport_id, business_state=DELIVERED))
    return record


def polling_stopped(record: MessageRecord) -> StatusReport:
    """What the digipoort channel reports when it stops asking about a delivered message."""
    return StatusReport("polling-stopped", "no new status within 4 days",
                        transport_id=record.transport_id, final=True)


async def listed(desk: StatusDesk, limit: int = 10) -> list[str]:
    return [m.message_id for m in await desk.waiting("recorder", limit=limit)]


async def test_a_round_of_one_reaches_the_live_message_behind_stopped_ones(
    pipe: Pipeline,
) -> None:
    desk = StatusDesk(pipe.store, lambda: SUPPLIER_KVK)
    stopped = [await delivered(pipe, desk, f"F-stopped-{n}") for n in range(3)]
    live = await delivered(pipe, desk, "F-live")
    for record in stopped:
        assert await desk.record("recorder", polling_stopped(record)) == record.id

    # Every round of one: the live message, not the stopped ones before it.
    for _ in range(3):
        assert await listed(desk, limit=1) == [live.id]
    assert [r.id for r in await pipe.store.waiting_for_status("recorder", DELIVERED, 10)] == [
        live.id]
    for record in stopped:
        kept = await pipe.store.get(record.id)
        assert kept is not None
        # Stopped, not changed: the agency has it, and its answer may still come in.
        assert (kept.transport_state, kept.business_state) == (TransportState.SENT, DELIVERED)
        codes = [e.detail["code"] for e in await pipe.store.events(record.id)
                 if e.kind == "status"]
        assert codes == ["400", "polling-stopped"]


async def test_a_report_that_is_not_final_keeps_the_message_listed(pipe: Pipeline) -> None:
    desk = StatusDesk(pipe.store, lambda: SUPPLIER_KVK)
    record = await delivered(pipe, desk, "F-walking")
    await desk.record("recorder", StatusReport("405", "Afleveren gestart",
                                               transport_id=record.transport_id))
    assert await listed(desk) == [record.id]


@pytest.mark.parametrize("action", ["retry", "reroute"])
async def test_a_message_sent_again_is_followed_again(pipe: Pipeline, action: str) -> None:
    # Digipoort's no-status or Peppol's no-receipt: final, and the message fails; the
    # operator sends it again, and the new send is asked about like any other.
    desk = StatusDesk(pipe.store, lambda: SUPPLIER_KVK)
    record = await sent_invoice_numbered(pipe, "F-again")
    await desk.record("recorder", StatusReport(
        "no-status", "no new status within 4 days", transport_id=record.transport_id,
        failed=True, final=True))
    failed = await pipe.store.get(record.id)
    assert failed is not None
    assert failed.transport_state is TransportState.FAILED
    assert await listed(desk) == []

    if action == "retry":
        await operator.retry(pipe.store, record.id, actor="operator", reason="lost")
    else:
        await operator.reroute(pipe.store, pipe.registry, pipe.outbound.validator, record.id,
                               actor="operator", channel="recorder", reason="lost")
    again = await pipe.until(record.id, SENT)
    assert await listed(desk) == [again.id]

    # The new send's own story ends the same way.
    await desk.record("recorder", polling_stopped(again))
    assert await listed(desk) == []


async def test_a_late_word_on_an_earlier_send_leaves_the_new_send_alone(pipe: Pipeline) -> None:
    # Digipoort gives every delivery its own kenmerk. The first one failed, the operator
    # sent the message again, and only then did the last words on the first come in.
    desk = StatusDesk(pipe.store, lambda: SUPPLIER_KVK)
    record = await sent_invoice_numbered(pipe, "F-late")
    first = record.transport_id
    assert first is not None
    await desk.record("recorder", StatusReport("310", "Afleveren mislukt", transport_id=first,
                                               failed=True))
    pipe.recorder.script.append(Accepted("kenmerk-2"))
    await operator.retry(pipe.store, record.id, actor="operator", reason="try again")
    again = await pipe.until(record.id, SENT)
    assert again.transport_id == "kenmerk-2"

    await desk.record("recorder", StatusReport("311", "Afleveren definitief mislukt",
                                               transport_id=first, failed=True))
    await desk.record("recorder", StatusReport("polling-stopped", "no new status",
                                               transport_id=first, final=True))

    kept = await pipe.store.get(record.id)
    assert kept is not None
    assert kept.transport_state is TransportState.SENT
    assert await listed(desk) == [record.id]
    codes = [e.detail["code"] for e in await pipe.store.events(record.id) if e.kind == "status"]
    assert codes == ["310", "311", "polling-stopped"]
    # The new send's own final word still ends the asking.
    await desk.record("recorder", polling_stopped(again))
    assert await listed(desk) == []


async def test_status_followed_is_true_or_false(pipe: Pipeline) -> None:
    record = await sent_invoice_numbered(pipe, "F-flag")
    with pytest.raises(StoreError, match="status_followed is true or false, got 'no'"):
        await pipe.store.transition(record.id, event="status", status_followed="no")
    assert [e.kind for e in await pipe.store.events(record.id)][-1] == "sent", "nothing written"


async def test_the_waiting_list_is_read_from_its_partial_index(
    store: Store, store_url: str,
) -> None:
    # The index leaves out what is no longer followed: thousands of stopped messages a
    # month must not be read every few seconds to skip them.
    args = ("recorder", DELIVERED, "", 10)
    if isinstance(store, sqlite.SqliteStore):
        conn = sqlite3.connect(store.path)
        try:
            plan = " ".join(str(row[-1]) for row in conn.execute(
                f"EXPLAIN QUERY PLAN {sqlite.WAITING_FOR_STATUS}", args))
        finally:
            conn.close()
    else:
        assert isinstance(store, postgres.PostgresStore)
        pg = await asyncpg.connect(store_url)
        try:
            await pg.execute("SET enable_seqscan = off")  # an empty table is read whole
            plan = " ".join(row[0] for row in await pg.fetch(
                f"EXPLAIN {postgres.WAITING_FOR_STATUS}", *args))
        finally:
            await pg.close()
    assert "messages_waiting" in plan, plan
