"""Digipoort: asking about a process's statuses ends (issue #6: nothing retries for ever).

The running gateway against the Digipoort simulator. A message whose process
has not reached the agency, and that got no new status within
``status_deadline`` of its send or its latest status, fails with ``no-status``
(the dead letter, where an operator can send it again as a new aanlevering),
whether its process is lost, its status requests fault (STS100) or the
StatusinformatieService does not answer. A message delivered to the agency
(400, waiting for 500) is not failed: it is no longer asked about, and one
``polling-stopped`` event says so. Failing status requests are logged when
they start failing and when they work again, not every round.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest
from digipoort_channel_support import (
    AGENCY_OIN,
    SUPPLIER_KVK,
    client_settings,
    gateway_config,
    gateways,
    invoice_19,
    pki,
    standards,
)
from pipeline_support import FAST, document_json
from test_digipoort_channel_gateway import channel_settings, send_invoice, until

from gateway.channels import Accepted, ChannelContext, OutboundMessage
from gateway.kinds import DocumentKind
from gateway.pipeline.operator import retry
from gateway.pluginmanager import make_plugin_manager
from gateway.service import GatewayService
from gateway.store import BusinessState, MessageRecord, TransportState
from plugins.digipoort.channel import DigipoortChannel
from plugins.digipoort.settings import SettingsError, parse_settings
from plugins.digipoort.simulator import DigipoortSimulator, Fault, FaultKind, SimulatorSettings
from plugins.digipoort.simulator.processes import StatusEvent
from plugins.digipoort.wus.codes import HAPPY_FLOW, meaning
from plugins.digipoort.wus.pki import Pki
from plugins.ubl_ohnl.samples import sample_invoice

__all__ = ["pki", "standards"]  # the shared fixtures, used by the tests here

CHANNEL_LOG = "plugins.digipoort.channel"
DELIVERED = BusinessState.DELIVERED_TO_AGENCY.value
ACKNOWLEDGED = BusinessState.ACKNOWLEDGED.value


@pytest.fixture
async def simulator(pki: Pki) -> AsyncIterator[DigipoortSimulator]:
    async with DigipoortSimulator(SimulatorSettings(pki_dir=pki.folder,
                                                    step_delay=0.02)) as running:
        yield running


@pytest.fixture
async def gateway_for(tmp_path: Path) -> AsyncIterator[Callable[[dict[str, Any]], Any]]:
    async with gateways(tmp_path) as start:
        yield start


def failed(record: MessageRecord) -> bool:
    return record.transport_state is TransportState.FAILED


def is_sent(record: MessageRecord) -> bool:
    return record.transport_state is TransportState.SENT and record.transport_id is not None


async def status_events(service: GatewayService, message_id: str) -> list[dict[str, Any]]:
    assert service.store is not None
    return [dict(e.detail) for e in await service.store.events(message_id)
            if e.kind == "status"]


async def has_status(service: GatewayService, message_id: str, code: str,
                     within: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while code not in [e["code"] for e in await status_events(service, message_id)]:
        if loop.time() > deadline:
            raise AssertionError(f"no status {code} on {message_id}")
        await asyncio.sleep(0.05)


def age(tmp_path: Path, message_id: str, by: timedelta) -> None:
    """Move the message's latest change ``by`` into the past, in the gateway's own database."""
    aged = (datetime.now(UTC) - by).isoformat(timespec="microseconds").replace("+00:00", "Z")
    with sqlite3.connect(tmp_path / "gateway.db", timeout=10) as db:
        db.execute("UPDATE messages SET updated_at = ? WHERE id = ?", (aged, message_id))


async def eventually(condition: Callable[[], bool], within: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not condition():
        if loop.time() > deadline:
            raise AssertionError("the condition did not come true")
        await asyncio.sleep(0.05)


async def rounds(count: int = 10) -> None:
    """Let the status poller (every 0.05 s in these tests) go round ``count`` times."""
    await asyncio.sleep(0.05 * count)


async def current(service: GatewayService, message_id: str) -> MessageRecord:
    assert service.store is not None
    record = await service.store.get(message_id)
    assert record is not None
    return record


async def send_numbered(service: GatewayService, number: str) -> MessageRecord:
    assert service.outbound is not None
    record, created = await service.outbound.submit(
        document_json(attrs.evolve(sample_invoice(), number=number)), agency_oin=AGENCY_OIN)
    assert created
    return record


def kenmerk_of(record: MessageRecord) -> str:
    assert record.transport_id is not None
    return record.transport_id


# --- not reached the agency: no-status ----------------------------------------------------


async def test_a_process_whose_status_requests_fault_fails_after_the_deadline(
        pki: Pki, simulator: DigipoortSimulator, gateway_for: Any, tmp_path: Path) -> None:
    # Every status request about this kenmerk gets STS100. Before: skipped that round,
    # every round, for ever.
    service = await gateway_for(channel_settings(
        pki, simulator, aanleverkenmerk_scenario="StatusInformatieFault"))
    record = await send_invoice(service)
    sent = await until(service.store, record.id, is_sent)
    process = simulator.process(kenmerk_of(sent))
    # Within the deadline (four days by default) a fault is asked about again.
    await eventually(lambda: process.status_calls > 2)
    assert (await current(service, record.id)).transport_state is TransportState.SENT

    age(tmp_path, record.id, timedelta(days=4, minutes=1))
    dead = await until(service.store, record.id, failed, within=10)
    assert dead.last_error is not None
    assert "no-status" in dead.last_error
    assert "within 4 days" in dead.last_error
    assert "STS100" in dead.last_error, "the last answer is named"
    [event] = await status_events(service, record.id)
    assert event["code"] == "no-status"
    assert event["final"] is True
    asked = process.status_calls
    await rounds(20)
    assert process.status_calls == asked, "not asked again"


async def test_a_lost_process_fails_with_no_status_naming_its_last_status(
        pki: Pki, simulator: DigipoortSimulator, gateway_for: Any, tmp_path: Path) -> None:
    simulator.settings.stall_after = "110"  # Digipoort never says another word about it
    service = await gateway_for(channel_settings(pki, simulator))
    record = await send_invoice(service)
    await has_status(service, record.id, "110")
    process = simulator.process(kenmerk_of(await current(service, record.id)))
    await eventually(lambda: process.status_calls > 2)
    assert (await current(service, record.id)).transport_state is TransportState.SENT

    age(tmp_path, record.id, timedelta(days=4, minutes=1))
    dead = await until(service.store, record.id, failed, within=10)
    assert dead.business_state == BusinessState.NONE.value
    assert dead.last_error is not None
    assert "no-status" in dead.last_error
    assert "110" in dead.last_error
    assert "Aanleverproces wordt aangeboden" in dead.last_error
    codes = [e["code"] for e in await status_events(service, record.id)]
    assert codes == ["105", "100", "110", "no-status"]
    asked = process.status_calls
    await rounds(20)
    assert process.status_calls == asked, "not asked again"


async def test_a_status_service_that_does_not_answer_fails_what_is_past_the_deadline(
        pki: Pki, simulator: DigipoortSimulator, gateway_for: Any, tmp_path: Path) -> None:
    # A deadline of a second: the questions must really go unanswered that long (a
    # message's age alone, e.g. after a long stop, ends nothing).
    service = await gateway_for(channel_settings(pki, simulator, status_batch=1,
                                                 status_deadline=1))
    simulator.settings.stall_after = "110"
    old = await send_invoice(service)
    await has_status(service, old.id, "110")
    # From now on the StatusinformatieService answers nothing but HTTP 503.
    simulator.settings.stall_after = None
    simulator.inject(Fault(FaultKind.HTTP_503, count=1_000_000, service="status"))
    assert service.outbound is not None
    newer, _ = await service.outbound.submit(
        document_json(attrs.evolve(sample_invoice(), number="F2024-0002")),
        agency_oin=AGENCY_OIN)
    await until(service.store, newer.id, is_sent)
    # One question a round (status_batch = 1), and each round ends at the first
    # unanswered one; both messages still come to their deadline.
    for message in (old, newer):
        dead = await until(service.store, message.id, failed, within=15)
        assert dead.last_error is not None
        assert "no-status" in dead.last_error
        assert "503" in dead.last_error, dead.last_error


# --- delivered to the agency: asking stops, the state stays ---------------------------------


async def test_a_delivered_process_is_no_longer_asked_about_after_the_deadline(
        pki: Pki, tmp_path: Path) -> None:
    async with DigipoortSimulator(SimulatorSettings(pki_dir=pki.folder, step_delay=0.02,
                                                    stall_after="400")) as sim:
        path = gateway_config(tmp_path, channel_settings(pki, sim))
        first = GatewayService(path, make_plugin_manager(), dispatch=FAST)
        await first.start()
        try:
            record = await send_invoice(first)
            await until(first.store, record.id, lambda r: r.business_state == DELIVERED)
            process = sim.process(kenmerk_of(await current(first, record.id)))
            await eventually(lambda: process.status_calls > 2)  # within the deadline

            age(tmp_path, record.id, timedelta(days=4, minutes=1))
            await has_status(first, record.id, "polling-stopped")
            asked = process.status_calls
            await rounds(20)
            assert process.status_calls == asked, "not asked again"
            kept = await current(first, record.id)
        finally:
            await first.stop()
        assert kept.transport_state is TransportState.SENT
        assert kept.business_state == DELIVERED
        assert kept.last_error is None

        second = GatewayService(path, make_plugin_manager(), dispatch=FAST)
        await second.start()
        try:
            await rounds(20)
            assert process.status_calls == asked, "not asked again after a restart"
            events = await status_events(second, record.id)
        finally:
            await second.stop()
    stops = [e for e in events if e["code"] == "polling-stopped"]
    assert len(stops) == 1, events
    assert "within 4 days" in stops[0]["text"]
    assert "400" in stops[0]["text"], "the last status is named"
    assert stops[0]["final"] is True
    assert [e["code"] for e in events][-2:] == ["400", "polling-stopped"]


async def test_stopped_messages_take_no_place_in_a_round_so_a_live_one_is_reached_at_once(
        pki: Pki, tmp_path: Path) -> None:
    # Months of invoices the agency never answered on: before, each stayed on the
    # waiting list and took one of status_batch's places every round (skipped without a
    # request), so a round with status_batch = 1 reached nothing that could still move.
    async with DigipoortSimulator(SimulatorSettings(pki_dir=pki.folder, step_delay=0.02,
                                                    stall_after="400")) as sim:
        path = gateway_config(tmp_path, channel_settings(pki, sim, status_batch=1))
        first = GatewayService(path, make_plugin_manager(), dispatch=FAST)
        await first.start()
        try:
            records = [await send_numbered(first, f"F2024-01{n}") for n in range(4)]
            for record in records:
                await until(first.store, record.id, lambda r: r.business_state == DELIVERED)
            *stopped, live = records  # the live one is the newest: last in a round
            for record in stopped:
                age(tmp_path, record.id, timedelta(days=4, minutes=1))
            for record in stopped:
                await has_status(first, record.id, "polling-stopped")
            kenmerk = kenmerk_of(await current(first, live.id))
            asked = [sim.process(kenmerk_of(await current(first, r.id))).status_calls
                     for r in stopped]
        finally:
            await first.stop()
        # The agency answers the live one late (Digipoort's 500), and a gateway that asks
        # one message a round, once an hour, starts: its first round must reach it.
        sim.process(kenmerk).add(StatusEvent("500", datetime.now(UTC), meaning("500")))
        path = gateway_config(tmp_path, {**channel_settings(pki, sim, status_batch=1),
                                         "status_poll_interval": 3600})
        second = GatewayService(path, make_plugin_manager(), dispatch=FAST)
        await second.start()
        try:
            done = await until(second.store, live.id,
                               lambda r: r.business_state == ACKNOWLEDGED, within=5)
            assert [sim.process(kenmerk_of(await current(second, r.id))).status_calls
                    for r in stopped] == asked, "the stopped are not asked about"
        finally:
            await second.stop()
    assert done.transport_state is TransportState.SENT


# --- a resend is a new aanlevering -----------------------------------------------------------


async def test_the_operator_sends_a_message_with_no_status_again_as_a_new_aanlevering(
        pki: Pki, simulator: DigipoortSimulator, gateway_for: Any) -> None:
    simulator.settings.stall_after = "110"
    service = await gateway_for(channel_settings(pki, simulator, status_deadline=1))
    record = await send_invoice(service)
    dead = await until(service.store, record.id, failed, within=15)
    assert dead.last_error is not None
    assert "no-status" in dead.last_error
    lost = kenmerk_of(dead)

    simulator.settings.stall_after = None
    await retry(service.store, record.id, actor="operator", reason="Digipoort lost it")
    done = await until(service.store, record.id, lambda r: r.business_state == ACKNOWLEDGED)

    assert done.transport_id != lost, "a new aanlevering, under a new kenmerk"
    assert len(simulator.processes()) == 2
    assert simulator.process(lost).codes == ["105", "100", "110"]
    assert simulator.process(kenmerk_of(done)).codes == list(HAPPY_FLOW)
    codes = [e["code"] for e in await status_events(service, record.id)]
    assert codes == ["105", "100", "110", "no-status", *HAPPY_FLOW]


# --- logging: once when it starts, once when it ends ---------------------------------------


async def test_a_faulting_process_is_logged_once_not_every_round(
        pki: Pki, simulator: DigipoortSimulator, gateway_for: Any,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=CHANNEL_LOG)
    service = await gateway_for(channel_settings(
        pki, simulator, aanleverkenmerk_scenario="StatusInformatieFault"))
    record = await send_invoice(service)
    sent = await until(service.store, record.id, is_sent)
    process = simulator.process(kenmerk_of(sent))
    await eventually(lambda: process.status_calls > 5)
    warnings = [r for r in caplog.records
                if r.name == CHANNEL_LOG and r.levelno >= logging.WARNING]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    assert "STS100" in warnings[0].getMessage()


async def test_an_unavailable_status_service_is_logged_when_it_fails_and_when_it_is_back(
        pki: Pki, simulator: DigipoortSimulator, gateway_for: Any,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=CHANNEL_LOG)
    service = await gateway_for(channel_settings(pki, simulator))
    simulator.inject(Fault(FaultKind.HTTP_503, count=6, service="status"))
    record = await send_invoice(service)
    await until(service.store, record.id, lambda r: r.business_state == ACKNOWLEDGED)
    assert simulator.pending_faults() == []
    ours = [r for r in caplog.records if r.name == CHANNEL_LOG]
    warnings = [r.getMessage() for r in ours if r.levelno >= logging.WARNING]
    assert len(warnings) == 1, warnings
    assert "503" in warnings[0]
    back = [r.getMessage() for r in ours if r.levelno == logging.INFO and "again" in
            r.getMessage()]
    assert len(back) == 1, [r.getMessage() for r in ours]


# --- settings and the simulator ----------------------------------------------------------


def test_the_status_deadline_is_four_days_by_default_beyond_digipoorts_72_hours(
        pki: Pki) -> None:
    config = parse_settings("digipoort", client_settings(pki))
    assert config.status_deadline == 4 * 24 * 3600.0
    # 420 means Digipoort retries delivery for 72 hours before its last word (AFS600).
    assert config.status_deadline > 72 * 3600


@pytest.mark.parametrize("value", [0, -5, "4d", True])
def test_a_status_deadline_must_be_a_positive_number_of_seconds(pki: Pki, value: object) -> None:
    with pytest.raises(SettingsError, match="status_deadline must be a number"):
        parse_settings("digipoort", client_settings(pki, status_deadline=value))


async def test_the_simulator_stalls_processes_after_a_status_on_request(pki: Pki) -> None:
    async with DigipoortSimulator(SimulatorSettings(pki_dir=pki.folder,
                                                    stall_after="400")) as sim:
        channel = DigipoortChannel("digipoort", client_settings(
            pki, aanlever_url=sim.aanlever_url, status_url=sim.status_url,
            belanghebbende_nummer=SUPPLIER_KVK))
        await channel.start(ChannelContext("digipoort"))
        try:
            kenmerken = []
            for number, stall in (("1", "400"), ("2", None)):
                sim.settings.stall_after = stall
                outcome = await channel.send(OutboundMessage(
                    message_id=f"01KB5Z3E8W9G6Q2M4T7X1C0V5{number}", agency_oin=AGENCY_OIN,
                    kind=DocumentKind.INVOICE, format_key="ubl-ohnl:invoice:1.9",
                    payload=invoice_19(), filename=f"F{number}.xml"))
                assert isinstance(outcome, Accepted)
                kenmerken.append(outcome.transport_id)
            stalled, walked = kenmerken
            await sim.wait_finished(walked)
            await asyncio.sleep(0.2)
            assert sim.process(stalled).codes == list(HAPPY_FLOW[:-1])
            assert not sim.process(stalled).finished
            statuses = await channel.statuses(stalled, new_only=False)
            assert [s.statuscode for s in statuses] == list(HAPPY_FLOW[:-1])
        finally:
            await channel.stop()
