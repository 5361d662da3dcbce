"""Peppol answers after a rejection, from the wrong participant, and receipt files left behind.

A resend after an MLR rejection is a new transmission whose receipt is asked
for, also when the MLR came before the first receipt; an answer from another
participant than the one the message went to does not move the message; and a
receipt file written after the agency answered leaves receipts_dir.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

from test_peppol_channel import (  # noqa: F401 (fixtures)
    Setup,
    folder_channel,
    running,
    secrets,
    sent_and,
)
from test_peppol_responses_order import _invoice_number

from gateway.formats import EncodeContext
from gateway.identifiers import PeppolParticipantId
from gateway.model import (
    DocumentReference,
    InvoiceResponse,
    InvoiceStatus,
    MessageLevelResponse,
    MessageStatus,
    Party,
    PartyId,
)
from gateway.pipeline.operator import retry
from gateway.store import TransportState
from plugins.peppol.ap_client import receipt_to_json
from plugins.peppol.channel import _sent_to, file_stem, instance_id_for
from plugins.peppol.simulator import Transmission
from plugins.ubl_ordering.formats import PeppolInvoiceResponse, PeppolMessageLevelResponse

OTHER_AGENCY = PeppolParticipantId("0190", "00000001003214345000")
NOT_AN_AGENCY = PeppolParticipantId("0106", "12345678")


def _party(participant: PeppolParticipantId) -> PartyId:
    return PartyId(scheme=participant.scheme, value=participant.value)


def _mlr_rejecting(transmission: Transmission, sender: PeppolParticipantId) -> bytes:
    now = dt.datetime.now(dt.UTC)
    return PeppolMessageLevelResponse().encode(MessageLevelResponse(
        number=f"MLR-{uuid.uuid4().hex[:12]}", issue_date=now.date(),
        issue_time=now.time().replace(microsecond=0), status=MessageStatus.REJECTED,
        description="Rejected: the document does not pass validation",
        document_reference=DocumentReference(id=transmission.id),
        sender=Party(endpoint_id=_party(sender)),
        receiver=Party(endpoint_id=_party(transmission.envelope.sender))), EncodeContext())


def _t111_accepting(transmission: Transmission, stated_sender: PeppolParticipantId) -> bytes:
    now = dt.datetime.now(dt.UTC)
    return PeppolInvoiceResponse().encode(InvoiceResponse(
        number=f"IR-{uuid.uuid4().hex[:12]}", issue_date=now.date(),
        issue_time=now.time().replace(microsecond=0), status=InvoiceStatus.ACCEPTED,
        invoice_reference=DocumentReference(id=_invoice_number(transmission), type_code="380"),
        sender=Party(registration_name="Agency", endpoint_id=_party(stated_sender)),
        receiver=Party(registration_name="Supplier",
                       endpoint_id=_party(transmission.envelope.sender))), EncodeContext())


async def _settled(setup: Setup, message_id: str, rounds: float = 1.0) -> list[str]:
    """The message's status codes once many receipt rounds (poll_interval 0.05 s) passed."""
    await asyncio.sleep(rounds)
    return await setup.statuses(message_id)


async def test_the_receipt_of_a_resend_after_an_mlr_rejection_is_asked_for(
    running: Callable[..., Awaitable[Setup]],  # noqa: F811
) -> None:
    """The retry used to keep business state delivered-to-agency, which the receipt poller
    does not ask about: the resend's failure at the access point was never told, and the
    message sat in sent for ever."""
    setup = await running()
    record = await setup.submit()
    await setup.until(record.id, sent_and("delivered-to-agency"))
    [first] = setup.simulator.transmissions.values()
    await setup.simulator.send_mlr(first, [])
    await setup.until(record.id, lambda r: r.transport_state is TransportState.FAILED)

    setup.simulator.inject("failed-receipt", on="outbound")  # the resend fails at the AP
    assert setup.service.store is not None
    await retry(setup.service.store, record.id, actor="operator", reason="agency fixed it")
    failed = await setup.until(
        record.id, lambda r: r.transport_state is TransportState.FAILED
        and r.transport_id != first.id, within=5)
    assert failed.last_error is not None
    assert "AS4 transmission" in failed.last_error
    assert await setup.statuses(record.id) == ["delivered", "MLR-RE", "delivery-failed"]


async def test_the_receipt_of_a_delivered_resend_after_an_mlr_rejection_is_recorded(
    running: Callable[..., Awaitable[Setup]],  # noqa: F811
) -> None:
    setup = await running()
    record = await setup.submit()
    await setup.until(record.id, sent_and("delivered-to-agency"))
    [first] = setup.simulator.transmissions.values()
    await setup.simulator.send_mlr(first, [])
    await setup.until(record.id, lambda r: r.transport_state is TransportState.FAILED)
    assert setup.service.store is not None
    await retry(setup.service.store, record.id, actor="operator", reason="agency fixed it")
    await setup.until(record.id, lambda r: r.transport_state is TransportState.SENT)
    for _ in range(250):
        if (await setup.statuses(record.id)).count("delivered") == 2:
            break
        await asyncio.sleep(0.02)
    assert await setup.statuses(record.id) == ["delivered", "MLR-RE", "delivered"]
    second = (await setup.record(record.id)).transport_id
    assert second != first.id
    assert setup.simulator.receipt_calls[str(second)] >= 1
    # Recorded once: not asked about again every round.
    calls = setup.simulator.receipt_calls[str(second)]
    await asyncio.sleep(0.5)
    assert setup.simulator.receipt_calls[str(second)] == calls


async def test_a_resend_after_an_mlr_rejection_before_the_receipt_is_a_new_transmission(
    running: Callable[..., Awaitable[Setup]],  # noqa: F811
) -> None:
    """The MLR came while the receipt still said accepted: the business state stayed
    none, so the retry reused the rejected instance id and the access point answered
    it as a duplicate; nothing was transmitted."""
    setup = await running()
    setup.simulator.inject("pending:100%", on="receipts")
    record = await setup.submit()
    await setup.until(record.id, lambda r: r.transport_state is TransportState.SENT)
    [first] = setup.simulator.transmissions.values()
    for _ in range(250):
        if first.status == "delivered":
            break
        await asyncio.sleep(0.02)
    await setup.simulator.send_mlr(first, [])
    await setup.until(record.id, lambda r: r.transport_state is TransportState.FAILED)
    setup.simulator.receipt_faults.clear()

    assert setup.service.store is not None
    await retry(setup.service.store, record.id, actor="operator", reason="agency fixed it")
    await setup.until(record.id, lambda r: r.transport_state is TransportState.SENT)
    resent = await setup.until(record.id, sent_and("delivered-to-agency"))
    transmissions = setup.simulator.transmissions
    assert resent.transport_id != first.id, [(t.id, t.copies) for t in transmissions.values()]
    assert len(transmissions) == 2
    assert first.copies == 1


async def test_an_mlr_from_another_participant_is_not_applied(
    running: Callable[..., Awaitable[Setup]],  # noqa: F811
) -> None:
    """An MLR quoting our transmission, from a participant we did not send it to, used to
    fail the message."""
    setup = await running()
    record = await setup.submit()
    await setup.until(record.id, sent_and("delivered-to-agency"))
    [transmission] = setup.simulator.transmissions.values()
    await setup.simulator.deliver(_mlr_rejecting(transmission, OTHER_AGENCY),
                                  sender=OTHER_AGENCY, receiver=transmission.envelope.sender,
                                  kind="T71 RE")
    for _ in range(25):
        current = await setup.record(record.id)
        assert current.transport_state is TransportState.SENT, current.last_error
        await asyncio.sleep(0.02)
    assert await setup.statuses(record.id) == ["delivered"]
    # The MLR itself is stored for the ERP: only its verdict on our message is refused.
    assert [r.document_kind for r in await setup.inbound()] == ["message-level-response"]

    # The agency's own MLR still counts.
    await setup.simulator.send_mlr(transmission, [])
    await setup.until(record.id, lambda r: r.transport_state is TransportState.FAILED)


async def test_an_invoice_response_from_another_participant_is_not_applied(
    running: Callable[..., Awaitable[Setup]],  # noqa: F811
) -> None:
    """A T111 whose SBDH sender is not the agency, but whose SenderParty states the
    agency's OIN, used to set the invoice accepted."""
    setup = await running()
    record = await setup.submit()
    await setup.until(record.id, sent_and("delivered-to-agency"))
    [transmission] = setup.simulator.transmissions.values()
    agency = transmission.envelope.receiver
    await setup.simulator.deliver(_t111_accepting(transmission, agency), sender=NOT_AN_AGENCY,
                                  receiver=transmission.envelope.sender, kind="T111 AP")
    assert await _settled(setup, record.id, 0.5) == ["delivered"]
    assert (await setup.record(record.id)).business_state == "delivered-to-agency"

    await setup.simulator.deliver(_t111_accepting(transmission, agency), sender=agency,
                                  receiver=transmission.envelope.sender, kind="T111 AP")
    await setup.until(record.id, sent_and("accepted"))


async def test_a_receipt_after_the_agency_answered_is_taken_from_the_receipts_folder(
    running: Callable[..., Awaitable[Setup]], tmp_path: Path,  # noqa: F811
) -> None:
    """In folder mode a receipt written after the agency's Invoice Response was never
    asked for (the message left business state none) and stayed in receipts_dir."""
    ap = tmp_path / "ap"
    for sub in ("outbox", "receipts", "inbox"):
        (ap / sub).mkdir(parents=True)
    setup = await running(folder_channel(tmp_path), deliver_dir=ap / "inbox")
    record = await setup.submit()
    await setup.until(record.id, lambda r: r.transport_state is TransportState.SENT)
    instance = instance_id_for(record.id)
    sbdh = ap / "outbox" / f"{file_stem(instance)}.xml"
    # The access point takes the document and delivers it; its receipt is written late.
    transmission, _ = await setup.simulator.take(sbdh.read_bytes(), wait=True)
    sbdh.unlink()
    await setup.simulator.send_invoice_response(transmission.id, "AP")
    await setup.until(record.id, sent_and("accepted"))
    receipt = ap / "receipts" / f"{file_stem(instance)}.json"
    receipt.write_text(json.dumps(receipt_to_json(transmission.receipt())), "utf-8")

    for _ in range(100):
        if not receipt.exists():
            break
        await asyncio.sleep(0.02)
    assert not receipt.exists(), "the receipt stays in receipts_dir"
    assert (ap / "receipts" / "done" / receipt.name).is_file()
    after = await setup.record(record.id)
    assert (after.transport_state, after.business_state) == (TransportState.SENT, "accepted")


async def test_the_sent_event_names_the_participant_it_was_addressed_to(
    running: Callable[..., Awaitable[Setup]],  # noqa: F811
) -> None:
    """Whom a send went to is a field of the "sent" event (the operator reads it there, the
    answer checks above compare with it), not a phrase appended to the free text."""
    setup = await running()
    record = await setup.submit()
    await setup.until(record.id, sent_and("delivered-to-agency"))
    [transmission] = setup.simulator.transmissions.values()
    assert setup.service.store is not None
    [sent] = [e for e in await setup.service.store.events(record.id) if e.kind == "sent"]
    assert sent.detail["recipient"] == str(transmission.envelope.receiver)
    assert "addressed to" not in sent.detail["detail"]


def test_a_send_recorded_before_the_recipient_field_is_still_read() -> None:
    agency = PeppolParticipantId("0190", "00000001003227522000")
    legacy = {"channel": "peppol", "transport_id": "t-1",
              "detail": f"accepted by the access point, addressed to {agency}"}
    assert _sent_to(legacy) == agency
    assert _sent_to({"recipient": str(agency), "detail": "accepted"}) == agency
    assert _sent_to({"detail": "accepted by the access point"}) is None
    assert _sent_to({"recipient": "not a participant"}) is None
