"""Peppol: a message retried after a failed receipt is transmitted again, under a new id."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from test_peppol_channel import (  # noqa: F401 - fixtures
    Setup,
    api_channel,
    running,
    secrets,
    sent_and,
)

from gateway.pipeline.operator import reroute, retry
from gateway.store import TransportState
from plugins.peppol.simulator import PeppolSimulator


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


def with_a_channel_that_cannot_send(simulator: PeppolSimulator) -> str:
    """The Peppol channel, and a folder channel with nowhere to write outbound documents."""
    return api_channel(simulator) + '\n\n[channels.paper]\ntype = "folder"\ninbox = "in"\n'


async def test_a_failed_message_rerouted_away_and_back_is_transmitted_again(
    running: Callable[..., Awaitable[Setup]],  # noqa: F811
) -> None:
    """Back on Peppol the message has no transport id, and derives the failed one anew."""
    setup = await running(with_a_channel_that_cannot_send, faults=("failed-receipt",))
    record = await setup.submit()
    failed = await setup.until(record.id, lambda r: r.transport_state is TransportState.FAILED)
    first = failed.transport_id
    store, service = setup.service.store, setup.service
    assert store is not None
    assert service.validation is not None
    for channel in ("paper", "peppol"):
        await reroute(store, service.registry, service.validation, record.id,
                      actor="operator", channel=channel, config=service.config)
        await setup.until(record.id, lambda r: r.transport_state is TransportState.FAILED
                          or r.transport_state is TransportState.SENT)

    sent = await setup.until(record.id, sent_and("delivered-to-agency"))
    assert sent.transport_id not in (None, first)
    transmissions = setup.simulator.transmissions
    assert {t.id: t.status for t in transmissions.values()} == {
        first: "failed", sent.transport_id: "delivered"}
