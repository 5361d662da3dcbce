"""The outbound dispatcher bounds a channel's retry_after."""

from __future__ import annotations

import contextlib
from datetime import timedelta
from pathlib import Path

from pipeline_support import make_pipeline

from gateway.channels import RetryableError
from gateway.model.samples import example_invoice
from gateway.store import Store, TransportState


async def test_a_huge_retry_after_is_bounded_and_recorded(store: Store, tmp_path: Path) -> None:
    pipe = await make_pipeline(store, tmp_path)
    # A channel of a third party may hand any timedelta over.
    pipe.recorder.script = [RetryableError("busy", code="429",
                                           retry_after=timedelta(seconds=400_000_000_000))]
    record = await pipe.submit(example_invoice())
    with contextlib.suppress(Exception):
        await pipe.dispatcher.run_once()
    after = await pipe.store.get(record.id)
    assert after is not None
    # Unbounded, utc_now() + delay overflows: nothing would be recorded, the claim would
    # stay, and the message would be sent again when the lease ran out.
    assert after.transport_state is TransportState.RETRYING, (after.transport_state,
                                                              after.claimed_by)
    assert after.next_attempt_at is not None
