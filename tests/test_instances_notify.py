"""A full instance starts at once on work an intake instance stored (PostgreSQL LISTEN/NOTIFY).

The intake instance tells the database, coalesced, that work waits; a full
instance listening on a connection of its own wakes its dispatcher or delivery
worker. Its poll interval here is 30 s, so only the notification can explain a
send within a second. The notification is a hint: the listener comes back
after its connection is killed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import asyncpg
import attrs
import pytest
from api_support import invoice_json
from delivery_support import SECRET, SECRET_ENV, FakeErp
from instances_support import instance_config
from pipeline_support import AGENCY_OIN, FAST, document_json
from test_intake_role import Instances, call, instances, sent_files

from gateway.channels import InboundDocument
from gateway.kinds import Direction
from gateway.model.samples import example_order
from gateway.pipeline.workers import NOTICE_INTERVAL
from gateway.service import GatewayService, Role
from gateway.store import Store, TransportState, open_store
from gateway.store.postgres import LISTEN_APPLICATION, QUEUED_CHANNEL
from gateway.tasks import cancel_and_wait

pytestmark = pytest.mark.postgres

__all__ = ["instances"]  # the fixture, used by the tests here

# Only a wake-up explains work done within ``SOON`` seconds.
SLOW = attrs.evolve(FAST, idle_poll=30.0)
SOON = 1.5


def folder_instance(tmp_path: Path, name: str, url: str, erp_url: str | None = None) -> Path:
    table = f"path = {str(tmp_path / 'outbox')!r}"
    path = instance_config(tmp_path / name, url, "folder", table)
    if erp_url is not None:
        with path.open("a", encoding="utf-8") as extra:
            extra.write(f"""
[erp]
delivery = "webhook"
webhook_url = "{erp_url}"
webhook_secret_env = "{SECRET_ENV}"
webhook_timeout = 2
max_attempts = 1
""")
    return path


async def two_instances(instances: Instances, tmp_path: Path, url: str,
                        erp_url: str | None = None) -> tuple[GatewayService, GatewayService]:
    """An intake instance and a full one polling every 30 s, its first rounds done."""
    intake = await instances.start(folder_instance(tmp_path, "intake", url, erp_url),
                                   Role.INTAKE)
    full = await instances.start(folder_instance(tmp_path, "full", url, erp_url),
                                 dispatch=SLOW)
    await asyncio.sleep(0.5)  # the full instance's workers have looked and gone idle
    return intake, full


async def listeners(url: str) -> list[int]:
    """The backends of this database listening for a gateway instance."""
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(
            "SELECT pid FROM pg_stat_activity WHERE application_name = $1 "
            "AND datname = current_database()", LISTEN_APPLICATION)
    finally:
        await conn.close()
    return [row["pid"] for row in rows]


async def reached(store: Store, message_id: str, state: TransportState,
                  within: float = SOON) -> float:
    """Seconds until the message was in ``state``; fails after ``within``."""
    began = time.monotonic()
    record = None
    while time.monotonic() - began < within:
        record = await store.get(message_id)
        if record is not None and record.transport_state is state:
            return time.monotonic() - began
        await asyncio.sleep(0.02)
    state_now = None if record is None else record.transport_state
    raise AssertionError(f"message {message_id} is {state_now}, not {state}, "
                         f"{within} s on (the full instance polls every {SLOW.idle_poll} s)")


async def submit(intake: GatewayService, number: str) -> str:
    status, body = await call(intake, "POST", f"/api/v1/outbound/{AGENCY_OIN}",
                              data=invoice_json(number))
    assert status == 202, body
    assert body["transport_state"] == "queued", body
    message_id: str = body["id"]
    return message_id


async def test_a_full_instance_sends_at_once_what_an_intake_instance_stored(
    postgres_url: str, tmp_path: Path, instances: Instances,
) -> None:
    intake, full = await two_instances(instances, tmp_path, postgres_url)
    assert full.store is not None

    message_id = await submit(intake, "F2024-5001")

    await reached(full.store, message_id, TransportState.SENT)
    assert len(sent_files(tmp_path / "outbox")) == 1


async def test_the_full_instance_listens_again_after_its_connection_is_killed(
    postgres_url: str, tmp_path: Path, instances: Instances,
) -> None:
    intake, full = await two_instances(instances, tmp_path, postgres_url)
    assert full.store is not None
    found = await listeners(postgres_url)
    assert len(found) == 1, f"expected one connection named {LISTEN_APPLICATION}: {found}"
    [first] = found

    conn = await asyncpg.connect(postgres_url)
    try:
        assert await conn.fetchval("SELECT pg_terminate_backend($1)", first)
    finally:
        await conn.close()
    # Stored while nobody listens: listening again looks for what it missed.
    missed = await submit(intake, "F2024-5002")
    await reached(full.store, missed, TransportState.SENT, within=3.0)
    for _ in range(100):
        again = await listeners(postgres_url)
        if again and first not in again:
            break
        await asyncio.sleep(0.05)
    assert len(again) == 1, again
    assert first not in again, (first, again)

    message_id = await submit(intake, "F2024-5003")
    await reached(full.store, message_id, TransportState.SENT)
    assert len(sent_files(tmp_path / "outbox")) == 2


async def test_a_burst_of_submissions_sends_only_a_few_notifications(
    postgres_url: str, tmp_path: Path, instances: Instances,
) -> None:
    heard: list[str] = []
    conn = await asyncpg.connect(postgres_url)
    await conn.add_listener(QUEUED_CHANNEL, lambda *args: heard.append(args[-1]))
    try:
        intake = await instances.start(folder_instance(tmp_path, "intake", postgres_url),
                                       Role.INTAKE)
        assert intake.outbound is not None
        submissions = 40
        began = time.monotonic()
        stored = await asyncio.gather(*(
            intake.outbound.submit(invoice_json(f"F2024-6{n:03d}"), agency_oin=AGENCY_OIN)
            for n in range(submissions)))
        took = time.monotonic() - began
        assert all(created for _, created in stored)
        await asyncio.sleep(10 * NOTICE_INTERVAL)
    finally:
        await conn.close()
    assert heard, "the intake instance told nobody that messages wait"
    assert set(heard) == {"outbound"}, heard
    # One per interval at most, however many messages it stored.
    assert len(heard) <= took / NOTICE_INTERVAL + 1, (len(heard), took)
    assert len(heard) <= submissions // 4, (len(heard), took)


async def test_inbound_work_an_intake_instance_stored_is_delivered_at_once(
    postgres_url: str, tmp_path: Path, instances: Instances, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A document received, and an operator's retry of its delivery, through the intake."""
    monkeypatch.setenv(SECRET_ENV, SECRET)
    erp = FakeErp()
    await erp.start()
    try:
        erp.script = [500]  # its one attempt fails: the delivery is dead-lettered
        intake, full = await two_instances(instances, tmp_path, postgres_url, erp.url)
        assert full.store is not None

        message_id = await intake.receive(InboundDocument(
            data=document_json(example_order()), channel="folder", transport_id="o-1"))

        await reached(full.store, message_id, TransportState.FAILED)
        assert len(erp.received) == 1
        status, body = await call(intake, "POST", f"/api/v1/messages/{message_id}/retry",
                                  data=b'{"reason": "the ERP is back"}')
        assert status == 200, body
        assert body["transport_state"] == "decoded", body
        await reached(full.store, message_id, TransportState.DELIVERED)
        assert len(erp.received) == 2
    finally:
        await erp.stop()


async def test_a_listener_cut_off_each_time_it_listens_backs_off_and_warns_once(
    postgres_url: str, caplog: pytest.LogCaptureFixture,
) -> None:
    """A server (or proxy) ending every session right after LISTEN: no reconnect storm.

    Each connection did listen before it was lost, and that alone used to
    count as a recovery: the wait went back to its first 0.25 s and the loss
    was logged as a new outage, four warnings a second for as long as it lasted.
    """
    killed: set[int] = set()
    woken: list[Direction] = []
    watcher = await asyncpg.connect(postgres_url)
    async with open_store(postgres_url) as store:
        listening = asyncio.create_task(store.listen_queued(woken.append))
        try:
            with caplog.at_level(logging.WARNING, logger="gateway.store.postgres"):
                began = time.monotonic()
                while time.monotonic() - began < 2.5:
                    for pid in await listeners(postgres_url):
                        if pid not in killed:
                            killed.add(pid)
                            await watcher.fetchval("SELECT pg_terminate_backend($1)", pid)
                    await asyncio.sleep(0.02)
            warnings = [r for r in caplog.records if "listening connection was lost" in r.message]
            # Waits of 0.25, 0.5 and 1 s: four connections in 2.5 s, not ten.
            assert 2 <= len(killed) <= 5, killed
            assert len(warnings) == 1, [r.message for r in warnings]
            # The cutting stopped: the listener comes back after its current wait (2 s).
            for _ in range(100):
                if set(await listeners(postgres_url)) - killed:
                    break
                await asyncio.sleep(0.05)
            else:
                raise AssertionError("the listener did not come back once left alone")
        finally:
            await cancel_and_wait([listening])
            await watcher.close()
