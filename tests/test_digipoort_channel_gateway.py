"""The running gateway sends over the digipoort channel to the Digipoort simulator.

Everything is real: the GatewayService with its store, dispatcher, status
desk and validation; the channel; the simulator with its own PKI, two-way TLS
on loopback and WS-Security both ways; the payload validated by the
simulator against its berichtsoort's format.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
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
    pki,
    standards,
)
from pipeline_support import FAST, document_json

from gateway.pluginmanager import make_plugin_manager
from gateway.service import GatewayService
from gateway.store import BusinessState, MessageRecord, Store, TransportState
from plugins.digipoort.channel import aanleverkenmerk_for
from plugins.digipoort.simulator import DigipoortSimulator, Fault, FaultKind, SimulatorSettings
from plugins.digipoort.wus.codes import HAPPY_FLOW
from plugins.digipoort.wus.pki import Pki
from plugins.ubl_ohnl.samples import sample_invoice

__all__ = ["pki", "standards"]  # the shared fixtures, used by the tests here


@pytest.fixture
async def simulator(pki: Pki) -> AsyncIterator[DigipoortSimulator]:
    async with DigipoortSimulator(SimulatorSettings(pki_dir=pki.folder,
                                                    step_delay=0.02)) as running:
        yield running


def channel_settings(pki: Pki, simulator: DigipoortSimulator, **extra: Any) -> dict[str, Any]:
    settings = client_settings(pki, aanlever_url=simulator.aanlever_url,
                               status_url=simulator.status_url, status_poll_interval=0.05,
                               request_timeout=5, **extra)
    del settings["belanghebbende_nummer"]  # the gateway's [supplier] says who we are
    return settings


@pytest.fixture
async def gateway_for(tmp_path: Path) -> AsyncIterator[Callable[[dict[str, Any]], Any]]:
    async with gateways(tmp_path) as start:
        yield start


async def send_invoice(service: GatewayService) -> MessageRecord:
    assert service.outbound is not None
    record, created = await service.outbound.submit(document_json(sample_invoice()),
                                                    agency_oin=AGENCY_OIN)
    assert created
    return record


async def until(store: Store | None, message_id: str, done: Callable[[MessageRecord], bool],
                within: float = 20.0) -> MessageRecord:
    assert store is not None
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        record = await store.get(message_id)
        assert record is not None
        if done(record):
            return record
        if loop.time() > deadline:
            raise AssertionError(f"message stayed {record.transport_state}/"
                                 f"{record.business_state}: {record.last_error}")
        await asyncio.sleep(0.05)


async def test_an_invoice_walks_the_status_sequence_to_acknowledged(
        pki: Pki, simulator: DigipoortSimulator, gateway_for: Any) -> None:
    service = await gateway_for(channel_settings(pki, simulator))
    record = await send_invoice(service)
    store = service.store
    done = await until(store, record.id,
                       lambda r: r.business_state == BusinessState.ACKNOWLEDGED.value)
    assert done.transport_state is TransportState.SENT
    kenmerk = done.transport_id
    assert kenmerk is not None
    process = simulator.process(kenmerk)
    assert process.request.aanleverkenmerk == aanleverkenmerk_for(record.id)
    assert process.request.berichtsoort == "FACTUUR-UBL"
    assert process.request.identiteit_belanghebbende.nummer == SUPPLIER_KVK
    assert process.request.identiteit_ontvanger is not None
    assert process.request.identiteit_ontvanger.nummer == AGENCY_OIN
    events = await store.events(record.id)
    codes = [e.detail["code"] for e in events if e.kind == "status"]
    assert tuple(codes) == HAPPY_FLOW
    assert [e.business_state for e in events if e.kind == "status"][-2:] == [
        BusinessState.DELIVERED_TO_AGENCY.value, BusinessState.ACKNOWLEDGED.value]
    # Acknowledged is final: the poller forgets the process rather than keep every one
    # (right after the status is stored, which the wait above may just have seen).
    asked = service.channels["digipoort"]._asked
    for _ in range(100):
        if kenmerk not in asked:
            break
        await asyncio.sleep(0.01)
    assert kenmerk not in asked


async def test_an_aanlever_fault_ends_in_the_dead_letter_with_its_code_and_text(
        pki: Pki, simulator: DigipoortSimulator, gateway_for: Any) -> None:
    service = await gateway_for(channel_settings(pki, simulator,
                                                 aanleverkenmerk_scenario="AanleverFault"))
    record = await send_invoice(service)
    failed = await until(service.store, record.id,
                         lambda r: r.transport_state is TransportState.FAILED)
    assert failed.last_error is not None
    assert "ALS100" in failed.last_error
    assert "koppelvlakspecificaties" in failed.last_error
    assert len(await service.store.attempts(record.id)) == 1  # final: not retried
    assert simulator.processes() == []


async def test_an_overloaded_aanlevering_is_retried_with_the_same_aanleverkenmerk(
        pki: Pki, simulator: DigipoortSimulator, gateway_for: Any) -> None:
    simulator.inject(Fault(FaultKind.HTTP_503, count=2, service="aanlever"))
    service = await gateway_for(channel_settings(pki, simulator))
    record = await send_invoice(service)
    sent = await until(service.store, record.id,
                       lambda r: r.transport_state is TransportState.SENT)
    attempts = await service.store.attempts(record.id)
    assert [a.outcome.value for a in attempts] == ["retryable", "retryable", "accepted"]
    assert "503" in attempts[0].detail
    [process] = simulator.processes()
    assert process.kenmerk == sent.transport_id
    assert process.request.aanleverkenmerk == aanleverkenmerk_for(record.id)


async def test_a_failure_status_moves_the_message_to_the_dead_letter(
        pki: Pki, simulator: DigipoortSimulator, gateway_for: Any) -> None:
    service = await gateway_for(channel_settings(pki, simulator,
                                                 aanleverkenmerk_scenario="Afleverfout"))
    record = await send_invoice(service)
    failed = await until(service.store, record.id,
                         lambda r: r.transport_state is TransportState.FAILED)
    assert failed.last_error is not None
    assert "410" in failed.last_error
    assert "AFS400" in failed.last_error


async def test_an_overloaded_status_service_is_asked_again_later(
        pki: Pki, simulator: DigipoortSimulator, gateway_for: Any) -> None:
    service = await gateway_for(channel_settings(
        pki, simulator, aanleverkenmerk_scenario="OverbelastStatusInformatie"))
    record = await send_invoice(service)
    await until(service.store, record.id,
                lambda r: r.business_state == BusinessState.ACKNOWLEDGED.value)
    process = simulator.process((await service.store.get(record.id)).transport_id)
    assert process.status_calls > 1


async def test_statuses_continue_after_a_restart_without_doubles(
        pki: Pki, tmp_path: Path) -> None:
    async with DigipoortSimulator(SimulatorSettings(pki_dir=pki.folder,
                                                    step_delay=0.3)) as slow:
        path = gateway_config(tmp_path, channel_settings(pki, slow))
        first = GatewayService(path, make_plugin_manager(), dispatch=FAST)
        await first.start()
        try:
            record = await send_invoice(first)
            await until(first.store, record.id, lambda r: r.transport_id is not None
                        and r.transport_state is TransportState.SENT)
            await asyncio.sleep(0.8)  # a few statuses in, far from the end
        finally:
            await first.stop()
        second = GatewayService(path, make_plugin_manager(), dispatch=FAST)
        await second.start()
        try:
            await until(second.store, record.id,
                        lambda r: r.business_state == BusinessState.ACKNOWLEDGED.value)
            assert second.store is not None
            events = await second.store.events(record.id)
        finally:
            await second.stop()
    assert tuple(e.detail["code"] for e in events if e.kind == "status") == HAPPY_FLOW


@pytest.mark.parametrize("status_batch", [200, 1])
async def test_a_process_whose_status_faults_does_not_hold_up_the_others(
        pki: Pki, simulator: DigipoortSimulator, tmp_path: Path, status_batch: int) -> None:
    # The older invoice's process answers every status question with STS100. Asking
    # about one process a round, the poller must still come round to the newer one.
    path = gateway_config(tmp_path, channel_settings(
        pki, simulator, aanleverkenmerk_scenario="StatusInformatieFault"))
    first = GatewayService(path, make_plugin_manager(), dispatch=FAST)
    await first.start()
    try:
        stuck = await send_invoice(first)
        await until(first.store, stuck.id, lambda r: r.transport_state is TransportState.SENT)
    finally:
        await first.stop()
    path = gateway_config(tmp_path, channel_settings(pki, simulator, status_batch=status_batch))
    second = GatewayService(path, make_plugin_manager(), dispatch=FAST)
    await second.start()
    try:
        assert second.outbound is not None
        newer, _ = await second.outbound.submit(
            document_json(attrs.evolve(sample_invoice(), number="F2024-0002")),
            agency_oin=AGENCY_OIN)
        await until(second.store, newer.id,
                    lambda r: r.business_state == BusinessState.ACKNOWLEDGED.value)
        assert second.store is not None
        waiting = await second.store.get(stuck.id)
        assert waiting is not None
        assert waiting.transport_state is TransportState.SENT
        assert waiting.business_state == BusinessState.NONE.value
    finally:
        await second.stop()
