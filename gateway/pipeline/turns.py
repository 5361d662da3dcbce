"""Channels' turns at periodic work, held as leases in the store.

Each full gateway instance runs every channel. A channel's lease is named
``channel:<channel>:<purpose>`` and held under the instance's
:class:`HolderName`; the turn's note is the lease's note of that name.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import socket
from datetime import timedelta
from pathlib import Path

from gateway.store import Store

HOLDER_FILE = "turn-holder"
TURN_PREFIX = "channel:"
"""Leases of channels' turns are named ``channel:<channel>:<purpose>``."""


def channel_turn(lease: str) -> tuple[str, str]:
    """The channel and the purpose of a turn's lease name (a purpose may hold ":")."""
    channel, _, purpose = lease.removeprefix(TURN_PREFIX).partition(":")
    return channel, purpose


class HolderName:
    """The name this instance holds turns and claims under: kept by its data directory
    across restarts.

    A turn held by a process that died stays held until its lease runs out,
    three poll intervals: a quarter of an hour for Digipoort's OphaalService
    at its default. The process that takes the dead one's place in the same
    data directory takes up its name too, and with it its turns, at once.
    Two instances running on one data directory at the same time must not
    share a name (each would think it had the turn): the first keeps a lock
    on the name file while it runs, and any other takes ``fallback``, a name
    of its own for as long as it lives.

    Claims work alike: the workers of a process that keeps the name are
    named ``<name>/<pid>:<random>``, so the next process on the data
    directory knows every claim under ``<name>/`` for a dead predecessor's
    and need not wait for its lease (see
    :meth:`gateway.store.Store.expire_claims`).

    A name is made on this host (``<host>:<random>``), and only a process on
    that host takes it up: a data directory copied to another machine, or
    shared with one over a file system whose locks may not reach across
    machines, gets a name of its own there, so a living instance elsewhere
    keeps its turns and claims. (A host renamed, or a container started under
    a new host name, waits for its leases once, as with any new name.)
    """

    def __init__(self, data_dir: Path, fallback: str) -> None:
        self._lock: int | None = None
        self._fallback = fallback
        self.name = fallback
        path = data_dir / HOLDER_FILE
        try:
            data_dir.mkdir(parents=True, exist_ok=True)
            lock = os.open(f"{path}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        except OSError:
            return  # a data directory it cannot write: turns wait for leases to expire
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(lock)  # another instance runs on this data directory
            return
        self._lock = lock
        try:
            self.name = path.read_text("utf-8").strip()
        except FileNotFoundError:
            self.name = ""
        made_here = self.name.rsplit(":", 1)[0] == socket.gethostname()
        if not made_here or "/" in self.name or self.name.split() != [self.name]:
            # The host for a person reading the leases, and so that another host never
            # takes it up (see the class); the random part tells apart two machines of
            # one name (containers) whose data directories look alike. A name edited to
            # hold "/" or blanks would blur the claims' prefixes.
            self.name = f"{socket.gethostname()}:{secrets.token_hex(4)}"
            path.write_text(self.name + "\n", "utf-8")

    @property
    def claims_prefix(self) -> str | None:
        """How the ids of this name's claim workers start; None under a fallback name,
        which no other process ever had, so no restart takes its claims back."""
        return None if self._lock is None else f"{self.name}/"

    def worker_instance(self) -> str:
        """The instance name for this process's claim workers (see the class); with pid and
        a random part, so that no two processes ever share one, even in containers (pid 1)."""
        prefix = self.claims_prefix
        if prefix is None:
            return self._fallback
        return f"{prefix}{os.getpid()}:{secrets.token_hex(3)}"

    def close(self) -> None:
        """Let the next instance on this data directory take the name up."""
        lock, self._lock = self._lock, None
        if lock is not None:
            with contextlib.suppress(OSError):
                os.close(lock)


class StoreTurns:
    """:class:`gateway.channels.Turns` of one channel on this instance."""

    def __init__(self, store: Store, channel: str, holder: str) -> None:
        self.store = store
        self.channel = channel
        self.holder = holder

    def lease(self, purpose: str) -> str:
        return f"{TURN_PREFIX}{self.channel}:{purpose}"

    async def take(self, purpose: str, ttl: timedelta) -> bool:
        return await self.store.hold_lease(self.lease(purpose), self.holder, ttl)

    async def give_up(self, purpose: str) -> None:
        await self.store.release_lease(self.lease(purpose), self.holder)

    async def read_note(self, purpose: str) -> str | None:
        return await self.store.lease_note(self.lease(purpose))

    async def leave_note(self, purpose: str, note: str) -> bool:
        return await self.store.leave_lease_note(self.lease(purpose), self.holder, note)
