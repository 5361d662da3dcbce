"""What the simulator remembers: aanlever processes with their statuses, and the mailbox.

A caller is identified by the SHA-256 fingerprint of the certificate that
signed its request; "new" statuses and messages are those that caller has not
fetched yet.
"""

from __future__ import annotations

import asyncio
from datetime import datetime

import attrs

from ..wus import codes
from ..wus.koppelvlak import AanleverRequest, AfleverRequest, Fout, StatusResultaat


@attrs.define
class StatusEvent:
    code: str
    tijdstempel: datetime
    omschrijving: str
    fout: Fout | None = None
    details: str | None = None

    @property
    def terminal(self) -> bool:
        return codes.is_terminal(self.code, self.fout.foutcode if self.fout else None)


@attrs.define(eq=False)
class Process:
    kenmerk: str
    request: AanleverRequest
    scenario: str
    aangeleverd: datetime
    statuses: list[StatusEvent] = attrs.field(factory=list)
    fetched: dict[str, int] = attrs.field(factory=dict)  # caller -> statuses seen
    status_calls: int = 0
    stall_after: str | None = None  # no status after this code (SimulatorSettings.stall_after)
    done: asyncio.Event = attrs.field(factory=asyncio.Event)

    @property
    def codes(self) -> list[str]:
        return [s.code for s in self.statuses]

    @property
    def finished(self) -> bool:
        return bool(self.statuses) and self.statuses[-1].terminal

    def add(self, event: StatusEvent) -> None:
        self.statuses.append(event)
        if event.terminal:
            self.done.set()

    def resultaten(
        self,
        events: list[StatusEvent],
        vanaf: datetime | None = None,
        tot: datetime | None = None,
    ) -> list[StatusResultaat]:
        return [
            StatusResultaat(
                kenmerk=self.kenmerk,
                identiteit_belanghebbende=self.request.identiteit_belanghebbende,
                statuscode=e.code,
                tijdstempel_status=e.tijdstempel,
                statusomschrijving=e.omschrijving,
                status_foutcode=e.fout,
                statusdetails=e.details,
            )
            for e in events
            if (vanaf is None or e.tijdstempel >= vanaf) and (tot is None or e.tijdstempel <= tot)
        ]

    def take_new(self, caller: str) -> list[StatusEvent]:
        """Statuses this caller has not fetched yet; they count as fetched afterwards."""
        seen = self.fetched.get(caller, 0)
        self.fetched[caller] = len(self.statuses)
        return self.statuses[seen:]


@attrs.define(eq=False)
class MailboxEntry:
    """A message for a supplier to fetch through the OphaalService."""

    message: AfleverRequest
    fetched_by: set[str] = attrs.field(factory=set)
