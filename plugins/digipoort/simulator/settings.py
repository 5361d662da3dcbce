"""Settings of the Digipoort simulator and the faults it can inject."""

from __future__ import annotations

import enum
from datetime import timedelta
from pathlib import Path

import attrs

from gateway.registry import Registry

from ..wus.koppelvlak import Identiteit
from ..wus.pki import CertFiles
from ..wus.security import (
    DEFAULT_CLOCK_SKEW,
    DEFAULT_MAX_MESSAGE_AGE,
    Algorithm,
    TimestampRule,
)


class FaultKind(enum.StrEnum):
    TIMEOUT = "timeout"  # hold the request for ``delay`` seconds, then drop it unanswered
    RESET = "reset"  # abort the TCP connection without an answer
    HTTP_500 = "http-500"  # plain HTTP 500 without a SOAP envelope
    HTTP_503 = "http-503"  # HTTP 503 Service Unavailable with Retry-After
    SLOW = "slow"  # answer normally after ``delay`` seconds
    # Take the request in, handle and answer it ``delay`` seconds later, also when the
    # caller has given up meanwhile: a busy Digipoort working through its queue.
    LATE = "late"
    BAD_SIGNATURE = "bad-signature"  # answer normally, but with a broken signature


@attrs.define
class Fault:
    """A fault to inject into the next ``count`` requests (of ``service``, or of any)."""

    kind: FaultKind = attrs.field(converter=FaultKind)
    count: int = 1
    service: str | None = None  # "aanlever", "status", "ophaal" or None for all
    delay: float = 5.0


@attrs.define
class SimulatorSettings:
    host: str = "127.0.0.1"
    port: int = 0  # 0: any free port
    pki_dir: Path | None = None  # None: a fresh test PKI in a temporary folder
    # CA bundles or certificate files whose client certificates are accepted;
    # empty: the CA of the simulator's own PKI.
    trust: tuple[Path, ...] = ()
    step_delay: float = 0.0  # seconds between two statuses of a process
    redelivery_delay: float | None = None  # the 72 h of redelivery; None: 3 * step_delay
    max_delivery_attempts: int = 3
    # Processes started from now on get no status after this code, ever: "110" stands
    # for a process lost on Digipoort's side, "400" for an agency that never validates
    # (no 500). Read at each aanlevering, so a test can change it between two.
    stall_after: str | None = None
    slow_delay: float = 2.0  # Zwaarbelast* scenarios
    overload_refusals: int = 1  # Overbelast* scenarios
    algorithm: Algorithm = "rsa-sha1"
    # The certificate and key the answers are signed with; None: the server
    # certificate. Another one stands for a Digipoort that signs with another
    # certificate than its TLS one, or for a stranger forging its answers.
    sign_with: CertFiles | None = None
    # The wsu:Timestamp a request (and the answer of an AfleverService) must carry:
    # see wus.security.TimestampRule.
    max_clock_skew: timedelta = DEFAULT_CLOCK_SKEW
    max_message_age: timedelta = DEFAULT_MAX_MESSAGE_AGE
    standards_dir: Path | None = None  # None: gateway.paths.standards_dir()
    validate_payload: bool = True
    # Afleveren: the AfleverService to deliver to, and the CA its server
    # certificate must chain to (empty: the simulator's own CA).
    deliver_to: str | None = None
    aflever_trust: tuple[Path, ...] = ()
    # A delivery the AfleverService did not take (no server yet, HTTP 5xx, a retryable
    # afleverFault) goes again after redeliver_interval seconds, the pause doubling up to
    # 30 s, until redeliver_for seconds after its first attempt (module ``deliveries``).
    redeliver_interval: float = 1.0
    redeliver_for: float = 600.0
    # HOST, PORT of the control API (plain HTTP, no authentication: keep it on loopback),
    # POST and GET /control/deliveries; None: no control API.
    control_listen: tuple[str, int] | None = None
    # The format registry for payload checks; None: built from the installed plugins.
    registry: Registry | None = attrs.field(default=None, eq=False, repr=False)
    agency: Identiteit = attrs.field(
        factory=lambda: Identiteit("00000001003214345000", "OIN")
    )
    # Where every aanlever process is kept, one JSON file each, to be taken up again at the
    # next start (walk and all); None keeps them in memory only.
    state_dir: Path | None = None

    def timestamp_rule(self) -> TimestampRule:
        return TimestampRule(self.max_clock_skew, self.max_message_age)
