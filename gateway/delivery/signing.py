"""The webhook signature: HMAC-SHA256 over a timestamp and the exact body bytes.

Every webhook request carries ``Wissel-Signature: t=<unix seconds>,v1=<hex>``,
where ``<hex>`` is HMAC-SHA256, keyed with the shared secret, over the ASCII
timestamp, a full stop, and the request body exactly as sent. Signing the
timestamp with the body lets the ERP refuse a captured request replayed
later; signing the bytes rather than parsed JSON means the ERP must check the
signature before it parses anything.
"""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_HEADER = "Wissel-Signature"
MESSAGE_ID_HEADER = "Wissel-Message-Id"
ATTEMPT_HEADER = "Wissel-Attempt"
SCHEME = "v1"
DEFAULT_TOLERANCE = 300


class SignatureError(ValueError):
    """A webhook request whose signature header is missing, malformed, stale or wrong."""


def signature(secret: bytes, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of ``<timestamp>.<body>``."""
    return hmac.new(secret, str(timestamp).encode("ascii") + b"." + body,
                    hashlib.sha256).hexdigest()


def signature_header(secret: bytes, body: bytes, timestamp: int | None = None) -> str:
    """The value of the ``Wissel-Signature`` header for ``body``, signed now by default."""
    stamp = int(time.time()) if timestamp is None else timestamp
    return f"t={stamp},{SCHEME}={signature(secret, stamp, body)}"


def verify(
    secret: bytes, header: str | None, body: bytes, *, tolerance: int = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> int:
    """Check a received request as the ERP does; returns the signed timestamp.

    Raises SignatureError naming what is wrong. The README shows a standalone
    copy of this check for the ERP side.
    """
    if not header:
        raise SignatureError(f"no {SIGNATURE_HEADER} header")
    parts: dict[str, list[str]] = {}
    for item in header.split(","):
        name, sep, value = item.strip().partition("=")
        if not sep:
            raise SignatureError(f"{SIGNATURE_HEADER} part {item.strip()!r} is not name=value")
        parts.setdefault(name, []).append(value)
    stamps = parts.get("t", [])
    if len(stamps) != 1 or not (stamps[0].isascii() and stamps[0].isdigit()):
        raise SignatureError(f"{SIGNATURE_HEADER} needs exactly one numeric t=")
    stamp = int(stamps[0])
    current = time.time() if now is None else now
    if abs(current - stamp) > tolerance:
        raise SignatureError(f"the signature timestamp {stamp} is more than {tolerance} s "
                             "away from now (replayed, or a clock is off)")
    expected = signature(secret, stamp, body)
    # Several v1 values are allowed so a secret can be rotated without downtime. A
    # non-ASCII value cannot be our hex, and compare_digest raises TypeError on one.
    if not any(given.isascii() and hmac.compare_digest(expected, given)
               for given in parts.get(SCHEME, [])):
        raise SignatureError("the signature does not match the body and the secret")
    return stamp
