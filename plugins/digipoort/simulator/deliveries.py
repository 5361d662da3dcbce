"""Agency documents the simulator delivers to an AfleverService, and what became of each.

Digipoort keeps trying a supplier's AfleverService that does not take a
delivery (domain.md 3.4: 420, 72 hours of redelivery), so the simulator does
too: a delivery that meets no server, a time-out, HTTP 5xx or an afleverFault
that says to try again waits ``redeliver_interval`` seconds (doubling, at most
``MAX_PAUSE``) and goes again, until ``redeliver_for`` seconds have passed. A
refusal (an afleverFault such as ALS100, a TLS handshake the service refuses)
is final. Each delivery says which it is, so a rehearsal started before the
gateway loses nothing silently.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

import attrs

from ..wus.koppelvlak import AfleverRequest

# The samples ``POST /control/deliveries`` and ``--deliver-samples`` send: berichtsoort and
# the format whose first sample is the payload. They tell one story with
# examples/gateway.toml: the order from the agency it routes UBL-OHNL orders for over
# Digipoort, the staffing order and its timecard from JenV (order 40002147).
SAMPLES: Final = {
    "order": ("BESTELLING-UBL", "ubl-ohnl:order:1.9"),
    "staffing-order": ("BESTELLING-HRXML", "setu-ohnl:staffing-order:2.0"),
    "timecard": ("TIMECARD-HRXML", "setu-ohnl:timecard:2.0"),
}
MAX_PAUSE: Final = 30.0
MAX_TIMES: Final = 100

DELIVERED: Final = "delivered"
RETRYING: Final = "retrying"
REFUSED: Final = "refused"
GAVE_UP: Final = "gave-up"
QUEUED: Final = "queued-for-pickup"


@attrs.define(eq=False)
class Delivery:
    """One delivery of ``message`` to ``to`` (None: offered through the OphaalService)."""

    number: int
    message: AfleverRequest
    to: str | None
    what: str  # "sample order", "posted document", ...
    state: str = RETRYING
    attempts: int = 0
    error: str | None = None
    delivered_at: datetime | None = None
    next_attempt: datetime | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "delivery": self.number,
            "kenmerk": self.message.kenmerk,
            "berichtsoort": self.message.berichtsoort,
            "what": self.what,
            "from": self.message.identiteit_belanghebbende.nummer,
            "to": self.to,
            "state": self.state,
            "attempts": self.attempts,
            "error": self.error,
            "delivered_at": None if self.delivered_at is None else self.delivered_at.isoformat(),
            "next_attempt": None if self.next_attempt is None else self.next_attempt.isoformat(),
        }
