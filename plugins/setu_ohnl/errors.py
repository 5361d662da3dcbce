"""What the SETU-OHNL formats raise when a document cannot be written or read."""

from __future__ import annotations

from gateway.errors import GatewayError


class SetuEncodeError(GatewayError):
    """A canonical document lacks what SETU-OHNL 2.0 requires, or holds what it cannot carry.

    The message names the canonical field, so the integrator knows what to change.
    """


class SetuDecodeError(GatewayError):
    """Bytes that are not a readable SETU-OHNL 2.0 document of the expected kind."""
