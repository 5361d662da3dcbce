"""A repeat of a live message is that message, whatever a check would say of it now.

Intake looks no business key up before it works on a document: the store finds
a repeat where the message would be stored, and a repeat that a check,
routing or validation would refuse is looked up before its rejection is
stored. Either way the ERP gets the message it stored first, untouched. A
different document under the same number is no repeat: it is refused, and
nothing is stored for it. Only
the keys this intake stored lately are looked up first, so that their repeats
cost no encoding and no validation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs
import pytest
from pipeline_support import AGENCY_OIN, Pipeline, make_config, make_pipeline

from gateway.errors import GatewayError
from gateway.kinds import Direction
from gateway.model import Invoice
from gateway.model.json import to_json
from gateway.model.samples import example_invoice
from gateway.pipeline import DocumentRejected, NumberTaken, OutboundPipeline
from gateway.pipeline.outbound import _RecentKeys
from gateway.store import MessageRecord, Store, TransportState
from gateway.validation import ValidationReport
from gateway.validation.pool import ValidationPool


def with_wrong_totals(invoice: Invoice) -> Invoice:
    return attrs.evolve(invoice, totals=attrs.evolve(
        invoice.totals, payable=invoice.totals.payable + 1))


async def outbound_messages(store: Store) -> list[MessageRecord]:
    return list((await store.list_messages(direction=Direction.OUTBOUND)).items)


async def assert_untouched(pipe: Pipeline, first: MessageRecord, again: MessageRecord) -> None:
    assert again.id == first.id
    assert again.raw_payload == first.raw_payload
    assert again.canonical_json == first.canonical_json
    assert again.transport_state is first.transport_state
    assert [m.id for m in await outbound_messages(pipe.store)] == [first.id]


async def test_another_document_that_fails_a_check_is_refused_as_the_number_taken(
    pipe: Pipeline,
) -> None:
    first = await pipe.submit(example_invoice())
    events = await pipe.store.events(first.id)
    # The amounts no longer add up, and it is not the stored document: neither a repeat
    # nor a rejection to store, since its number belongs to the first.
    with pytest.raises(NumberTaken) as caught:
        await pipe.outbound.submit(to_json(with_wrong_totals(example_invoice())),
                                   agency_oin=AGENCY_OIN)
    assert caught.value.existing.id == first.id
    assert [m.id for m in await outbound_messages(pipe.store)] == [first.id]
    assert await pipe.store.events(first.id) == events


async def test_the_same_content_under_a_new_number_is_still_rejected(pipe: Pipeline) -> None:
    await pipe.submit(example_invoice())
    broken = attrs.evolve(with_wrong_totals(example_invoice()), number="F2024-0002")
    with pytest.raises(DocumentRejected) as caught:
        await pipe.outbound.submit(to_json(broken), agency_oin=AGENCY_OIN)
    assert caught.value.stage == "check"
    assert caught.value.message_id is not None
    rejected = await pipe.store.get(caught.value.message_id)
    assert rejected is not None
    assert rejected.transport_state is TransportState.REJECTED
    assert rejected.business_key is not None
    assert rejected.business_key.endswith(":invoice:F2024-0002")


async def test_a_repeat_that_routing_now_refuses_returns_the_first_message(
    store: Store, tmp_path: Path,
) -> None:
    pipe = await make_pipeline(store, tmp_path)
    first = await pipe.submit(example_invoice())
    # Since then the invoice route names a format that does not send invoices.
    changed = make_config(tmp_path, invoice_format="canonical:order:1")
    pipe.outbound.config = lambda: changed
    with pytest.raises(DocumentRejected, match="does not send invoice"):
        await pipe.outbound.submit(
            to_json(attrs.evolve(example_invoice(), number="F2024-0002")),
            agency_oin=AGENCY_OIN)
    again, created = await pipe.outbound.submit(to_json(example_invoice()),
                                                agency_oin=AGENCY_OIN)
    assert not created
    assert again.id == first.id
    states = sorted(m.transport_state.value for m in await outbound_messages(store))
    assert states == ["queued", "rejected"]  # the new number's rejection, no second one


async def test_a_repeat_that_validation_now_refuses_returns_the_first_message(
    store: Store, tmp_path: Path, installed_standards: Path,
) -> None:
    # Peppol wants a buyer reference or an order reference (PEPPOL-EN16931-R003).
    invoice: Invoice = attrs.evolve(example_invoice(), buyer_reference=None,
                                    order_reference=None)
    pipe = await make_pipeline(store, tmp_path)
    first = await pipe.submit(invoice)
    # Since then invoices go out as Peppol, whose rules this very document breaks.
    with ValidationPool(installed_standards, workers=1) as pool:
        peppol = make_config(tmp_path, invoice_format="peppol-bis:invoice:3.0")
        outbound = OutboundPipeline(store, lambda: peppol, pipe.registry, pool)
        again, created = await outbound.submit(to_json(invoice), agency_oin=AGENCY_OIN)
    assert not created
    await assert_untouched(pipe, first, again)


async def test_a_repeat_is_answered_when_validation_cannot_run(
    store: Store, tmp_path: Path,
) -> None:
    pipe = await make_pipeline(store, tmp_path)
    first = await pipe.submit(example_invoice())
    # Now invoices go out as Peppol, and no standards are installed to validate them.
    nothing = tmp_path / "no-standards"
    nothing.mkdir()
    with ValidationPool(nothing, workers=1) as pool:
        peppol = make_config(tmp_path, invoice_format="peppol-bis:invoice:3.0")
        outbound = OutboundPipeline(store, lambda: peppol, pipe.registry, pool)
        again, created = await outbound.submit(to_json(example_invoice()),
                                               agency_oin=AGENCY_OIN)
        assert not created
        await assert_untouched(pipe, first, again)
        # A new number meets the same trouble, and nothing is stored for it.
        with pytest.raises(GatewayError):
            await outbound.submit(to_json(attrs.evolve(example_invoice(), number="F2024-0002")),
                                  agency_oin=AGENCY_OIN)
    assert [m.id for m in await outbound_messages(store)] == [first.id]


async def test_a_rejected_message_is_no_repeat(pipe: Pipeline) -> None:
    with pytest.raises(DocumentRejected):
        await pipe.outbound.submit(to_json(with_wrong_totals(example_invoice())),
                                   agency_oin=AGENCY_OIN)
    # The same broken document again is rejected again, not answered as the first rejection.
    with pytest.raises(DocumentRejected) as caught:
        await pipe.outbound.submit(to_json(with_wrong_totals(example_invoice())),
                                   agency_oin=AGENCY_OIN)
    assert caught.value.stage == "check"
    assert len(await outbound_messages(pipe.store)) == 2


class CountingValidator:
    """The pool, counting the documents handed to it."""

    def __init__(self, pool: ValidationPool) -> None:
        self.pool = pool
        self.documents = 0

    async def validate(self, data: bytes, layers: Any, format_key: str | None = None,
                       ) -> ValidationReport:
        self.documents += 1
        return await self.pool.validate(data, layers, format_key)


async def test_a_repeat_of_a_recent_submission_is_not_validated_again(
    store: Store, tmp_path: Path, installed_standards: Path,
) -> None:
    with ValidationPool(installed_standards, workers=1) as pool:
        counting = CountingValidator(pool)
        pipe = await make_pipeline(store, tmp_path, validator=counting,
                                   invoice_format="peppol-bis:invoice:3.0")
        first = await pipe.submit(example_invoice())
        assert counting.documents == 1
        for _ in range(3):
            again, created = await pipe.outbound.submit(to_json(example_invoice()),
                                                        agency_oin=AGENCY_OIN)
            assert not created
            await assert_untouched(pipe, first, again)
        assert counting.documents == 1

        # Another intake (a second gateway instance, a restart) has not seen the key:
        # it does the work, and the store still answers with the first message.
        other = OutboundPipeline(store, pipe.outbound.config, pipe.registry, counting)
        again, created = await other.submit(to_json(example_invoice()), agency_oin=AGENCY_OIN)
        assert not created
        await assert_untouched(pipe, first, again)
        assert counting.documents == 2


def test_the_recent_keys_forget_the_oldest_first() -> None:
    recent = _RecentKeys(3)
    for key in ("a", "b", "c"):
        recent.add(key)
    recent.add("a")  # seen again: now the newest
    recent.add("d")
    assert [key in recent for key in "abcd"] == [True, False, True, True]
    recent.add(None)
    assert None not in recent
