"""An operator action and its audit entry are one: both are written, or neither is.

The audit write is made to fail for real (a trigger the test creates on the
audit table, on both backends); the message must then be as it was. And two
operators acting on one message at once each act on what they saw, or are told
it changed.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable
from datetime import timedelta

import asyncpg
import attrs
import pytest
from pipeline_support import Pipeline

from gateway.channels import FinalError
from gateway.model.samples import example_invoice
from gateway.pipeline import OperatorActionError
from gateway.pipeline.operator import cancel, reroute, retry
from gateway.store import MessageRecord, Store, StoreError, TransportState
from gateway.store.postgres import PostgresStore
from gateway.store.sqlite import SqliteStore

REFUSAL = "audit refused by the test"


async def refuse_audit_entries(store: Store) -> None:
    """From now on the database refuses every new audit entry, as a real constraint would."""
    if isinstance(store, SqliteStore):
        conn = sqlite3.connect(store.path)
        try:
            conn.execute("CREATE TRIGGER test_refuse_audit BEFORE INSERT ON audit_log "
                         f"BEGIN SELECT RAISE(ABORT, '{REFUSAL}'); END")
            conn.commit()
        finally:
            conn.close()
        return
    assert isinstance(store, PostgresStore)
    pg = await asyncpg.connect(store.dsn)
    try:
        await pg.execute(
            "CREATE FUNCTION test_refuse_audit() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN RAISE EXCEPTION '{REFUSAL}'; END $$")
        await pg.execute("CREATE TRIGGER test_refuse_audit BEFORE INSERT ON audit_log "
                         "FOR EACH ROW EXECUTE FUNCTION test_refuse_audit()")
    finally:
        await pg.close()


async def failed_message(pipe: Pipeline) -> MessageRecord:
    pipe.recorder.script = [FinalError("agency unreachable for good")]
    record = await pipe.submit(example_invoice())
    return await pipe.until(record.id, {TransportState.FAILED})


Action = Callable[[Pipeline, str], Awaitable[MessageRecord]]
ACTIONS: dict[str, Action] = {
    "retry": lambda pipe, mid: retry(pipe.store, mid, actor="fatima", reason="fixed"),
    "cancel": lambda pipe, mid: cancel(pipe.store, mid, actor="fatima", reason="by post"),
    "reroute": lambda pipe, mid: reroute(
        pipe.store, pipe.registry, pipe.outbound.validator, mid, actor="fatima",
        channel="folder", reason="Digipoort is down"),
}


@pytest.mark.parametrize("action", sorted(ACTIONS))
async def test_an_action_whose_audit_entry_is_refused_leaves_the_message_as_it_was(
    pipe: Pipeline, action: str,
) -> None:
    failed = await failed_message(pipe)
    before = await pipe.store.events(failed.id)
    await refuse_audit_entries(pipe.store)
    with pytest.raises(StoreError, match=REFUSAL):
        await ACTIONS[action](pipe, failed.id)
    after = await pipe.store.get(failed.id)
    assert after is not None
    assert (after.transport_state, after.channel, after.max_attempts) == (
        TransportState.FAILED, failed.channel, failed.max_attempts)
    assert await pipe.store.events(failed.id) == before
    assert await pipe.store.audit_log() == []
    # Nothing was queued behind the operator's back.
    assert await pipe.dispatcher.run_once() == 0


async def test_a_reason_with_a_nul_character_is_acted_on_and_audited(pipe: Pipeline) -> None:
    # A JSON body may carry "\u0000"; PostgreSQL text cannot hold it. The timeline
    # replaces it; the audit entry must too, not fail after the message changed.
    record = await pipe.submit(example_invoice())
    cancelled = await cancel(pipe.store, record.id, actor="fatima\x00", reason="by\x00post")
    assert cancelled.transport_state is TransportState.CANCELLED
    [audit] = await pipe.store.audit_log()
    assert (audit.action, audit.subject) == ("message.cancel", record.id)
    assert audit.reason is not None
    assert audit.reason.startswith("by")
    assert audit.reason.endswith("post")


async def test_two_operators_rerouting_at_once_leave_a_true_audit_trail(
    pipe: Pipeline,
) -> None:
    failed = await failed_message(pipe)
    # Both read the message before either writes: the second must not act on what it read.
    outcomes = await asyncio.gather(
        reroute(pipe.store, pipe.registry, pipe.outbound.validator, failed.id,
                actor="fatima", channel="folder", reason="Digipoort is down"),
        reroute(pipe.store, pipe.registry, pipe.outbound.validator, failed.id,
                actor="joost", channel="recorder", reason="it is back"),
        return_exceptions=True,
    )
    done = [o for o in outcomes if isinstance(o, MessageRecord)]
    refused = [o for o in outcomes if not isinstance(o, MessageRecord)]
    assert done, outcomes
    for problem in refused:
        assert isinstance(problem, OperatorActionError), problem
        assert "changed" in str(problem)
    audits = sorted(await pipe.store.audit_log(), key=lambda a: a.seq or 0)
    assert len(audits) == len(done)
    # Each entry starts where the one before it ended: nobody rerouted from a stale channel.
    origin = {"channel": failed.channel, "format": failed.format_key}
    for audit in audits:
        assert audit.detail["from"] == origin, audits
        origin = audit.detail["to"]
    final = await pipe.store.get(failed.id)
    assert final is not None
    assert final.channel == origin["channel"]


@pytest.mark.parametrize("problem", ["disabled", "not configured"])
async def test_a_reroute_to_a_channel_that_does_not_run_is_refused(
    pipe: Pipeline, problem: str,
) -> None:
    # Routing refuses a disabled channel; a reroute onto one would spend the message's
    # attempts on "channel not running" until it is dead-lettered again.
    channels = dict(pipe.config.channels)
    if problem == "disabled":
        channels["folder"] = attrs.evolve(channels["folder"], enabled=False)
    else:
        del channels["folder"]
    config = attrs.evolve(pipe.config, channels=channels)
    failed = await failed_message(pipe)
    with pytest.raises(OperatorActionError, match=f"channel folder is {problem}"):
        await reroute(pipe.store, pipe.registry, pipe.outbound.validator, failed.id,
                      actor="fatima", channel="folder", reason="Digipoort is down",
                      config=config)
    after = await pipe.store.get(failed.id)
    assert after is not None
    assert (after.transport_state, after.channel) == (TransportState.FAILED, "recorder")
    assert await pipe.store.audit_log() == []


async def test_a_cancel_of_a_message_being_sent_is_refused_and_the_send_goes_on(
    pipe: Pipeline,
) -> None:
    record = await pipe.submit(example_invoice())
    [claimed] = await pipe.store.claim_due("busy-worker", 1, timedelta(minutes=5))
    with pytest.raises(OperatorActionError, match="sending"):
        await cancel(pipe.store, record.id, actor="fatima", reason="by post")
    still = await pipe.store.get(record.id)
    assert still is not None
    assert (still.transport_state, still.claimed_by) == (TransportState.SENDING, "busy-worker")
    assert await pipe.store.audit_log() == []
    assert claimed.id == record.id
