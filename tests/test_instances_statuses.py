"""Two instances polling the same messages record each status once.

One instance at a time has the pollers' turn (tests/test_instances_status_turns.py),
but rounds may still overlap: a turn changing hands mid-round (a holder whose
renewals came too late). Here both rounds run at once and read the same answer: a Peppol
receipt from one shared receipts folder, a Digipoort process's history from the
simulator. Each status is recorded once, and a failure fails the message once
without breaking the other instance's round.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from digipoort_channel_support import AGENCY_OIN as MINISTRY
from digipoort_channel_support import SUPPLIER_KVK as JANSEN
from digipoort_channel_support import client_settings, toml_value
from instances_support import instance_config, running
from pipeline_support import AGENCY_OIN, FAST, document_json
from test_portal import free_port

from gateway.model.json import to_json
from gateway.paths import STANDARDS_DIR_ENV
from gateway.service import GatewayService
from gateway.store import BusinessState, MessageRecord, Store, TransportState
from plugins.digipoort.channel import DigipoortChannel
from plugins.digipoort.simulator import DigipoortSimulator, SimulatorSettings
from plugins.digipoort.wus.codes import HAPPY_FLOW
from plugins.digipoort.wus.pki import make_pki
from plugins.peppol.channel import PeppolChannel
from plugins.ubl_invoice.samples import dutch_invoice
from plugins.ubl_ohnl.samples import sample_invoice

MESSAGES = 8


def config(folder: Path, database: str, shared: Path, standards: Path) -> Path:
    return instance_config(
        folder, database, "peppol",
        f'type = "peppol"\noutbox_dir = {str(shared / "outbox")!r}\n'
        f'receipts_dir = {str(shared / "receipts")!r}\npoll_interval = 3600',
        invoice_format="peppol-bis:invoice:3.0",
        gateway_extra=f"standards_dir = {str(standards)!r}")


@pytest.fixture
async def pair(store_url: str, tmp_path: Path, installed_standards: Path,
               ) -> AsyncIterator[tuple[GatewayService, GatewayService]]:
    shared = tmp_path / "access-point"
    for sub in ("outbox", "receipts"):
        (shared / sub).mkdir(parents=True)
    async with running(GatewayService(config(tmp_path / name, store_url, shared,
                                             installed_standards), dispatch=FAST)
                       for name in ("first", "second")) as (first, second):
        yield first, second


def channel(service: GatewayService) -> PeppolChannel:
    found = service.channels["peppol"]
    assert isinstance(found, PeppolChannel)
    return found


def store(service: GatewayService) -> Store:
    assert service.store is not None
    return service.store


async def sent_invoices(service: GatewayService) -> list[MessageRecord]:
    assert service.outbound is not None
    records = []
    for n in range(MESSAGES):
        invoice = attrs.evolve(dutch_invoice(), number=f"F2024-08{n:02d}")
        record, created = await service.outbound.submit(
            json.dumps(to_json(invoice)).encode(), agency_oin=AGENCY_OIN)
        assert created
        records.append(record)
    sent = []
    for record in records:
        for _ in range(1000):
            found = await store(service).get(record.id)
            assert found is not None
            if found.transport_state is TransportState.SENT:
                sent.append(found)
                break
            await asyncio.sleep(0.01)
        else:
            raise AssertionError(f"message {record.id} was not sent: {found}")
    return sent


def write_receipts(folder: Path, records: list[MessageRecord], status: str) -> None:
    for record in records:
        assert record.transport_id is not None
        body: dict[str, Any] = {"id": record.transport_id, "status": status}
        if status == "delivered":
            body["receipt"] = {"as4_message_id": f"as4-{record.id}",
                               "received_at": "2026-03-01T09:00:00+00:00"}
        else:
            body["error"] = {"code": "AS4-TIMEOUT", "text": "the receiving AP did not answer"}
        (folder / f"{record.transport_id}.json").write_text(json.dumps(body), "utf-8")


async def statuses(service: GatewayService, message_id: str) -> list[str]:
    return [e.detail["code"] for e in await store(service).events(message_id)
            if e.kind == "status"]


async def test_a_delivered_receipt_read_by_both_instances_is_recorded_once(
    pair: tuple[GatewayService, GatewayService], tmp_path: Path,
) -> None:
    first, second = pair
    records = await sent_invoices(first)
    write_receipts(tmp_path / "access-point" / "receipts", records, "delivered")
    # Both instances' pollers come round at the same moment, as they do every interval.
    rounds = await asyncio.gather(channel(first).poll_receipts(),
                                  channel(second).poll_receipts(), return_exceptions=True)
    assert not [r for r in rounds if isinstance(r, BaseException)], rounds
    timelines = {r.id: await statuses(first, r.id) for r in records}
    twice = {m: codes for m, codes in timelines.items() if codes != ["delivered"]}
    assert twice == {}, f"{len(twice)} of {MESSAGES} messages: {twice}"


async def test_a_failed_receipt_read_by_both_instances_fails_the_message_once(
    pair: tuple[GatewayService, GatewayService], tmp_path: Path,
) -> None:
    first, second = pair
    records = await sent_invoices(first)
    write_receipts(tmp_path / "access-point" / "receipts", records, "failed")
    rounds = await asyncio.gather(channel(first).poll_receipts(),
                                  channel(second).poll_receipts(), return_exceptions=True)
    # Neither instance's round breaks off on a message the other one failed meanwhile.
    assert not [r for r in rounds if isinstance(r, BaseException)], rounds
    for record in records:
        after = await store(second).get(record.id)
        assert after is not None
        assert after.transport_state is TransportState.FAILED
        assert await statuses(second, record.id) == ["AS4-TIMEOUT"]


# -- Digipoort: both instances ask the StatusinformatieService about every process ------

DIGIPOORT_INVOICES = 4


def digipoort_config(folder: Path, database: str, channel: dict[str, Any]) -> Path:
    folder.mkdir()
    table = "\n".join(f"{key} = {toml_value(value)}" for key, value in channel.items())
    path = folder / "gateway.toml"
    path.write_text(f"""
[gateway]
listen = "127.0.0.1:{free_port()}"
data_dir = {toml_value(str(folder / "data"))}
token = "test-token"
database = {toml_value(database)}

[supplier]
name = "Kantoorartikelen Jansen BV"
kvk = "{JANSEN}"
vestigingsnummer = "000018727409"

[channels.digipoort]
{table}

[agencies."{MINISTRY}"]
name = "Ministerie van Voorbeeldzaken"
default_channel = "digipoort"

[agencies."{MINISTRY}".documents.invoice]
format = "ubl-ohnl:invoice:1.9"
""", "utf-8")
    return path


async def test_digipoort_statuses_polled_by_both_instances_are_recorded_once(
    store_url: str, tmp_path: Path, installed_standards: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(STANDARDS_DIR_ENV, str(installed_standards))
    pki = make_pki(tmp_path / "pki", kvk_numbers=(JANSEN,))
    started: list[GatewayService] = []
    async with DigipoortSimulator(SimulatorSettings(pki_dir=pki.folder,
                                                    step_delay=0.02)) as simulator:
        # The pollers' own rounds come at start only: the test calls them, both at once.
        settings = client_settings(pki, aanlever_url=simulator.aanlever_url,
                                   status_url=simulator.status_url, status_poll_interval=3600,
                                   request_timeout=5)
        del settings["belanghebbende_nummer"]
        try:
            for name in ("first", "second"):
                service = GatewayService(digipoort_config(tmp_path / name, store_url, settings),
                                         dispatch=FAST)
                await service.start()
                started.append(service)
            first, second = started
            assert first.outbound is not None
            records = []
            for n in range(DIGIPOORT_INVOICES):
                invoice = attrs.evolve(sample_invoice(), number=f"F2024-09{n:02d}")
                record, created = await first.outbound.submit(document_json(invoice),
                                                              agency_oin=MINISTRY)
                assert created
                records.append(record)
            for record in records:
                for _ in range(600):
                    found = await store(second).get(record.id)
                    assert found is not None
                    if found.transport_state is TransportState.SENT:
                        break
                    await asyncio.sleep(0.02)
                else:
                    raise AssertionError(f"not sent: {found}")
            await asyncio.sleep(1.0)  # Digipoort has walked every process to its end
            # Both instances' first round after a start (a deploy restarts both) asks
            # each process's whole history at the same moment.
            pollers = [s.channels["digipoort"] for s in started]
            assert all(isinstance(p, DigipoortChannel) for p in pollers)
            rounds = await asyncio.gather(*(p.poll_statuses() for p in pollers
                                            if isinstance(p, DigipoortChannel)),
                                          return_exceptions=True)
            assert not [r for r in rounds if isinstance(r, BaseException)], rounds
            timelines = {r.id: await statuses(first, r.id) for r in records}
            after = [await store(first).get(r.id) for r in records]
        finally:
            for service in started:
                await service.stop()
    doubled = {m: codes for m, codes in timelines.items() if tuple(codes) != HAPPY_FLOW}
    assert doubled == {}, f"{len(doubled)} of {DIGIPOORT_INVOICES} messages: {doubled}"
    assert {r.business_state for r in after if r is not None} == {
        BusinessState.ACKNOWLEDGED.value}
