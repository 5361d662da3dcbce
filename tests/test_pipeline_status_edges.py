"""StatusDesk: repeated words after a resend, and Invoice Responses out of order."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pipeline_support import AGENCY_OIN, SUPPLIER_KVK, Pipeline

from gateway.channels import StatusReport
from gateway.kinds import DocumentKind
from gateway.model.samples import example_invoice
from gateway.pipeline.operator import retry
from gateway.pipeline.status import StatusDesk
from gateway.store import BusinessState, Store, TransportState

SENT = {TransportState.SENT}


@pytest.fixture
def desk(store: Store) -> StatusDesk:
    return StatusDesk(store, lambda: SUPPLIER_KVK)


async def test_a_second_bounce_after_an_operator_retry_fails_the_message_again(
    pipe: Pipeline, desk: StatusDesk,
) -> None:
    """E-mail: the retried message keeps its Message-ID (transport id); when it bounces
    again with the same DSN (a DSN has no time), the bounce must fail the message again."""
    record = await pipe.submit(example_invoice())
    sent = await pipe.until(record.id, SENT)
    assert sent.transport_id is not None
    bounce = StatusReport(code="dsn-failed 5.1.1", text="inkoop@agency.nl: 550 5.1.1 no such user",
                          transport_id=sent.transport_id, failed=True, final=True)
    assert await desk.record("recorder", bounce) == sent.id
    failed = await pipe.store.get(sent.id)
    assert failed is not None
    assert failed.transport_state is TransportState.FAILED

    await retry(pipe.store, sent.id, actor="operator", reason="address fixed?")
    again = await pipe.until(sent.id, SENT)
    assert again.transport_id == sent.transport_id  # same Message-ID on the resend

    # The resent mail bounces the same way.
    assert await desk.record("recorder", bounce) == sent.id
    after = await pipe.store.get(sent.id)
    assert after is not None
    # The second bounce is news, not "already recorded": the message fails again.
    assert after.transport_state is TransportState.FAILED


async def test_a_late_earlier_response_does_not_undo_a_final_business_state(
    pipe: Pipeline, desk: StatusDesk,
) -> None:
    """Peppol Invoice Responses may arrive out of order; PD (paid, final) must not be
    replaced by an AB issued before it that arrives later."""
    invoice = example_invoice()
    record = await pipe.submit(invoice)
    await pipe.until(record.id, SENT)
    paid = StatusReport("PD", "Invoice Response PD (paid)", agency_oin=AGENCY_OIN,
                        kind=DocumentKind.INVOICE, document_number=invoice.number,
                        business_state=BusinessState.PAID, final=True,
                        at=datetime(2026, 3, 2, 10, 0, tzinfo=UTC))
    acknowledged = StatusReport("AB", "Invoice Response AB (acknowledged)",
                                agency_oin=AGENCY_OIN, kind=DocumentKind.INVOICE,
                                document_number=invoice.number,
                                business_state=BusinessState.ACKNOWLEDGED,
                                at=datetime(2026, 3, 1, 9, 0, tzinfo=UTC))
    await desk.record("recorder", paid)
    await desk.record("recorder", acknowledged)
    after = await pipe.store.get(record.id)
    assert after is not None
    assert after.business_state == "paid"
