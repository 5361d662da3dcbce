"""The peppol channel in the running gateway, against the Peppol simulator on loopback.

Every test runs the real service (store, outbound validation with the
installed standards, dispatcher, status desk) with a config that routes the
agency's invoices to the peppol channel, and a real PeppolSimulator: HTTP
on loopback for the API and the webhook, real folders for the file mode.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import attrs
import pytest
from pipeline_support import AGENCY_OIN, FAST, SUPPLIER_KVK

from gateway.channels import FinalError, OutboundMessage
from gateway.kinds import Direction, DocumentKind
from gateway.model.json import to_json
from gateway.pluginmanager import build_registry, make_plugin_manager
from gateway.service import GatewayService
from gateway.store import MessageRecord, TransportState
from gateway.validation.report import Finding, Severity
from plugins.peppol.channel import SECRET_HEADER, PeppolChannel, instance_id_for
from plugins.peppol.simulator import PeppolSimulator, SimulatorSettings
from plugins.ubl_invoice.samples import dutch_invoice
from plugins.ubl_ordering.samples import AGENCY_OIN as ORDERING_AGENCY_OIN

TOKEN_ENV = "WISSEL_TEST_PEPPOL_TOKEN"
SECRET_ENV = "WISSEL_TEST_PEPPOL_SECRET"
TOKEN = "ap-token-123"
REGISTRY_FOR_PAYLOADS = build_registry(make_plugin_manager())
SECRET = "hook-secret-456"


@pytest.fixture(autouse=True)
def secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    monkeypatch.setenv(SECRET_ENV, SECRET)


def config(tmp_path: Path, standards: Path, channel: str, agency_extra: str = "") -> Path:
    path = tmp_path / "gateway.toml"
    path.write_text(f"""
[gateway]
listen = "127.0.0.1:0"
data_dir = {str(tmp_path / "data")!r}
database = "sqlite:///{tmp_path / 'gateway.db'}"
standards_dir = {str(standards)!r}
token = "test-token"

[supplier]
name = "Naam Leverancier BV"
kvk = "{SUPPLIER_KVK}"
vestigingsnummer = "000018727409"

[channels.peppol]
{channel}

[agencies."{AGENCY_OIN}"]
name = "Naam Overheidsorganisatie"
default_channel = "peppol"
{agency_extra}

[agencies."{AGENCY_OIN}".documents.invoice]
format = "peppol-bis:invoice:3.0"
""", "utf-8")
    return path


def api_channel(simulator: PeppolSimulator, **extra: Any) -> str:
    settings = {"access_point": simulator.url, "token_env": TOKEN_ENV,
                "inbound_listen": "127.0.0.1:0", "inbound_secret_env": SECRET_ENV,
                "poll_interval": 0.05, "timeout": 2, **extra}
    return "\n".join(f"{key} = {json.dumps(value)}" for key, value in settings.items())


@attrs.define
class Setup:
    service: GatewayService
    simulator: PeppolSimulator

    @property
    def channel(self) -> PeppolChannel:
        channel = self.service.channels["peppol"]
        assert isinstance(channel, PeppolChannel)
        return channel

    async def submit(self, number: str = "F2024-0001") -> MessageRecord:
        assert self.service.outbound is not None
        invoice = attrs.evolve(dutch_invoice(), number=number)
        record, created = await self.service.outbound.submit(
            json.dumps(to_json(invoice)).encode(), agency_oin=AGENCY_OIN)
        assert created
        return record

    async def record(self, message_id: str) -> MessageRecord:
        assert self.service.store is not None
        found = await self.service.store.get(message_id)
        assert found is not None
        return found

    async def until(self, message_id: str, check: Callable[[MessageRecord], bool],
                    within: float = 20.0) -> MessageRecord:
        deadline = asyncio.get_running_loop().time() + within
        while True:
            record = await self.record(message_id)
            if check(record):
                return record
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"gave up waiting; the message is {record}")
            await asyncio.sleep(0.02)

    async def statuses(self, message_id: str) -> list[str]:
        assert self.service.store is not None
        return [event.detail["code"] for event in await self.service.store.events(message_id)
                if event.kind == "status"]

    async def inbound(self) -> list[MessageRecord]:
        assert self.service.store is not None
        page = await self.service.store.list_messages(direction=Direction.INBOUND, limit=100)
        return list(page.items)


@pytest.fixture
async def running(tmp_path: Path, installed_standards: Path
                  ) -> AsyncIterator[Callable[..., Awaitable[Setup]]]:
    """Start a simulator with the given settings and a gateway whose peppol channel uses it."""
    started: list[Setup] = []

    async def start(channel: Callable[[PeppolSimulator], str] | None = None,
                    agency_extra: str = "", **settings: Any) -> Setup:
        simulator = PeppolSimulator(SimulatorSettings(
            listen="127.0.0.1:0", token=TOKEN, deliver_secret=SECRET,
            standards=installed_standards, **settings))
        await simulator.start()
        path = config(tmp_path, installed_standards, (channel or api_channel)(simulator),
                      agency_extra)
        service = GatewayService(path, dispatch=FAST)
        await service.start()
        setup = Setup(service, simulator)
        started.append(setup)
        address = setup.channel.inbound_address
        if address is not None:
            simulator.settings = attrs.evolve(
                simulator.settings, deliver_to=f"http://{address[0]}:{address[1]}/inbound")
        return setup

    yield start
    for setup in started:
        await setup.service.stop()
        await setup.simulator.stop()


def sent_and(state: str) -> Callable[[MessageRecord], bool]:
    return lambda r: r.transport_state is TransportState.SENT and r.business_state == state


async def test_an_invoice_is_delivered_then_accepted_then_paid(
    running: Callable[..., Awaitable[Setup]],
) -> None:
    setup = await running(invoice_responses=("AP", "PD"), response_delay=0.6)
    record = await setup.submit()
    await setup.until(record.id, sent_and("paid"))

    [transmission] = setup.simulator.transmissions.values()
    assert transmission.id == instance_id_for(record.id)
    assert transmission.status == "delivered", transmission.findings
    assert transmission.format_key == "peppol-bis:invoice:3.0"
    assert transmission.findings == []
    assert str(transmission.envelope.sender) == f"0106:{SUPPLIER_KVK}"
    assert str(transmission.envelope.receiver) == f"0190:{AGENCY_OIN}"
    final = await setup.record(record.id)
    assert final.transport_id == transmission.id
    assert await setup.statuses(record.id) == ["delivered", "AP", "PD"]
    # Both responses are also inbound documents for the ERP, from the agency.
    responses = await setup.inbound()
    assert sorted(r.document_kind or "" for r in responses) == ["invoice-response"] * 2
    assert {r.agency_oin for r in responses} == {AGENCY_OIN}
    assert all(r.transport_state is TransportState.DECODED for r in responses)


async def test_an_mlr_rejection_moves_the_message_to_the_dead_letter(
    running: Callable[..., Awaitable[Setup]],
) -> None:
    setup = await running()
    record = await setup.submit()
    await setup.until(record.id, sent_and("delivered-to-agency"))
    [transmission] = setup.simulator.transmissions.values()
    finding = Finding("peppol", "BR-NL-1", Severity.FATAL, "/Invoice/cbc:ID", None,
                      "Simulated finding at the agency")
    await setup.simulator.send_mlr(transmission, [finding])
    async with aiohttp.ClientSession() as session, session.post(
            f"{setup.simulator.url}/control/mlrs",
            json={"transmission": transmission.id, "reason": "again"}) as response:
        assert response.status == 201  # a second rejection, recorded as its own event
    failed = await setup.until(record.id, lambda r: r.transport_state is TransportState.FAILED)
    assert failed.last_error is not None
    assert "Message Level Response RE" in failed.last_error
    assert "BR-NL-1" in failed.last_error
    for _ in range(200):
        if len(await setup.statuses(record.id)) == 3:
            break
        await asyncio.sleep(0.02)
    assert await setup.statuses(record.id) == ["delivered", "MLR-RE", "MLR-RE"]


async def test_a_400_from_the_access_point_ends_in_the_dead_letter_with_its_reason(
    running: Callable[..., Awaitable[Setup]],
) -> None:
    setup = await running(faults=("400:100",))
    record = await setup.submit()
    failed = await setup.until(record.id, lambda r: r.transport_state is TransportState.FAILED)
    assert failed.attempts == 1, "a 400 is final: no retry"
    assert failed.last_error is not None
    assert "HTTP 400" in failed.last_error
    assert "simulated refusal" in failed.last_error
    assert setup.simulator.transmissions == {}


async def test_a_failed_receipt_fails_the_message_with_the_access_points_words(
    running: Callable[..., Awaitable[Setup]],
) -> None:
    setup = await running(faults=("failed-receipt",))
    record = await setup.submit()
    failed = await setup.until(record.id, lambda r: r.transport_state is TransportState.FAILED)
    assert failed.last_error is not None
    assert "AS4 transmission to the receiving access point failed" in failed.last_error


async def test_thirty_percent_faults_are_retried_until_every_invoice_is_delivered(
    running: Callable[..., Awaitable[Setup]],
) -> None:
    # Two connection resets first, then 30 % of all calls answered 503.
    setup = await running(faults=("reset:2", "503:30%"), seed=7)
    records = [await setup.submit(f"F2024-{n:04d}") for n in range(1, 9)]
    for record in records:
        await setup.until(record.id, sent_and("delivered-to-agency"), within=60)
    simulator = setup.simulator
    # One transmission per invoice: no retry was taken for a new document.
    assert len(simulator.transmissions) == len(records)
    assert all(t.status == "delivered" for t in simulator.transmissions.values())
    assert simulator.calls > len(records), "the seed must have produced some faults"
    attempts = [(await setup.record(r.id)).attempts for r in records]
    assert max(attempts) > 1


async def test_a_timed_out_send_is_recognised_as_a_repeat(
    running: Callable[..., Awaitable[Setup]],
) -> None:
    setup = await running(
        lambda simulator: api_channel(simulator, timeout=0.3), faults=("timeout",),
        hang_seconds=0.6)
    record = await setup.submit()
    await setup.until(record.id, sent_and("delivered-to-agency"))
    [transmission] = setup.simulator.transmissions.values()
    assert transmission.id == instance_id_for(record.id)
    assert (await setup.record(record.id)).attempts >= 2


async def test_an_order_delivered_twice_reaches_the_inbox_once(
    running: Callable[..., Awaitable[Setup]],
) -> None:
    setup = await running()
    instance = await setup.simulator.deliver_order(times=2)
    assert [d.instance_id for d in setup.simulator.deliveries] == [instance, instance]
    [order] = await setup.inbound()
    assert order.document_kind == "order"
    assert order.transport_state is TransportState.DECODED
    assert order.transport_id == instance
    assert order.agency_oin == ORDERING_AGENCY_OIN


def _order_for_seller(scheme: str, value: str) -> bytes:
    """The sample Peppol order, its seller (us, the SBDH receiver) addressed as ``scheme:value``."""
    orders = REGISTRY_FOR_PAYLOADS.format("peppol-bis:order:3")
    sample = orders.samples()[0]
    data = sample.data or orders.encode(sample.document, sample.context)
    seller = f'<cbc:EndpointID schemeID="0106">{SUPPLIER_KVK}</cbc:EndpointID>'.encode()
    assert data.count(seller) == 1
    return data.replace(seller, f'<cbc:EndpointID schemeID="{scheme}">{value}'
                                f'</cbc:EndpointID>'.encode())


async def test_an_order_addressed_to_us_in_other_case_finds_its_agency(
    running: Callable[..., Awaitable[Setup]],
) -> None:
    # Participant id values are case-insensitive (Peppol Policy for use of Identifiers):
    # the access point may hand over the id as the buyer wrote it.
    setup = await running(lambda simulator: api_channel(simulator, sender_id="9925:BE0477472701"))
    instance = await setup.simulator.deliver_order(_order_for_seller("9925", "be0477472701"))
    [order] = await setup.inbound()
    assert order.transport_id == instance
    assert order.document_kind == "order"
    assert order.transport_state is TransportState.DECODED
    assert order.agency_oin == ORDERING_AGENCY_OIN


async def test_an_order_for_another_participant_is_still_refused(
    running: Callable[..., Awaitable[Setup]],
) -> None:
    setup = await running(lambda simulator: api_channel(simulator, sender_id="9925:BE0477472701"))
    with pytest.raises(RuntimeError, match="which is not this supplier"):
        await setup.simulator.deliver_order(_order_for_seller("9925", "be0477472702"))
    assert await setup.inbound() == []


async def test_the_webhook_wants_its_secret_and_a_proper_sbdh(
    running: Callable[..., Awaitable[Setup]],
) -> None:
    setup = await running()
    address = setup.channel.inbound_address
    assert address is not None
    url = f"http://{address[0]}:{address[1]}/inbound"
    async with aiohttp.ClientSession() as session:
        async with session.post(url, data=b"<x/>") as response:
            assert response.status == 401
        async with session.post(url, data=b"<x/>", headers={SECRET_HEADER: SECRET}) as response:
            assert response.status == 400
            problem = await response.json()
            assert "not an SBDH document" in problem["detail"]
    assert await setup.inbound() == []


async def test_a_webhook_secret_that_is_no_utf8_is_401_not_500(
    running: Callable[..., Awaitable[Setup]],
) -> None:
    # A caller sending Latin-1 bytes as the secret got a 500 and a traceback in the
    # log: aiohttp hands such bytes over as lone surrogates, which str.encode refuses.
    setup = await running()
    address = setup.channel.inbound_address
    assert address is not None
    reader, writer = await asyncio.open_connection(address[0], address[1])
    try:
        writer.write(b"POST /inbound HTTP/1.1\r\nHost: gateway\r\nContent-Length: 4\r\n"
                     + SECRET_HEADER.encode() + b": caf\xe9\r\nConnection: close\r\n\r\n<x/>")
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()
    assert answer.split(b"\r\n", 1)[0].split()[1] == b"401", answer[:300]
    assert await setup.inbound() == []


def folder_channel(tmp_path: Path) -> Callable[[PeppolSimulator], str]:
    def settings(simulator: PeppolSimulator) -> str:
        return "\n".join(f"{key} = {json.dumps(value)}" for key, value in {
            "outbox_dir": str(tmp_path / "ap" / "outbox"),
            "receipts_dir": str(tmp_path / "ap" / "receipts"),
            "inbox_dir": str(tmp_path / "ap" / "inbox"), "poll_interval": 0.05}.items())
    return settings


async def test_outbox_and_inbox_folders_carry_documents_receipts_and_responses(
    running: Callable[..., Awaitable[Setup]], tmp_path: Path,
) -> None:
    ap = tmp_path / "ap"
    for sub in ("outbox", "receipts", "inbox"):
        (ap / sub).mkdir(parents=True)
    setup = await running(
        folder_channel(tmp_path), pickup_dir=ap / "outbox", receipts_dir=ap / "receipts",
        deliver_dir=ap / "inbox", invoice_responses=("AB",), response_delay=0.6,
        poll_interval=0.05)
    record = await setup.submit()
    await setup.until(record.id, sent_and("acknowledged"))
    assert await setup.statuses(record.id) == ["delivered", "AB"]
    instance = instance_id_for(record.id)
    assert (ap / "outbox" / "done" / f"{instance}.xml").is_file()
    assert (ap / "receipts" / "done" / f"{instance}.json").is_file()
    assert not list((ap / "inbox").glob("*.xml")), "the inbox is emptied"
    assert len(list((ap / "inbox" / "done").glob("*.xml"))) == 1
    [response] = await setup.inbound()
    assert response.document_kind == "invoice-response"
    # A file that is no SBDH goes to error/ with the reason, and nothing is stored.
    (ap / "inbox" / "broken.xml").write_bytes(b"<Invoice/>")
    note = ap / "inbox" / "error" / "broken.xml.error.txt"
    moved = ap / "inbox" / "error" / "broken.xml"
    for _ in range(250):
        # The note is written before the file moves (gateway.fileio.file_away): wait for both.
        if note.is_file() and moved.is_file():
            break
        await asyncio.sleep(0.02)
    assert "not an SBDH document" in note.read_text("utf-8")
    assert moved.is_file()
    assert len(await setup.inbound()) == 1


def _gateway(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gateway.cli.main", *args],
                          capture_output=True, text=True, timeout=120, check=False)


def test_the_simulator_is_a_gateway_command() -> None:
    result = _gateway("simulate", "peppol", "--help")
    assert result.returncode == 0, result.stderr
    assert "--deliver-to" in result.stdout
    assert "--fault" in result.stdout
    bad = _gateway("simulate", "peppol", "--fault", "explode")
    assert bad.returncode == 2
    assert "fault 'explode' is not one of" in bad.stderr


async def test_the_control_endpoints_inject_faults_and_deliver_orders(
    running: Callable[..., Awaitable[Setup]],
) -> None:
    setup = await running()
    base = setup.simulator.url
    auth = {"Authorization": f"Bearer {TOKEN}"}
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{base}/control/faults", json={"fault": "503:1"}) as response:
            assert response.status == 201
        async with session.post(f"{base}/outbound", data=b"<x/>", headers=auth) as response:
            assert response.status == 503
        async with session.post(f"{base}/outbound", data=b"<x/>", headers=auth) as response:
            assert response.status == 400, "the fault was for one call only"
        async with session.post(f"{base}/outbound", data=b"<x/>") as response:
            assert response.status == 401
        async with session.post(f"{base}/control/faults", json={"fault": "boom"}) as response:
            assert response.status == 400
        async with session.post(f"{base}/control/orders",
                                json={"sample": 0, "times": 2}) as response:
            assert response.status == 201
            instance = (await response.json())["instance_id"]
        async with session.post(f"{base}/control/invoice-responses",
                                json={"transmission": "nope", "code": "AP"}) as response:
            assert response.status == 404
    [order] = await setup.inbound()
    assert order.transport_id == instance


async def test_the_agency_directory_names_the_sbdh_receiver(
    running: Callable[..., Awaitable[Setup]],
) -> None:
    setup = await running(agency_extra='peppol_id = "0088:8712345000004"')
    record = await setup.submit()
    await setup.until(record.id, sent_and("delivered-to-agency"))
    [transmission] = setup.simulator.transmissions.values()
    assert str(transmission.envelope.receiver) == "0088:8712345000004"


async def test_a_document_for_another_agency_is_refused_before_it_leaves() -> None:
    invoice = REGISTRY_FOR_PAYLOADS.format("peppol-bis:invoice:3.0")
    first = invoice.samples()[0]
    assert first.data is not None
    channel = PeppolChannel("peppol", {"outbox_dir": "/nonexistent", "sender_id": "0106:30097265"})
    outcome = await channel.send(OutboundMessage(
        message_id="m-1", agency_oin="00000001003214345000", kind=DocumentKind.INVOICE,
        format_key=invoice.key, payload=first.data))
    assert isinstance(outcome, FinalError)
    assert f"addresses OIN {AGENCY_OIN}, but it is routed to agency 00000001003214345000" in (
        outcome.reason)


async def test_receipts_are_collected_after_a_restart(
    tmp_path: Path, installed_standards: Path,
) -> None:
    ap = tmp_path / "ap"
    for sub in ("outbox", "receipts", "inbox"):
        (ap / sub).mkdir(parents=True)
    path = config(tmp_path, installed_standards, folder_channel(tmp_path)(PeppolSimulator()))
    first = Setup(GatewayService(path, dispatch=FAST), PeppolSimulator())
    await first.service.start()
    try:
        record = await first.submit()
        await first.until(record.id, lambda r: r.transport_state is TransportState.SENT)
    finally:
        await first.service.stop()
    # The access point collects the file and writes its receipt while the gateway is down.
    simulator = PeppolSimulator(SimulatorSettings(
        listen="127.0.0.1:0", pickup_dir=ap / "outbox", receipts_dir=ap / "receipts",
        standards=installed_standards))
    await simulator.start()
    second = Setup(GatewayService(path, dispatch=FAST), simulator)
    try:
        receipt = ap / "receipts" / f"{instance_id_for(record.id)}.json"
        for _ in range(500):
            if receipt.is_file():
                break
            await asyncio.sleep(0.02)
        await second.service.start()
        await second.until(record.id, sent_and("delivered-to-agency"))
        assert await second.statuses(record.id) == ["delivered"]
    finally:
        await second.service.stop()
        await simulator.stop()
