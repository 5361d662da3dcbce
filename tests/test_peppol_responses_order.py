"""Peppol responses and receipts applied in the right order, to the right message.

Each test was a review finding against the Peppol simulator: a date-only Invoice
Response taken for older than the receipt, a late acceptance undoing paid, a
receipt of another transmission applied, and a resend after an MLR rejection that
the access point took for a duplicate.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Awaitable, Callable
from pathlib import Path

from test_peppol_channel import Setup, running, secrets, sent_and  # noqa: F401 (fixtures)

from gateway.formats import EncodeContext
from gateway.model import DocumentReference, InvoiceResponse, InvoiceStatus, Party, PartyId
from gateway.pipeline.operator import retry
from gateway.store import TransportState
from gateway.xmlsafe import parse_xml
from plugins.peppol.channel import file_stem
from plugins.peppol.simulator import Transmission
from plugins.ubl_ordering.formats import PeppolInvoiceResponse


def _t111(transmission: Transmission, number: str, status: InvoiceStatus, *,
          issued: dt.date, at: dt.time | None) -> bytes:
    """A T111 for the invoice of ``transmission``, as an agency's system writes it."""
    sender, receiver = transmission.envelope.receiver, transmission.envelope.sender
    response = InvoiceResponse(
        number=number, issue_date=issued, issue_time=at, status=status,
        invoice_reference=DocumentReference(id=_invoice_number(transmission), type_code="380"),
        sender=Party(registration_name="Agency",
                     endpoint_id=PartyId(scheme=sender.scheme, value=sender.value)),
        receiver=Party(registration_name="Supplier",
                       endpoint_id=PartyId(scheme=receiver.scheme, value=receiver.value)))
    return PeppolInvoiceResponse().encode(response, EncodeContext())


def _invoice_number(transmission: Transmission) -> str:
    root = parse_xml(transmission.payload).getroot()
    found = root.find("{urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2}ID")
    assert found is not None
    assert found.text
    return str(found.text)


async def _deliver(setup: Setup, transmission: Transmission, payload: bytes) -> None:
    await setup.simulator.deliver(payload, sender=transmission.envelope.receiver,
                                  receiver=transmission.envelope.sender, kind="T111")


async def _until_status(setup: Setup, message_id: str, code: str) -> None:
    """Until the message's timeline has a status ``code`` (or 4 s passed: the caller's
    assertions then say what it has)."""
    for _ in range(200):
        if code in await setup.statuses(message_id):
            return
        await asyncio.sleep(0.02)


async def test_an_invoice_response_without_issue_time_on_the_delivery_day_sets_its_state(
    running: Callable[..., Awaitable[Setup]],  # noqa: F811
) -> None:
    """cbc:IssueTime is optional in a T111. One issued today without it reads as today
    00:00, before the delivered receipt (received_at: now); a receipt's time does not
    make an answer older (StatusDesk._superseded), so the invoice shows accepted.
    It used to stay delivered-to-agency."""
    setup = await running()
    record = await setup.submit()
    await setup.until(record.id, sent_and("delivered-to-agency"))
    [transmission] = setup.simulator.transmissions.values()
    today = dt.datetime.now(dt.UTC).date()
    await _deliver(setup, transmission,
                   _t111(transmission, "IR-AP-1", InvoiceStatus.ACCEPTED, issued=today, at=None))
    await _until_status(setup, record.id, "AP")
    assert await setup.statuses(record.id) == ["delivered", "AP"]
    assert (await setup.record(record.id)).business_state == "accepted"


async def test_an_acceptance_arriving_after_the_payment_of_the_same_day_keeps_it_paid(
    running: Callable[..., Awaitable[Setup]],  # noqa: F811
) -> None:
    """AP and PD issued the same day without IssueTime carry the same moment; delivered
    out of order (PD first, as Invoice Responses are not ordered), the AP goes on the
    timeline but paid, a final state, stays. It used to move back to accepted."""
    setup = await running()
    setup.simulator.inject("pending:100%", on="receipts")  # the receipt not yet reported
    record = await setup.submit()
    await setup.until(record.id, lambda r: r.transport_state is TransportState.SENT)
    [transmission] = setup.simulator.transmissions.values()
    today = dt.datetime.now(dt.UTC).date()
    await _deliver(setup, transmission,
                   _t111(transmission, "IR-PD-1", InvoiceStatus.PAID, issued=today, at=None))
    await setup.until(record.id, sent_and("paid"))
    await _deliver(setup, transmission,
                   _t111(transmission, "IR-AP-1", InvoiceStatus.ACCEPTED, issued=today, at=None))
    await _until_status(setup, record.id, "AP")
    assert await setup.statuses(record.id) == ["PD", "AP"]
    assert (await setup.record(record.id)).business_state == "paid"


async def test_a_receipt_of_another_transmission_is_not_applied(
    running: Callable[..., Awaitable[Setup]], tmp_path: Path,  # noqa: F811
) -> None:
    """A receipt whose own "id" names another transmission than the one asked about
    (ap_client.receipt_from_json(of=...)) is no receipt: the message stays sent. It
    used to fail on the other transmission's failure."""
    ap = tmp_path / "ap"
    for sub in ("outbox", "receipts"):
        (ap / sub).mkdir(parents=True)

    def folders(_: object) -> str:
        return "\n".join(f"{key} = {json.dumps(value)}" for key, value in {
            "outbox_dir": str(ap / "outbox"), "receipts_dir": str(ap / "receipts"),
            "poll_interval": 0.05}.items())

    setup = await running(folders)
    record = await setup.submit()
    sent = await setup.until(record.id, lambda r: r.transport_state is TransportState.SENT)
    assert sent.transport_id is not None
    other = "0f0f0f0f-0000-4000-8000-000000000000"
    (ap / "receipts" / f"{file_stem(sent.transport_id)}.json").write_text(json.dumps({
        "id": other, "status": "failed", "receipt": None,
        "error": {"code": "delivery-failed", "text": f"transmission {other} failed"}}), "utf-8")
    for _ in range(75):  # 1.5 s: thirty poll rounds
        current = await setup.record(record.id)
        assert current.transport_state is TransportState.SENT, current.last_error
        await asyncio.sleep(0.02)


async def test_a_message_retried_after_an_mlr_rejection_is_transmitted_again(
    running: Callable[..., Awaitable[Setup]],  # noqa: F811
) -> None:
    """An MLR RE fails the message for an operator to send again. Its transmission's
    receipt said 'delivered', and the core tells the channel the message's business
    state (metadata), so the retry goes under a new instance id and is transmitted.
    It used to keep the id: the access point answered 'duplicate', sent nothing, and
    the message sat in sent / delivered-to-agency as if delivered."""
    setup = await running()
    record = await setup.submit()
    await setup.until(record.id, sent_and("delivered-to-agency"))
    [transmission] = setup.simulator.transmissions.values()
    await setup.simulator.send_mlr(transmission, [])
    await setup.until(record.id, lambda r: r.transport_state is TransportState.FAILED)

    assert setup.service.store is not None
    await retry(setup.service.store, record.id, actor="operator", reason="agency fixed it")
    await setup.until(record.id, lambda r: r.transport_state is TransportState.SENT)
    await asyncio.sleep(1.0)  # many receipt rounds (poll_interval 0.05 s)

    after = await setup.record(record.id)
    transmissions = list(setup.simulator.transmissions.values())
    assert len(transmissions) == 2 or after.transport_state is TransportState.FAILED, (
        after.transport_state, after.business_state,
        [(t.id, t.status, t.copies) for t in transmissions])

