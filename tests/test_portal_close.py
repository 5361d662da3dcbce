"""Closing a portal task happens once, however many operators close it at once."""

from __future__ import annotations

import asyncio

from test_portal import Running, gateway  # noqa: F401 - fixture

from gateway.store import TransportState
from plugins.portal.channel import PortalChannel, TaskClosed


async def test_a_task_is_closed_once_when_two_operators_close_it_at_once(
        gateway: Running) -> None:  # noqa: F811
    record = await gateway.submit("F2024-0199")
    task_id = str(record.transport_id)
    channel = gateway.service.channels["portal"]
    assert isinstance(channel, PortalChannel)
    # Alice submitted it in the portal; Bob, at the same moment, cancels it.
    results = await asyncio.gather(
        channel.done(task_id, "DI-4242", "alice"),
        channel.cancel(task_id, "duplicate, will not submit", "bob"),
        return_exceptions=True)
    closed = [r for r in results if isinstance(r, TaskClosed)]
    assert gateway.service.store is not None
    after = await gateway.service.store.get(record.id)
    assert after is not None
    statuses = [e.detail["code"] for e in await gateway.service.store.events(record.id)
                if e.kind == "status"]
    # Only one close passes the "is it open?" check: else the submitted message (delivered
    # to the agency, reference DI-4242) could end up failed, and an operator retry would
    # put it in the portal queue a second time.
    assert len(closed) == 1, (results, statuses, after.transport_state, after.business_state)
    assert not (after.business_state == "delivered-to-agency"
                and after.transport_state is TransportState.FAILED)
