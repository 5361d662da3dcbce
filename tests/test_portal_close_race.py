"""Gateway instances sharing one database close a portal task once between them.

Two gateway services run side by side on one database (a SQLite file, and
PostgreSQL), each with its own port, data folder, store connections and
portal channel, as two machines of one installation would (issue #6).
Operators close the same task on both at once, through each one's HTTP API;
exactly one close may be recorded, and the other operator must be told who
closed it and how. The CLI, as a separate process against the other
instance, must say so too and exit non-zero.

What decides is the store's compare-and-set on a message's timeline
(``transition(..., expect_last_event=N)``, which a channel asks for with
``StatusReport.after_event``), tested here on its own too, with two store
connections to one database.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import attrs
import pytest
from instances_support import instance_config
from pipeline_support import AGENCY_OIN, FAST, document_json
from test_portal import TOKEN

from gateway.model.samples import example_invoice
from gateway.pluginmanager import make_plugin_manager
from gateway.service import GatewayService
from gateway.store import (
    Event,
    MessageRecord,
    NewEvent,
    Store,
    TimelineMoved,
    TransportState,
    open_store,
)

CLOSE_CODES = ("portal-submitted", "portal-cancelled")
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
# Several tasks per test: each pair of closes is one chance for the two instances to
# interleave their reads and writes.
TASKS = 6


def config(folder: Path, database: str) -> Path:
    return instance_config(folder, database, "portal", 'export_dir = "portal-tasks"',
                           token=TOKEN)


@attrs.define
class Instance:
    service: GatewayService
    path: Path

    @property
    def store(self) -> Store:
        assert self.service.store is not None
        return self.service.store

    async def api(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        assert self.service.address is not None
        host, port = self.service.address
        url = f"http://{host}:{port}/api/v1/channels/portal{path}"
        async with aiohttp.ClientSession() as session, session.request(
            method, url, json=body, headers={"Authorization": f"Bearer {TOKEN}"},
        ) as response:
            return response.status, await response.json(content_type=None)

    async def cli(self, *args: str) -> tuple[int, str, str]:
        """`gateway --config FILE ARGS...` as its own process, as an operator types it."""
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "gateway.cli.main", "--config", str(self.path), *args,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(process.communicate(), 60)
        assert process.returncode is not None
        return process.returncode, out.decode(), err.decode()


@pytest.fixture
async def pair(store_url: str, tmp_path: Path) -> AsyncIterator[tuple[Instance, Instance]]:
    started: list[Instance] = []
    try:
        for name in ("first", "second"):
            path = config(tmp_path / name, store_url)
            service = GatewayService(path, make_plugin_manager(), dispatch=FAST)
            await service.start()
            started.append(Instance(service, path))
        yield started[0], started[1]
    finally:
        for instance in started:
            await instance.service.stop()


async def open_task(instance: Instance, number: str) -> MessageRecord:
    assert instance.service.outbound is not None
    invoice = attrs.evolve(example_invoice(), number=number)
    record, created = await instance.service.outbound.submit(document_json(invoice),
                                                             agency_oin=AGENCY_OIN)
    assert created
    for _ in range(500):
        found = await instance.store.get(record.id)
        assert found is not None
        if found.transport_state is TransportState.SENT:
            return found
        await asyncio.sleep(0.01)
    raise AssertionError(f"message {record.id} was not sent to the portal queue")


def closes(events: list[Event]) -> list[dict[str, Any]]:
    return [e.detail for e in events if e.kind == "status" and e.detail.get("code") in CLOSE_CODES]


def close_body(action: str, who: str, n: int) -> dict[str, str]:
    if action == "done":
        return {"reference": f"DI-{who}-{n}", "by": who}
    return {"reason": f"{who} will not submit it", "by": who}


@pytest.mark.parametrize(("first_close", "second_close"),
                         [("done", "cancel"), ("done", "done"), ("cancel", "cancel")])
async def test_two_instances_closing_one_task_at_once_record_one_close(
    pair: tuple[Instance, Instance], first_close: str, second_close: str,
) -> None:
    first, second = pair
    records = [await open_task(first, f"F2024-07{n:02d}") for n in range(TASKS)]
    raced = 0
    for n, record in enumerate(records):
        task_id = str(record.transport_id)
        # Alice closes it on the first instance, Bob on the second, at the same moment.
        answers = await asyncio.gather(
            first.api("POST", f"/tasks/{task_id}/{first_close}",
                      close_body(first_close, "alice", n)),
            second.api("POST", f"/tasks/{task_id}/{second_close}",
                       close_body(second_close, "bob", n)))
        recorded = closes(await first.store.events(record.id))
        # One close on the timeline, the other refused: never two outcomes (delivered
        # to the agency and failed), nor one outcome twice with two references.
        assert len(recorded) == 1, (task_id, answers, recorded)
        [winner] = recorded
        assert sorted(status for status, _ in answers) == [200, 409], answers
        [(_, won)] = [a for a in answers if a[0] == 200]
        [(_, lost)] = [a for a in answers if a[0] == 409]
        assert won["closed_by"] == winner["by"]
        # The loser learns that it lost, to whom, and with what outcome.
        state = "submitted" if winner["code"] == "portal-submitted" else "cancelled"
        assert lost["type"] == "urn:wissel:problem:portal-task-closed", lost
        assert f"is {state}, not open" in lost["detail"], lost
        raced += lost["title"] == "The portal task was closed meanwhile"
        assert f"by {winner['by']}" in lost["detail"], lost
        assert lost["task"]["state"] == state
        assert lost["task"]["closed_by"] == winner["by"]
        after = await second.store.get(record.id)
        assert after is not None
        if state == "submitted":
            assert after.transport_state is TransportState.SENT
            assert after.business_state == "delivered-to-agency"
            assert winner["reference"] in lost["detail"]
        else:
            assert after.transport_state is TransportState.FAILED
            assert after.business_state == "none"
            assert winner["reason"] in lost["detail"]
    # Both instances found the task open at least once, so the database had to decide.
    assert raced > 0


async def test_the_cli_on_another_instance_says_who_closed_the_task_and_fails(
    pair: tuple[Instance, Instance],
) -> None:
    first, second = pair
    record = await open_task(first, "F2024-0790")
    task_id = str(record.transport_id)
    status, _ = await first.api("POST", f"/tasks/{task_id}/done",
                                {"reference": "DI-5150", "by": "alice"})
    assert status == 200
    code, out, err = await second.cli("portal", "cancel", task_id, "--reason", "duplicate",
                                      "--by", "bob")
    assert code != 0, out
    assert f"portal task {task_id} is submitted, not open" in err
    assert "by alice" in err
    assert "DI-5150" in err
    assert "this cancel was not recorded" in err
    assert len(closes(await second.store.events(record.id))) == 1


# -- the store's compare-and-set on a timeline ------------------------------


@pytest.fixture
async def other_store(store_url: str, store: Store) -> AsyncIterator[Store]:
    """A second store on the same database: another gateway instance, as far as it knows."""
    async with open_store(store_url) as opened:
        yield opened


def outbound(number: int) -> MessageRecord:
    return MessageRecord.new_outbound(
        document_kind="invoice", business_key=f"INV-{number}", agency_oin=AGENCY_OIN,
        canonical_json='{"number": "1"}', raw_payload=b"<Invoice/>", channel="portal",
        format_key="canonical:invoice:1", now=T0)


async def test_a_change_decided_on_a_timeline_that_moved_is_refused_and_writes_nothing(
    store: Store, other_store: Store,
) -> None:
    record, _ = await store.add_outbound(outbound(1), [NewEvent("submitted")])
    [seen] = await store.events(record.id)
    # Another instance changes the message after this one read it.
    await other_store.transition(record.id, event="cancelled",
                                 transport_state=TransportState.CANCELLED)
    with pytest.raises(TimelineMoved, match=f"message {record.id} changed meanwhile: its "
                       "timeline is at event 2, the change was decided at event 1"):
        await store.transition(record.id, event=NewEvent("note", {"by": "alice"}),
                               business_state="delivered-to-agency",
                               expect_last_event=seen.seq, last_error="alice's note")
    after = await store.get(record.id)
    assert after is not None
    assert (after.transport_state, after.business_state, after.last_error) == (
        TransportState.CANCELLED, "none", None)
    assert [e.kind for e in await store.events(record.id)] == ["submitted", "cancelled"]
    # Decided again on the timeline as it is now, the change applies.
    queued = await store.transition(record.id, event="requeued",
                                    transport_state=TransportState.QUEUED, expect_last_event=2)
    assert queued.transport_state is TransportState.QUEUED
    assert [e.seq for e in await store.events(record.id)] == [1, 2, 3]


async def test_two_connections_deciding_on_one_timeline_at_once_make_one_change(
    store: Store, other_store: Store,
) -> None:
    for number in range(8):
        record, _ = await store.add_outbound(outbound(number), [NewEvent("submitted")])
        [seen] = await store.events(record.id)
        results = await asyncio.gather(*(
            one.transition(record.id, event=NewEvent("decided", {"by": by}),
                           business_state=f"decided-by-{by}", expect_last_event=seen.seq)
            for one, by in ((store, "first"), (other_store, "second"))),
            return_exceptions=True)
        won = [r for r in results if isinstance(r, MessageRecord)]
        lost = [r for r in results if isinstance(r, TimelineMoved)]
        assert (len(won), len(lost)) == (1, 1), results
        events = await other_store.events(record.id)
        assert [e.kind for e in events] == ["submitted", "decided"]
        assert won[0].business_state == f"decided-by-{events[1].detail['by']}"
