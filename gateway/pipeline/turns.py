"""Channels' turns at periodic work, held as leases in the store.

Each full gateway instance runs every channel. A channel's lease is named
``channel:<channel>:<purpose>`` and held by the instance id its dispatcher
claims messages with, so the store says which instance polls, as it says
which one sends.
"""

from __future__ import annotations

from datetime import timedelta

from gateway.store import Store


class StoreTurns:
    """:class:`gateway.channels.Turns` of one channel on this instance."""

    def __init__(self, store: Store, channel: str, holder: str) -> None:
        self.store = store
        self.channel = channel
        self.holder = holder

    def lease(self, purpose: str) -> str:
        return f"channel:{self.channel}:{purpose}"

    async def take(self, purpose: str, ttl: timedelta) -> bool:
        return await self.store.hold_lease(self.lease(purpose), self.holder, ttl)

    async def give_up(self, purpose: str) -> None:
        await self.store.release_lease(self.lease(purpose), self.holder)
