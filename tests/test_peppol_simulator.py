"""The Peppol simulator on its own: it validates what it receives and answers as configured.

The client is the channel's own access point client (plugins/peppol/ap_client.py),
over real HTTP on loopback; validation uses the installed standards.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from gateway.channels import Accepted, FinalError
from gateway.identifiers import PeppolParticipantId
from gateway.model import MessageLevelResponse, MessageStatus
from gateway.pluginmanager import build_registry, make_plugin_manager
from plugins.peppol.ap_client import HttpAccessPoint, Receipt
from plugins.peppol.sbdh import unwrap, wrap
from plugins.peppol.simulator import PeppolSimulator, SimulatorSettings

REGISTRY = build_registry(make_plugin_manager())
SUPPLIER = PeppolParticipantId.parse("0106:30097265")
AGENCY = PeppolParticipantId.parse("0190:00000001003227522000")


def invoice(broken: bool = False) -> bytes:
    fmt = REGISTRY.format("peppol-bis:invoice:3.0")
    first = fmt.samples()[0]
    data = first.data if first.data is not None else fmt.encode(first.document, first.context)
    if broken:
        marker = b"<cbc:InvoiceTypeCode>380</cbc:InvoiceTypeCode>"
        assert marker in data
        data = data.replace(marker, b"<cbc:InvoiceTypeCode>999</cbc:InvoiceTypeCode>")
    return data


async def final_receipt(ap: HttpAccessPoint, ident: str) -> Receipt:
    """The receipt once the simulator has validated and delivered (or refused) the document."""
    for _ in range(500):
        receipt = await ap.receipt(ident)
        if receipt is not None and receipt.final:
            return receipt
        await asyncio.sleep(0.02)
    raise AssertionError(f"no final receipt for {ident}")


@pytest.fixture
async def client() -> AsyncIterator[list[HttpAccessPoint]]:
    made: list[HttpAccessPoint] = []
    yield made
    for each in made:
        await each.close()


async def simulator(installed_standards: Path, **settings: Any) -> PeppolSimulator:
    running = PeppolSimulator(SimulatorSettings(listen="127.0.0.1:0", standards=installed_standards,
                                                **settings), registry=REGISTRY)
    await running.start()
    return running


async def test_an_invalid_invoice_gets_a_failed_receipt_with_the_findings(
    installed_standards: Path, client: list[HttpAccessPoint],
) -> None:
    sim = await simulator(installed_standards)
    try:
        ap = HttpAccessPoint(sim.url, None, 10)
        client.append(ap)
        envelope, data = wrap(invoice(broken=True), sender=SUPPLIER, receiver=AGENCY)
        outcome = await ap.submit(data, envelope.instance_id)
        assert outcome == Accepted(envelope.instance_id,
                                   detail=f"accepted by the access point as {envelope.instance_id}")
        receipt = await final_receipt(ap, envelope.instance_id)
        assert receipt.status == "failed"
        assert receipt.error_text is not None
        assert "refused the document" in receipt.error_text
        transmission = sim.transmissions[envelope.instance_id]
        assert transmission.format_key == "peppol-bis:invoice:3.0"
        assert transmission.findings, "the findings are kept"

        envelope, data = wrap(invoice(), sender=SUPPLIER, receiver=AGENCY)
        assert isinstance(await ap.submit(data, envelope.instance_id), Accepted)
        good = await final_receipt(ap, envelope.instance_id)
        assert (good.status, good.as4_message_id) == ("delivered", f"as4-{envelope.instance_id}")
    finally:
        await sim.stop()


async def test_in_mlr_mode_an_invalid_invoice_is_answered_with_an_mlr(
    installed_standards: Path, client: list[HttpAccessPoint], tmp_path: Path,
) -> None:
    inbox = tmp_path / "inbox"
    sim = await simulator(installed_standards, invalid="mlr", deliver_dir=inbox,
                          response_delay=0.0)
    try:
        ap = HttpAccessPoint(sim.url, None, 10)
        client.append(ap)
        envelope, data = wrap(invoice(broken=True), sender=SUPPLIER, receiver=AGENCY)
        assert isinstance(await ap.submit(data, envelope.instance_id), Accepted)
        receipt = await final_receipt(ap, envelope.instance_id)
        assert receipt.status == "delivered"
        for _ in range(200):
            files = list(inbox.glob("*.xml"))
            if files:
                break
            await asyncio.sleep(0.02)
        [file] = files
        answer, payload = unwrap(file.read_bytes())
        assert (answer.sender, answer.receiver) == (AGENCY, SUPPLIER)
        mlr = REGISTRY.detect(payload).format.decode(payload).document
        assert isinstance(mlr, MessageLevelResponse)
        assert mlr.status is MessageStatus.REJECTED
        assert mlr.document_reference.id == envelope.instance_id
        assert mlr.line_responses
        assert all(line.reason_code in ("BV", "BW") for line in mlr.line_responses)
    finally:
        await sim.stop()


async def test_a_broken_envelope_is_refused_with_a_problem(
    installed_standards: Path, client: list[HttpAccessPoint],
) -> None:
    sim = await simulator(installed_standards, token="secret-token")
    try:
        wrong = HttpAccessPoint(sim.url, "other-token", 10)
        ap = HttpAccessPoint(sim.url, "secret-token", 10)
        client.extend([wrong, ap])
        envelope, data = wrap(invoice(), sender=SUPPLIER, receiver=AGENCY)
        refused = await wrong.submit(data, envelope.instance_id)
        assert isinstance(refused, FinalError)
        assert "HTTP 401" in refused.reason
        outcome = await ap.submit(invoice(), "inst-x")
        assert isinstance(outcome, FinalError)
        assert "not a valid SBDH document" in outcome.reason
        assert "the root is <Invoice>" in outcome.reason
    finally:
        await sim.stop()
