"""Peppol: a message retried after a failed receipt is transmitted again, under a new id."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from test_peppol_channel import Setup, running, secrets  # noqa: F401 - fixtures

from gateway.pipeline.operator import retry
from gateway.store import TransportState


async def test_a_message_retried_after_a_failed_receipt_is_transmitted_again(
    running: Callable[..., Awaitable[Setup]],  # noqa: F811
) -> None:
    setup = await running(faults=("failed-receipt",))
    record = await setup.submit()
    failed = await setup.until(record.id, lambda r: r.transport_state is TransportState.FAILED)
    assert failed.last_error is not None
    assert "AS4 transmission" in failed.last_error
    assert len(setup.simulator.transmissions) == 1

    # The operator retries it (the receiving AP is fine again: no more faults).
    assert setup.service.store is not None
    await retry(setup.service.store, record.id, actor="operator", reason="AP fixed")
    await setup.until(record.id, lambda r: r.transport_state is TransportState.SENT)
    await asyncio.sleep(1.0)  # many receipt rounds (poll_interval 0.05 s)

    after = await setup.record(record.id)
    transmissions = list(setup.simulator.transmissions.values())
    # With the failed transmission's instance id the access point would answer
    # "duplicate" and transmit nothing, and the message would sit in 'sent' for ever.
    assert len(transmissions) == 2 or after.transport_state is TransportState.FAILED, (
        after.transport_state, after.business_state,
        [(t.id, t.status, t.copies) for t in transmissions])
