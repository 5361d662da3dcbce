"""The Digipoort simulator's control API delivers to the running gateway's AfleverService.

`make run` starts the simulator before the gateway: a delivery asked for
while the gateway is not up yet is tried again until it is, and one the
AfleverService refuses is reported, never silently lost.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from digipoort_channel_support import (
    AGENCY_OIN,
    aflever_settings,
    gateway_config,
    invoice_19,
    order_19,
    pki,
    standards,
)
from pipeline_support import FAST

from gateway.kinds import Direction
from gateway.pluginmanager import make_plugin_manager
from gateway.service import GatewayService
from gateway.store import MessageRecord, TransportState
from plugins.digipoort.channel import DigipoortChannel
from plugins.digipoort.simulator import DigipoortSimulator, SimulatorSettings
from plugins.digipoort.wus.pki import Pki
from plugins.setu_ohnl.samples import AGENCY_OIN as JENV_OIN
from plugins.setu_ohnl.samples import ORDER_ID

__all__ = ["pki", "standards"]  # the shared fixtures, used by the tests here


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def started(pki: Pki, tmp_path: Path, **extra: Any) -> GatewayService:
    settings = {**aflever_settings(pki), **extra}
    del settings["belanghebbende_nummer"]  # the gateway's [supplier] says who we are
    service = GatewayService(gateway_config(tmp_path, settings), make_plugin_manager(),
                             dispatch=FAST)
    await service.start()
    assert "digipoort" in service.channels, service.channel_problems
    return service


@pytest.fixture
async def gateway(pki: Pki, tmp_path: Path) -> AsyncIterator[GatewayService]:
    service = await started(pki, tmp_path)
    try:
        yield service
    finally:
        await service.stop()


def aflever_url(service: GatewayService) -> str:
    channel = service.channels["digipoort"]
    assert isinstance(channel, DigipoortChannel)
    assert channel.aflever is not None
    return channel.aflever.url


@pytest.fixture
async def simulator(pki: Pki, gateway: GatewayService) -> AsyncIterator[DigipoortSimulator]:
    async with DigipoortSimulator(SimulatorSettings(
            pki_dir=pki.folder, deliver_to=aflever_url(gateway),
            control_listen=("127.0.0.1", 0))) as running:
        yield running


async def control(simulator: DigipoortSimulator, **request: Any) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as session, session.request(
            request.pop("method", "POST"), f"{simulator.control_url}/control/deliveries",
            **request) as response:
        return response.status, await response.json(content_type=None)


async def inbox(service: GatewayService) -> list[MessageRecord]:
    assert service.store is not None
    page = await service.store.list_messages(direction=Direction.INBOUND, limit=100)
    return list(page.items)


async def test_a_sample_order_delivered_twice_is_in_the_inbox_once(
        simulator: DigipoortSimulator, gateway: GatewayService) -> None:
    status, answer = await control(simulator, json={"sample": "order", "times": 2})
    assert status == 201, answer
    first, second = answer["deliveries"]
    assert first["kenmerk"] == second["kenmerk"]
    assert (first["state"], second["state"]) == ("delivered", "delivered")
    assert first["berichtsoort"] == "BESTELLING-UBL"
    assert first["to"] == aflever_url(gateway)
    # From the agency the order names, as Digipoort names the belanghebbende.
    assert first["from"] == AGENCY_OIN
    [record] = await inbox(gateway)
    assert record.transport_id == first["kenmerk"]
    assert record.document_kind == "order"
    assert record.transport_state is TransportState.DECODED


async def test_the_staffing_order_and_its_timecard_arrive(
        simulator: DigipoortSimulator, gateway: GatewayService) -> None:
    for sample in ("staffing-order", "timecard"):
        status, answer = await control(simulator, json={"sample": sample})
        assert status == 201, answer
        assert answer["deliveries"][0]["from"] == JENV_OIN
    records = {r.document_kind: r for r in await inbox(gateway)}
    assert set(records) == {"staffing-order", "timecard"}
    assert all(r.transport_state is TransportState.DECODED for r in records.values())
    assert ORDER_ID in (records["staffing-order"].business_key or "")
    status, listed = await control(simulator, method="GET")
    assert status == 200
    assert [d["berichtsoort"] for d in listed["deliveries"]] == [
        "BESTELLING-HRXML", "TIMECARD-HRXML"]


async def test_posted_xml_is_delivered_with_the_berichtsoort_of_its_format(
        simulator: DigipoortSimulator, gateway: GatewayService) -> None:
    status, answer = await control(simulator, data=order_19(), params={"times": "1"},
                                   headers={"Content-Type": "application/xml"})
    assert status == 201, answer
    [delivery] = answer["deliveries"]
    assert (delivery["berichtsoort"], delivery["what"]) == ("BESTELLING-UBL", "posted document")
    [record] = await inbox(gateway)
    assert record.raw_payload == order_19()


@pytest.mark.parametrize(("request_", "says"), [
    ({"json": {"sample": "invoice"}}, "sample must be one of 'order'"),
    ({"json": {"sample": "order", "times": 0}}, "times must be a whole number from 1"),
    ({"json": {"sampel": "order"}}, "unknown key(s) 'sampel'"),
    ({"data": b"{", "headers": {"Content-Type": "application/json"}}, "not JSON"),
    ({"data": b"", "headers": {"Content-Type": "application/xml"}}, "the body is empty"),
    ({"data": b"<nothing/>", "headers": {"Content-Type": "application/xml"}},
     "of no known format"),
    ({"data": invoice_19(), "headers": {"Content-Type": "application/xml"}},
     "ubl-ohnl:invoice:1.9 (FACTUUR-UBL), which goes to Digipoort"),
    ({"data": order_19(), "params": {"berichtsoort": "FACTUUR-UBL"},
      "headers": {"Content-Type": "application/xml"}}, "FACTUUR-UBL is not one Digipoort"),
    ({"data": order_19(), "params": {"soort": "x"},
      "headers": {"Content-Type": "application/xml"}}, "unknown query parameter(s) soort"),
])
async def test_a_request_it_cannot_do_is_refused_naming_why(
        simulator: DigipoortSimulator, gateway: GatewayService, request_: dict[str, Any],
        says: str) -> None:
    status, answer = await control(simulator, **request_)
    assert status == 400, answer
    assert says in answer["detail"]
    assert simulator.deliveries == []
    assert await inbox(gateway) == []


async def test_a_delivery_before_the_gateway_is_up_arrives_once_it_is(
        pki: Pki, tmp_path: Path) -> None:
    port = free_port()
    url = f"https://localhost:{port}/"
    async with DigipoortSimulator(SimulatorSettings(
            pki_dir=pki.folder, deliver_to=url, control_listen=("127.0.0.1", 0),
            redeliver_interval=0.1)) as simulator:
        status, answer = await control(simulator, json={"sample": "order"})
        assert status == 202, answer
        [delivery] = answer["deliveries"]
        assert delivery["state"] == "retrying"
        assert f"localhost:{port}" in delivery["error"]
        assert delivery["next_attempt"] is not None
        service = await started(pki, tmp_path, aflever_listen=f"127.0.0.1:{port}")
        try:
            for _ in range(100):
                [listed] = (await control(simulator, method="GET"))[1]["deliveries"]
                if listed["state"] != "retrying":
                    break
                await asyncio.sleep(0.1)
            assert listed["state"] == "delivered", listed
            assert listed["attempts"] >= 2
            [record] = await inbox(service)
            assert record.transport_id == delivery["kenmerk"]
        finally:
            await service.stop()


async def test_a_delivery_given_up_is_reported(pki: Pki) -> None:
    url = f"https://localhost:{free_port()}/"
    async with DigipoortSimulator(SimulatorSettings(
            pki_dir=pki.folder, deliver_to=url, control_listen=("127.0.0.1", 0),
            redeliver_interval=0.05, redeliver_for=0.3)) as simulator:
        status, answer = await control(simulator, json={"sample": "timecard"})
        assert status == 202, answer
        for _ in range(100):
            [listed] = (await control(simulator, method="GET"))[1]["deliveries"]
            if listed["state"] != "retrying":
                break
            await asyncio.sleep(0.05)
        assert listed["state"] == "gave-up", listed
        assert listed["error"]


async def test_a_delivery_the_aflever_service_refuses_is_reported_not_retried(
        pki: Pki, tmp_path: Path) -> None:
    # Digipoort's certificate is not one this AfleverService lets deliver.
    service = await started(pki, tmp_path, aflever_client_ids=["00000003999999990000"])
    try:
        async with DigipoortSimulator(SimulatorSettings(
                pki_dir=pki.folder, deliver_to=aflever_url(service),
                control_listen=("127.0.0.1", 0), redeliver_interval=0.05)) as simulator:
            status, answer = await control(simulator, json={"sample": "order"})
            assert status == 502, answer
            [delivery] = answer["deliveries"]
            assert delivery["state"] == "refused"
            assert "ALS100" in delivery["error"]
            await asyncio.sleep(0.2)
            assert simulator.deliveries[0].attempts == 1
        assert await inbox(service) == []
    finally:
        await service.stop()


async def test_without_an_aflever_service_documents_wait_for_the_ophaal_service(
        pki: Pki) -> None:
    async with DigipoortSimulator(SimulatorSettings(
            pki_dir=pki.folder, control_listen=("127.0.0.1", 0))) as simulator:
        status, answer = await control(simulator, json={"sample": "staffing-order"})
        assert status == 201, answer
        [delivery] = answer["deliveries"]
        assert (delivery["state"], delivery["to"]) == ("queued-for-pickup", None)
        assert [e.message.kenmerk for e in simulator._mailbox] == [delivery["kenmerk"]]
