"""Issue #7 acceptance: five agencies on five channels, each against its real counterpart.

One configuration: Digipoort (the WUS simulator over two-way TLS), Peppol (the
access point simulator), the portal (its export folder), e-mail (aiosmtpd with
STARTTLS and a test CA) and a folder. The same canonical invoice goes to each
and arrives as a valid document; an agency is switched from the portal to
Digipoort with `gateway agencies switch` while the gateway runs; faults in the
Peppol simulator and the SMTP server are retried.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType
from typing import Any

import attrs
import pytest
import trustme
from lxml import etree
from pipeline_support import FAST, SUPPLIER_KVK, document_json

from gateway.kinds import DocumentKind
from gateway.model import Invoice, PartyId
from gateway.model.samples import example_invoice
from gateway.pluginmanager import build_registry, make_plugin_manager
from gateway.service import GatewayService
from gateway.store import MessageRecord, TransportState
from gateway.validation.engine import Validator
from gateway.xmlsafe import parse_xml
from plugins.email.testserver import LocalSmtp

try:
    import plugins.digipoort as digipoort_plugin
    from plugins.digipoort.simulator.settings import SimulatorSettings as DigipoortSettings
    from plugins.digipoort.simulator.simulator import DigipoortSimulator
except ImportError as exc:  # pragma: no cover - only while the Digipoort plugin is missing
    pytest.skip(f"the Digipoort channel or its simulator is missing: {exc}",
                allow_module_level=True)
try:
    import plugins.peppol as peppol_plugin
    from plugins.peppol.simulator import PeppolSimulator
    from plugins.peppol.simulator import SimulatorSettings as PeppolSettings
except ImportError as exc:  # pragma: no cover - only while the Peppol plugin is missing
    pytest.skip(f"the Peppol channel or its simulator is missing: {exc}",
                allow_module_level=True)

pytestmark = pytest.mark.slow

DIGIPOORT_OIN = "00000001003227522000"
PEPPOL_OIN = "00000001003214345000"
PORTAL_OIN = "00000004000000001000"
EMAIL_OIN = "00000004000000002000"
FOLDER_OIN = "00000004000000003000"
AGENCY_ADDRESS = "crediteuren@agency.example"
# Business states that say the agency has the document (Digipoort goes on to acknowledged).
REACHED = ("delivered-to-agency", "acknowledged")
FORMATS = {
    DIGIPOORT_OIN: "ubl-ohnl:invoice:1.9",
    PEPPOL_OIN: "peppol-bis:invoice:3.0",
    PORTAL_OIN: "ubl-ohnl:invoice:1.9",
    EMAIL_OIN: "nlcius:invoice:1.0",
    FOLDER_OIN: "nlcius:invoice:1.0",
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def canonical(data: bytes) -> bytes:
    text: bytes = etree.tostring(parse_xml(data).getroot(), method="c14n")
    return text


def invoice_for(oin: str, number: str = "F2024-0001") -> Invoice:
    """The same invoice, addressed to another agency (its buyer's OIN)."""
    invoice = example_invoice()
    buyer = attrs.evolve(
        invoice.buyer, ids=(PartyId(scheme="OIN", value=oin),),
        legal_id=PartyId(scheme="0190", value=oin), endpoint_id=PartyId(scheme="0190", value=oin))
    return attrs.evolve(invoice, number=number, buyer=buyer)


def plugin_manager() -> Any:
    """Entry-point plugins, plus the Digipoort and Peppol modules if not yet entry points."""
    names = set(build_registry(make_plugin_manager()).channels)
    extra: list[tuple[str, ModuleType]] = []
    if "digipoort" not in names:
        extra.append(("digipoort", digipoort_plugin))
    if "peppol" not in names:
        extra.append(("peppol", peppol_plugin))
    return make_plugin_manager(plugins=extra)


@attrs.define
class World:
    service: GatewayService
    config: Path
    data: Path
    digipoort: Any
    peppol: Any
    smtp: LocalSmtp
    validator: Validator

    async def submit(self, oin: str, number: str = "F2024-0001") -> MessageRecord:
        assert self.service.outbound is not None
        record, created = await self.service.outbound.submit(
            document_json(invoice_for(oin, number)), agency_oin=oin)
        assert created, record
        assert record.transport_state is TransportState.QUEUED, record.last_error
        return record

    async def until(self, message_id: str, check: Any, within: float = 30.0,
                    ) -> MessageRecord:
        assert self.service.store is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while True:
            record = await self.service.store.get(message_id)
            assert record is not None
            if check(record):
                return record
            if loop.time() > deadline:
                raise AssertionError(
                    f"message {message_id} never got there: {record.transport_state} "
                    f"{record.business_state} on {record.channel}: {record.last_error}")
            await asyncio.sleep(0.05)

    async def sent(self, message_id: str) -> MessageRecord:
        return await self.until(message_id,
                                lambda r: r.transport_state is TransportState.SENT)

    def assert_valid(self, data: bytes, format_key: str) -> None:
        fmt = self.service.registry.format(format_key)
        report = self.validator.validate(data, fmt.layers(), format_key=format_key)
        assert report.valid, [f"{f.layer} {f.location}: {f.text}" for f in report.findings]

    async def gateway(self, *args: str) -> tuple[int, str, str]:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "gateway.cli.main", "--config", str(self.config), *args,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(process.communicate(), 60)
        assert process.returncode is not None
        return process.returncode, out.decode(), err.decode()


def configuration(tmp: Path, standards: Path, digipoort: Any, peppol: Any, smtp: LocalSmtp,
                  ca_file: Path) -> str:
    pki = digipoort.pki
    supplier = pki.suppliers.get(SUPPLIER_KVK) or pki.supplier
    agencies = ""
    channel_of = {DIGIPOORT_OIN: "digipoort", PEPPOL_OIN: "peppol", PORTAL_OIN: "portal",
                  EMAIL_OIN: "email", FOLDER_OIN: "folder"}
    for oin, channel in channel_of.items():
        email = f'email = "{AGENCY_ADDRESS}"\n' if channel == "email" else ""
        agencies += f"""
[agencies."{oin}"]
name = "Agency on {channel}"
{email}supplier_number = "LEV-1"

[agencies."{oin}".documents.invoice]
channel = "{channel}"
format = "{FORMATS[oin]}"
"""
    return f"""
[gateway]
listen = "127.0.0.1:{free_port()}"
data_dir = {str(tmp / "data")!r}
database = "sqlite:///{tmp / 'gateway.db'}"
token = "acceptance-token"
standards_dir = {str(standards)!r}

[supplier]
name = "Naam Leverancier BV"
kvk = "{SUPPLIER_KVK}"
vestigingsnummer = "000018727409"
vat = "NL001427507B01"

[channels.digipoort]
environment = "simulator"
aanlever_url = "{digipoort.aanlever_url}"
status_url = "{digipoort.status_url}"
certificate = {str(supplier.cert)!r}
private_key = {str(supplier.key)!r}
server_ca = {str(pki.ca)!r}
belanghebbende_nummer = "{SUPPLIER_KVK}"
status_poll_interval = 0.2

[channels.peppol]
access_point = "{peppol.url}"
poll_interval = 0.2

[channels.portal]
export_dir = "portal"
pdf = false

[channels.email]
smtp_host = "{smtp.host}"
smtp_port = {smtp.port}
security = "starttls"
ca_file = {str(ca_file)!r}
sender = "facturen@leverancier.example"
pdf = false

[channels.folder]
path = "outbox"
{agencies}"""


@pytest.fixture
async def world(tmp_path: Path, installed_standards: Path,
                monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[World]:
    # The Digipoort channel finds its koppelvlak XSD among the installed standards.
    monkeypatch.setenv("GATEWAY_STANDARDS_DIR", str(installed_standards))
    ca = trustme.CA()
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(server_tls)
    ca_file = tmp_path / "smtp-ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    digipoort = DigipoortSimulator(DigipoortSettings(step_delay=0,
                                                     standards_dir=installed_standards))
    peppol = PeppolSimulator(PeppolSettings(listen="127.0.0.1:0", response_delay=0.1,
                                            standards=installed_standards))
    await digipoort.start()
    await peppol.start()
    try:
        async with LocalSmtp(security="starttls", tls_context=server_tls) as smtp:
            config = tmp_path / "gateway.toml"
            config.write_text(configuration(tmp_path, installed_standards, digipoort, peppol,
                                            smtp, ca_file), "utf-8")
            service = GatewayService(config, plugin_manager(), dispatch=FAST)
            await service.start()
            try:
                health = await service.health()
                assert health["channels"] == dict.fromkeys(
                    ("digipoort", "email", "folder", "peppol", "portal"), "running"), health
                yield World(service, config, tmp_path / "data", digipoort, peppol, smtp,
                            Validator(installed_standards))
            finally:
                await service.stop()
    finally:
        await peppol.stop()
        await digipoort.stop()


async def test_the_same_invoice_reaches_five_agencies_on_five_channels(world: World) -> None:
    records = {oin: await world.submit(oin) for oin in FORMATS}
    sent = {oin: await world.sent(r.id) for oin, r in records.items()}
    for oin, record in sent.items():
        assert record.format_key == FORMATS[oin]
        assert record.raw_payload is not None

    # Digipoort: the simulator took the aanlevering and walked it to delivery.
    digipoort = sent[DIGIPOORT_OIN]
    process = await world.digipoort.wait_finished(str(digipoort.transport_id), timeout=20)
    assert process.request.bericht_inhoud.inhoud == digipoort.raw_payload
    world.assert_valid(process.request.bericht_inhoud.inhoud, FORMATS[DIGIPOORT_OIN])
    await world.until(digipoort.id, lambda r: r.business_state in REACHED)

    # Peppol: the access point validated the SBDH payload and delivered it.
    peppol = sent[PEPPOL_OIN]
    [transmission] = world.peppol.transmissions.values()
    # Unwrapped from the SBDH: the same document, re-serialised by the envelope.
    assert canonical(transmission.payload) == canonical(peppol.raw_payload or b"")
    world.assert_valid(transmission.payload, FORMATS[PEPPOL_OIN])
    assert transmission.format_key == FORMATS[PEPPOL_OIN]
    await world.until(peppol.id, lambda r: r.business_state in REACHED)

    # Portal: a task with the validated XML in its bundle, open in the queue.
    portal = sent[PORTAL_OIN]
    bundle = world.data / "portal" / str(portal.transport_id)
    assert (bundle / "F2024-0001.xml").read_bytes() == portal.raw_payload
    world.assert_valid((bundle / "F2024-0001.xml").read_bytes(), FORMATS[PORTAL_OIN])
    code, out, err = await world.gateway("portal", "tasks", "--state", "open")
    assert code == 0, err
    assert out.split()[:5] == [portal.transport_id, "open", PORTAL_OIN, "invoice", "F2024-0001"]

    # E-mail: the directory's address got the XML byte for byte.
    email = sent[EMAIL_OIN]
    [mail] = world.smtp.received
    assert mail["To"] == AGENCY_ADDRESS
    assert mail["Message-ID"] == email.transport_id
    [xml] = [p for p in mail.iter_attachments() if p.get_filename() == "F2024-0001.xml"]
    assert xml.get_payload(decode=True) == email.raw_payload
    world.assert_valid(email.raw_payload or b"", FORMATS[EMAIL_OIN])

    # Folder: the file, whole, in the agency's sub-folder.
    folder = sent[FOLDER_OIN]
    written = world.data / "outbox" / str(folder.transport_id)
    assert written.read_bytes() == folder.raw_payload
    world.assert_valid(written.read_bytes(), FORMATS[FOLDER_OIN])

    # Every state is visible to an operator over the API, as the store has it.
    counts = (await world.service.health())["messages"]
    assert counts["outbound"] == {"sent": 5}


async def test_switching_the_portal_agency_to_digipoort_reroutes_the_next_invoice(
    world: World,
) -> None:
    first = await world.sent((await world.submit(PORTAL_OIN, "F-SW-1")).id)
    assert first.channel == "portal"
    # A message already routed when the switch happens is in flight: it keeps its route.
    dispatcher = world.service.dispatcher
    assert dispatcher is not None
    await dispatcher.stop()
    in_flight = await world.submit(PORTAL_OIN, "F-SW-2")
    assert in_flight.channel == "portal"
    code, _, err = await world.gateway(
        "agencies", "switch", PORTAL_OIN, "-d", "invoice", "--channel", "digipoort",
        "--reason", "Digipoort acceptance test passed")
    assert code == 0, err

    def switched() -> bool:
        route = world.service.config.agency(PORTAL_OIN).documents[DocumentKind.INVOICE]
        return bool(route.channel == "digipoort")

    for _ in range(100):
        if switched():
            break
        await asyncio.sleep(0.05)
    assert switched(), "the running gateway did not pick up the switched configuration"
    after = await world.submit(PORTAL_OIN, "F-SW-3")
    assert after.channel == "digipoort"
    assert after.routing is not None
    dispatcher.start()
    kept = await world.sent(in_flight.id)
    moved = await world.sent(after.id)
    assert kept.channel == "portal"
    assert (world.data / "portal" / str(kept.transport_id)).is_dir()
    assert moved.channel == "digipoort"
    process = await world.digipoort.wait_finished(str(moved.transport_id), timeout=20)
    world.assert_valid(process.request.bericht_inhoud.inhoud, FORMATS[PORTAL_OIN])


async def test_faults_in_the_access_point_and_the_mail_server_are_retried(world: World) -> None:
    world.peppol.inject("503:2")
    world.smtp.busy_first = 2
    peppol = await world.submit(PEPPOL_OIN, "F-FAULT-1")
    email = await world.submit(EMAIL_OIN, "F-FAULT-1")
    for record in (await world.sent(peppol.id), await world.sent(email.id)):
        assert record.attempts == 3, record
    assert world.service.store is not None
    for message_id, expected in ((peppol.id, "503"), (email.id, "451")):
        attempts = await world.service.store.attempts(message_id)
        assert [a.outcome.value for a in attempts] == ["retryable", "retryable", "accepted"]
        assert all(expected in f"{a.code} {a.detail}" for a in attempts[:2]), attempts
    # One Message-ID for every try: the agency sees one mail, not three different ones.
    [mail] = world.smtp.received
    sent_email = await world.sent(email.id)
    assert mail["Message-ID"] == sent_email.transport_id
    assert world.smtp.attempts == 3


async def test_lasting_faults_end_in_the_dead_letter_with_the_reason(world: World) -> None:
    # A refusal is final at once; an outage that outlasts every attempt ends the same way.
    world.smtp.replies[AGENCY_ADDRESS] = "550 5.7.1 <crediteuren@agency.example>: Relaying denied"
    world.peppol.inject("503:100")
    email = await world.submit(EMAIL_OIN, "F-DEAD-1")
    peppol = await world.submit(PEPPOL_OIN, "F-DEAD-1")
    failed = TransportState.FAILED
    refused = await world.until(email.id, lambda r: r.transport_state is failed)
    assert refused.attempts == 1
    assert "SMTP 550 5.7.1" in str(refused.last_error)
    assert "Relaying denied" in str(refused.last_error)
    exhausted = await world.until(peppol.id, lambda r: r.transport_state is failed)
    assert exhausted.attempts == exhausted.max_attempts
    assert "503" in str(exhausted.last_error)
    assert world.smtp.received == []
