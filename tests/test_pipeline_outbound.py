"""Outbound intake: checks, business key, routing, encoding, validation, persistence."""

from __future__ import annotations

import json
from pathlib import Path

import attrs
import pytest
from pipeline_support import AGENCY_OIN, OTHER_OIN, SUPPLIER_KVK, Pipeline, make_pipeline

from gateway.kinds import Direction
from gateway.model import Invoice
from gateway.model.json import to_json
from gateway.model.samples import example_credit_note, example_invoice
from gateway.pipeline import DocumentRejected, DocumentTooLarge, NumberTaken, OutboundPipeline
from gateway.store import Store, TransportState
from gateway.validation.pool import ValidationPool


def without_buyer_oin(invoice: Invoice) -> Invoice:
    return attrs.evolve(invoice, buyer=attrs.evolve(invoice.buyer, ids=(), legal_id=None,
                                                    endpoint_id=None))


def invoice_json(**changes: object) -> dict[str, object]:
    document: dict[str, object] = to_json(example_invoice())
    document.update(changes)
    return document


async def test_a_submitted_invoice_is_queued_with_its_route_and_timeline(pipe: Pipeline) -> None:
    record, created = await pipe.outbound.submit(invoice_json(), agency_oin=AGENCY_OIN)
    assert created
    assert record.transport_state is TransportState.QUEUED
    assert record.business_key == f"{SUPPLIER_KVK}:{AGENCY_OIN}:invoice:F2024-0001"
    assert (record.channel, record.format_key, record.document_kind) == (
        "recorder", "canonical:invoice:1", "invoice")
    assert record.routing is not None
    assert any("routed by" in line for line in record.routing["explanation"])
    assert record.validation == {"format": "canonical:invoice:1", "valid": True, "layers": [],
                                 "findings": []}
    assert record.raw_payload is not None
    assert json.loads(record.raw_payload)["number"] == "F2024-0001"
    assert record.canonical_json is not None
    assert json.loads(record.canonical_json) == invoice_json()
    events = await pipe.store.events(record.id)
    assert [e.kind for e in events] == [
        "intake", "check", "route", "encode", "validate", "persist"]
    assert events[0].transport_state is TransportState.QUEUED


async def test_submitted_and_dispatched_it_is_sent_with_the_transport_id(pipe: Pipeline) -> None:
    record = await pipe.submit(example_invoice())
    sent = await pipe.until(record.id, {TransportState.SENT})
    assert sent.transport_id == f"rec-{record.id}"
    [message] = pipe.recorder.calls
    assert message.payload == record.raw_payload
    assert (message.agency_oin, message.kind, message.filename) == (
        AGENCY_OIN, "invoice", "F2024-0001.json")
    assert message.media_type == "application/json"
    assert [a.outcome for a in await pipe.store.attempts(record.id)] == ["accepted"]


async def test_the_folder_channel_writes_the_document(pipe: Pipeline, tmp_path: Path) -> None:
    record = await pipe.submit(example_credit_note())
    sent = await pipe.until(record.id, {TransportState.SENT})
    assert sent.transport_id is not None
    written = tmp_path / "out" / sent.transport_id
    assert written.read_bytes() == record.raw_payload
    assert pipe.recorder.calls == []


async def test_a_repeated_submission_returns_the_first_message(pipe: Pipeline) -> None:
    first, created = await pipe.outbound.submit(invoice_json(), agency_oin=AGENCY_OIN)
    assert created
    events = await pipe.store.events(first.id)
    # The same document written otherwise: keys in another order, other spacing, a
    # decimal with another scale. What the agency would get is the same.
    document = invoice_json()
    document["lines"][0]["quantity"]["value"] += ".0"  # type: ignore[index]
    body = json.dumps(dict(reversed(list(document.items()))), indent=4).encode()
    again, created = await pipe.outbound.submit(body, agency_oin=AGENCY_OIN)
    assert not created
    assert again.id == first.id
    assert again.raw_payload == first.raw_payload
    assert await pipe.store.events(first.id) == events
    page = await pipe.store.list_messages(direction=Direction.OUTBOUND)
    assert len(page.items) == 1


def fresh_intake(pipe: Pipeline) -> OutboundPipeline:
    """Another intake on the same store, which remembers no key: the store finds the repeat."""
    return OutboundPipeline(pipe.store, lambda: pipe.config, pipe.registry,
                            pipe.outbound.validator)


@pytest.mark.parametrize("intake", ["remembering", "fresh"])
async def test_another_document_under_a_stored_number_is_refused_unstored(
    pipe: Pipeline, intake: str,
) -> None:
    first, _ = await pipe.outbound.submit(invoice_json(), agency_oin=AGENCY_OIN)
    events = await pipe.store.events(first.id)
    outbound = pipe.outbound if intake == "remembering" else fresh_intake(pipe)
    # An ERP that corrected its invoice and sent it again under the same number.
    corrected = invoice_json(due_date="2024-04-30")
    with pytest.raises(NumberTaken) as caught:
        await outbound.submit(corrected, agency_oin=AGENCY_OIN)
    assert caught.value.existing.id == first.id
    assert caught.value.number == "F2024-0001"
    assert caught.value.field == "number"
    assert f"as message {first.id} (queued)" in str(caught.value)
    page = await pipe.store.list_messages(direction=Direction.OUTBOUND)
    assert [m.id for m in page.items] == [first.id]
    assert await pipe.store.events(first.id) == events


async def test_the_same_number_for_another_agency_is_another_message(pipe: Pipeline) -> None:
    document = example_invoice()
    other = without_buyer_oin(document)
    first = await pipe.submit(document)
    second = await pipe.submit(other, agency_oin=OTHER_OIN)
    assert first.id != second.id
    assert second.business_key == f"{SUPPLIER_KVK}:{OTHER_OIN}:invoice:F2024-0001"


async def test_a_proposal_invoice_is_refused_and_kept(pipe: Pipeline) -> None:
    proposal = attrs.evolve(example_invoice(), proposal=True, type_code="VD")
    with pytest.raises(DocumentRejected) as caught:
        await pipe.submit(proposal)
    error = caught.value
    assert error.stage == "check"
    assert error.rules == ("proposal-invoice",)
    assert "voorstelfactuur" in error.reason
    assert "F2024-0001" in error.reason
    assert error.message_id is not None
    stored = await pipe.store.get(error.message_id)
    assert stored is not None
    assert stored.transport_state is TransportState.REJECTED
    assert pipe.recorder.calls == []


async def test_wrong_arithmetic_is_rejected_with_the_rules_and_kept(pipe: Pipeline) -> None:
    invoice = example_invoice()
    broken = attrs.evolve(invoice, totals=attrs.evolve(
        invoice.totals, payable=invoice.totals.payable + 1))
    text = json.dumps(to_json(broken)).encode()
    with pytest.raises(DocumentRejected) as caught:
        await pipe.outbound.submit(text, agency_oin=AGENCY_OIN)
    error = caught.value
    assert error.stage == "check"
    assert "BR-CO-16" in error.rules
    assert error.message_id is not None
    stored = await pipe.store.get(error.message_id)
    assert stored is not None
    assert stored.transport_state is TransportState.REJECTED
    assert stored.canonical_json == text.decode()
    assert stored.last_error is not None
    assert "BR-CO-16" in stored.last_error
    assert [e.kind for e in await pipe.store.events(stored.id)] == ["intake", "rejected"]
    # Rejected is not live: the corrected invoice under the same number is accepted.
    corrected = await pipe.submit(invoice)
    assert corrected.transport_state is TransportState.QUEUED
    assert corrected.business_key == stored.business_key
    assert await pipe.dispatcher.run_once() == 1
    assert len(pipe.recorder.calls) == 1


async def test_json_errors_name_the_path(pipe: Pipeline) -> None:
    document = invoice_json()
    lines = document["lines"]
    assert isinstance(lines, list)
    lines[0]["quantity"]["value"] = 1.5
    with pytest.raises(DocumentRejected, match=r"lines\[0\]\.quantity\.value") as caught:
        await pipe.outbound.submit(document, agency_oin=AGENCY_OIN)
    assert caught.value.stage == "intake"
    assert caught.value.message_id is not None
    stored = await pipe.store.get(caught.value.message_id)
    assert stored is not None
    assert stored.transport_state is TransportState.REJECTED
    assert stored.canonical_json is not None
    assert json.loads(stored.canonical_json) == document


@pytest.mark.parametrize("data", [b"{not json", b"\xff\xfe\x00garbage", b"[]", b"null"])
async def test_unreadable_input_is_kept_as_rejected(pipe: Pipeline, data: bytes) -> None:
    with pytest.raises(DocumentRejected) as caught:
        await pipe.outbound.submit(data, agency_oin=AGENCY_OIN)
    assert caught.value.message_id is not None
    stored = await pipe.store.get(caught.value.message_id)
    assert stored is not None
    assert stored.transport_state is TransportState.REJECTED
    assert stored.raw_payload == data or (stored.canonical_json or "").encode() == data


async def test_data_that_is_not_json_is_refused_unstored(pipe: Pipeline) -> None:
    with pytest.raises(DocumentRejected, match="not JSON data") as caught:
        await pipe.outbound.submit({"document": object()}, agency_oin=AGENCY_OIN)
    assert caught.value.message_id is None
    assert (await pipe.store.list_messages()).items == ()


async def test_an_oversized_document_is_refused_before_storing(
    store: Store, tmp_path: Path,
) -> None:
    pipe = await make_pipeline(store, tmp_path)
    pipe.outbound.settings = attrs.evolve(pipe.outbound.settings, max_document_bytes=100)
    with pytest.raises(DocumentTooLarge, match="limit is 100"):
        await pipe.outbound.submit(b" " * 101, agency_oin=AGENCY_OIN)
    assert (await store.list_messages()).items == ()


async def test_an_unknown_agency_is_rejected_at_routing(pipe: Pipeline) -> None:
    unknown = "00000001006492083000"
    with pytest.raises(DocumentRejected, match="no agency with OIN") as caught:
        await pipe.outbound.submit(to_json(without_buyer_oin(example_invoice())),
                                   agency_oin=unknown)
    assert caught.value.stage == "route"


async def test_an_invalid_oin_is_rejected(pipe: Pipeline) -> None:
    with pytest.raises(DocumentRejected, match="not a valid OIN"):
        await pipe.outbound.submit(invoice_json(), agency_oin="123")


async def test_a_document_for_another_buyer_is_refused(pipe: Pipeline) -> None:
    with pytest.raises(DocumentRejected, match="buyer has OIN") as caught:
        await pipe.outbound.submit(invoice_json(), agency_oin=OTHER_OIN)
    assert caught.value.rules == ("agency-oin-mismatch",)


async def test_the_declared_kind_must_match(pipe: Pipeline) -> None:
    with pytest.raises(DocumentRejected, match="submitted as order"):
        await pipe.outbound.submit(invoice_json(), agency_oin=AGENCY_OIN, kind="order")


async def test_an_unrouted_kind_is_rejected(pipe: Pipeline) -> None:
    from gateway.model.samples import example_order

    with pytest.raises(DocumentRejected, match="no route for document kind order"):
        await pipe.outbound.submit(to_json(example_order()), agency_oin=AGENCY_OIN)


async def test_peppol_invoice_is_encoded_and_validated(
    store: Store, tmp_path: Path, installed_standards: Path,
) -> None:
    with ValidationPool(installed_standards, workers=1) as pool:
        pipe = await make_pipeline(store, tmp_path, validator=pool,
                                   invoice_format="peppol-bis:invoice:3.0")
        record = await pipe.submit(example_invoice())
        assert record.format_key == "peppol-bis:invoice:3.0"
        assert record.raw_payload is not None
        assert record.raw_payload.lstrip().startswith(b"<")
        assert record.validation is not None
        assert record.validation["valid"], record.validation
        assert len(record.validation["layers"]) >= 2
        sent = await pipe.until(record.id, {TransportState.SENT})
        assert pipe.recorder.calls[0].media_type == "application/xml"
        assert pipe.recorder.calls[0].filename == "F2024-0001.xml"
        assert sent.transport_id is not None


async def test_an_invalid_encoding_is_rejected_with_the_report(
    store: Store, tmp_path: Path, installed_standards: Path,
) -> None:
    invoice: Invoice = example_invoice()
    # Peppol wants a buyer reference or an order reference (PEPPOL-EN16931-R003).
    unreferenced = attrs.evolve(invoice, buyer_reference=None, order_reference=None)
    with ValidationPool(installed_standards, workers=1) as pool:
        pipe = await make_pipeline(store, tmp_path, validator=pool,
                                   invoice_format="peppol-bis:invoice:3.0")
        with pytest.raises(DocumentRejected) as caught:
            await pipe.submit(unreferenced)
    assert caught.value.stage == "validate"
    assert caught.value.rules
    assert caught.value.message_id is not None
    stored = await store.get(caught.value.message_id)
    assert stored is not None
    assert stored.transport_state is TransportState.REJECTED
    assert stored.validation is not None
    assert not stored.validation["valid"]
    assert stored.raw_payload is not None
