"""The quick tries inside one attempt reuse the transport id an earlier try obtained."""

from __future__ import annotations

from pathlib import Path

import attrs
from pipeline_support import FAST, make_pipeline

from gateway.channels import RetryableError
from gateway.model.samples import example_invoice
from gateway.store import Store, TransportState


async def test_quick_tries_reuse_the_transport_id_the_first_try_obtained(
    store: Store, tmp_path: Path,
) -> None:
    pipe = await make_pipeline(store, tmp_path, settings=attrs.evolve(FAST, quick_tries=3))
    # The transport assigned its reference, then the connection dropped before the answer
    # was complete: the channel reports it with the error, as the contract asks.
    pipe.recorder.script = [RetryableError("reset after submit", transport_id="srv-1")]
    record = await pipe.submit(example_invoice())
    assert await pipe.dispatcher.run_once() == 1
    sent = await pipe.store.get(record.id)
    assert sent is not None
    assert sent.transport_state is TransportState.SENT
    # Across stored attempts the id is handed back (test_pipeline_dispatch); within one
    # attempt too, or the second try would go out as a new submission.
    assert [m.transport_id for m in pipe.recorder.calls] == [None, "srv-1"]
    assert "srv-1" in sent.transport_ids
