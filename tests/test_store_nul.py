"""NUL characters: SQLite stores them, PostgreSQL text and jsonb cannot; both act alike."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from gateway.store import Attempt, AttemptOutcome, MessageRecord, Store, TransportState

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
LEASE = timedelta(minutes=5)


def invoice(key: str, **kwargs: Any) -> MessageRecord:
    return MessageRecord.new_outbound(
        document_kind="invoice", business_key=key, agency_oin="00000001003214345000",
        canonical_json='{"number": "1"}', raw_payload=b"<Invoice/>", channel="digipoort",
        format_key="nlcius:invoice:1.0", now=T0, **kwargs)


async def test_a_retryable_error_with_a_nul_in_its_reason_is_scheduled(store: Store) -> None:
    # A channel's error text quoting a binary answer: the retry must still be recorded,
    # otherwise the claim stays and the reason is lost when the lease runs out.
    record, _ = await store.add_outbound(invoice("K1"))
    [claimed] = await store.claim_due("w", 1, LEASE, now=T0)
    reason = "HTTP 502: b'\x00\x01garbage'"
    attempt = Attempt(record.id, claimed.attempts, T0, T0, AttemptOutcome.RETRYABLE, "502",
                      reason)
    after = await store.schedule_retry(record.id, T0 + LEASE, reason, expect_claimed_by="w",
                                       attempt=attempt, now=T0)
    assert after.transport_state is TransportState.RETRYING
    # The reason is kept (a NUL may come back as U+FFFD, the same on both backends).
    assert after.last_error is not None
    assert after.last_error.replace("\ufffd", "\x00") == reason


# -- the same through the pipeline ------------------------------------------------------

import pytest  # noqa: E402
from pipeline_support import AGENCY_OIN, Pipeline  # noqa: E402

from gateway.channels import RetryableError  # noqa: E402
from gateway.pipeline.errors import DocumentRejected  # noqa: E402


async def test_intake_rejects_and_stores_a_document_with_a_raw_nul(pipe: Pipeline) -> None:
    data = b'{"document": "invoice", "number": "F-\x00-1"}'
    with pytest.raises(DocumentRejected) as refused:
        await pipe.outbound.submit(data, agency_oin=AGENCY_OIN)
    assert refused.value.message_id is not None
    stored = await pipe.store.get(refused.value.message_id)
    assert stored is not None
    assert stored.transport_state is TransportState.REJECTED


async def test_dispatch_records_a_retry_whose_reason_holds_a_nul(pipe: Pipeline) -> None:
    from gateway.model.samples import example_invoice

    pipe.recorder.script = [RetryableError("proxy answered b'\x00\x00'", code="502")]
    record = await pipe.submit(example_invoice())
    assert await pipe.dispatcher.run_once() == 1
    after = await pipe.store.get(record.id)
    assert after is not None
    # PostgreSQL: the outcome write fails, the message stays claimed in 'sending'.
    assert after.transport_state is TransportState.RETRYING, (after.transport_state,
                                                               after.claimed_by)


async def test_an_escaped_nul_in_the_number_is_rejected_with_its_field(pipe: Pipeline) -> None:
    """Valid JSON ("\\u0000") that the business key, a text column, cannot hold."""
    import attrs
    from pipeline_support import document_json

    from gateway.model.samples import example_invoice

    data = document_json(attrs.evolve(example_invoice(), number="F-\x00-1"))
    assert b"\\u0000" in data
    with pytest.raises(DocumentRejected) as refused:
        await pipe.outbound.submit(data, agency_oin=AGENCY_OIN)
    assert refused.value.message_id is not None
    stored = await pipe.store.get(refused.value.message_id)
    assert stored is not None
    assert stored.transport_state is TransportState.REJECTED
    assert "number" in refused.value.reason
