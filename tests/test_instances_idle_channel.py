"""An instance whose channel is down leaves that channel's messages to the instance running it.

Two gateway services share one database (a SQLite file, and PostgreSQL).
Invoices are routed to the folder channel, which failed to start on the
second machine (/health there says so) and runs on the first. The second
does not claim them only to answer "channel 'folder' is not running", which
would spend their attempts and backoffs and dead-letter them while the first
instance was there all along.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import attrs
import pytest
from instances_support import instance_config, running
from pipeline_support import AGENCY_OIN, FAST, document_json

from gateway.model.samples import example_invoice
from gateway.pipeline import OutboundSettings
from gateway.service import GatewayService
from gateway.store import Store, TransportState

INVOICES = 12
# An operator's choice for a channel that either works or needs a person: few retries.
ATTEMPTS = 2


def config(folder: Path, database: str, outbox: Path, inbox: Path) -> Path:
    return instance_config(folder, database, "folder",
                           f"path = {str(outbox)!r}\ninbox = {str(inbox)!r}")


@pytest.fixture
async def pair(store_url: str, tmp_path: Path,
               ) -> AsyncIterator[tuple[GatewayService, GatewayService]]:
    outbox = tmp_path / "shared-outbox"
    (tmp_path / "not-a-folder").write_text("a file where the second machine expects a folder")
    inboxes = {"healthy": tmp_path / "inbox", "broken": tmp_path / "not-a-folder" / "inbox"}
    async with running(GatewayService(config(tmp_path / name, store_url, outbox, inbox),
                                      dispatch=FAST,
                                      outbound=OutboundSettings(max_attempts=ATTEMPTS))
                       for name, inbox in inboxes.items()) as (healthy, broken):
        assert "folder" in healthy.channels
        assert "folder" not in broken.channels, "the second instance's channel must be down"
        assert "folder" in broken.channel_problems
        yield healthy, broken


async def test_messages_wait_for_the_instance_that_runs_their_channel(
    pair: tuple[GatewayService, GatewayService],
) -> None:
    _, broken = pair
    assert broken.outbound is not None
    assert broken.store is not None
    store: Store = broken.store
    ids = []
    for n in range(INVOICES):
        invoice = attrs.evolve(example_invoice(), number=f"F2024-10{n:02d}")
        record, created = await broken.outbound.submit(document_json(invoice),
                                                       agency_oin=AGENCY_OIN)
        assert created
        ids.append(record.id)
    settled = {TransportState.SENT, TransportState.FAILED}
    for _ in range(500):
        records = [await store.get(i) for i in ids]
        if all(r is not None and r.transport_state in settled for r in records):
            break
        await asyncio.sleep(0.02)
    failed = {r.id: r.last_error for r in records
              if r is not None and r.transport_state is not TransportState.SENT}
    assert failed == {}, f"{len(failed)} of {INVOICES} not sent: {failed}"
    spent = {i: [a.detail for a in await store.attempts(i) if a.outcome.value != "accepted"]
             for i in ids}
    spent = {i: details for i, details in spent.items() if details}
    assert spent == {}, f"{len(spent)} of {INVOICES} spent attempts: {spent}"
