"""The HTTP API of the access point, as the channel uses it (see README.md, "The access point API").

Every access point has its own API; this module holds all that this channel
knows about one, so supporting another access point is a second class with
the same methods (``submit``, ``look_up``). The API:

- ``POST {access_point}/outbound`` with the SBDH document
  (``Content-Type: application/xml``, ``Authorization: Bearer <token>``):
  ``202 {"id": ..., "status": "accepted"}``. The id is the SBDH
  InstanceIdentifier; posting the same instance again answers the same id.
  A 4xx answer is an RFC 7807 problem (``title``, ``detail``).
- ``GET {access_point}/outbound/{id}``: the transmission's receipt,
  ``{"id", "status": "accepted" | "delivered" | "failed", "receipt":
  {"as4_message_id", "received_at"} | null, "error": {"code", "text"} | null}``;
  ``404`` (a problem) when the access point does not know the transmission.

Classification: connection failures, timeouts, resets, answers larger than
``MAX_ANSWER_BYTES``, 429 and 5xx may pass and are retryable; any other 4xx
is final, with the access point's own words.
A receipt request that gets no receipt says why (:class:`NoReceipt`); only its
404 is a definite answer, anything else may pass.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

import aiohttp
import attrs

from gateway.channels import (
    Accepted,
    FinalError,
    RetryableError,
    SendOutcome,
    retry_after_header,
)
from gateway.httpread import AnswerTooLarge, read_bounded

RECEIPT_STATUSES = ("accepted", "delivered", "failed")
_PROBLEM_TEXT_LIMIT = 500
MAX_ANSWER_BYTES = 1024 * 1024
"""The most of an access point's answer read: its answers are a small JSON object or
problem, never a document; more is a broken access point or a proxy's page."""


@attrs.frozen
class Receipt:
    """What the access point knows about one transmission."""

    id: str
    status: str
    as4_message_id: str | None = None
    at: dt.datetime | None = None
    error_code: str | None = None
    error_text: str | None = None

    @property
    def final(self) -> bool:
        return self.status in ("delivered", "failed")


@attrs.frozen
class NoReceipt:
    """Why the access point gave no receipt for a transmission this time."""

    reason: str
    unknown: bool = False
    """The access point answered that it does not know the transmission (HTTP 404): a
    definite answer, unlike a failure that may pass."""


class ReceiptError(ValueError):
    """A receipt that does not follow the API; the message says what is wrong."""


def _text(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def receipt_from_json(data: Any, of: str | None = None) -> Receipt:
    """A receipt from its JSON form (the API answer, or a receipt file in ``receipts_dir``).

    ``of`` is the transmission asked about: a receipt whose own ``id`` names another
    one is refused (ReceiptError) rather than applied to the wrong message, so the
    caller treats it as no receipt yet and asks again.
    """
    if not isinstance(data, Mapping):
        raise ReceiptError("a receipt must be a JSON object")
    ident, status = _text(data.get("id")), _text(data.get("status"))
    if ident is None:
        raise ReceiptError("the receipt has no 'id'")
    if of is not None and ident != of:
        # A misnamed file or a confused access point: its "failed" would fail our
        # message, its "delivered" report a delivery that did not happen.
        raise ReceiptError(f"the receipt is of transmission {ident!r}, not of {of!r} asked "
                           "about")
    if status not in RECEIPT_STATUSES:
        raise ReceiptError(f"receipt {ident}: 'status' is {data.get('status')!r}, expected one "
                           f"of {', '.join(RECEIPT_STATUSES)}")
    receipt = _mapping(data.get("receipt"))
    error = _mapping(data.get("error"))
    at = None
    received = _text(receipt.get("received_at"))
    if received is not None:
        try:
            at = dt.datetime.fromisoformat(received.replace("Z", "+00:00"))
        except ValueError:
            raise ReceiptError(f"receipt {ident}: received_at {received!r} is not a date and "
                               "time") from None
    return Receipt(id=ident, status=status, as4_message_id=_text(receipt.get("as4_message_id")),
                   at=at, error_code=_text(error.get("code")), error_text=_text(error.get("text")))


def receipt_to_json(receipt: Receipt) -> dict[str, Any]:
    """The JSON form of ``receipt``, as the API answers and receipt files hold it."""
    return {
        "id": receipt.id,
        "status": receipt.status,
        "receipt": None if receipt.as4_message_id is None else {
            "as4_message_id": receipt.as4_message_id,
            "received_at": receipt.at.isoformat() if receipt.at else None},
        "error": None if receipt.error_text is None and receipt.error_code is None else {
            "code": receipt.error_code, "text": receipt.error_text},
    }


def _problem_text(status: int, body: bytes) -> str:
    """The access point's own words from a problem answer, or its raw body, kept short."""
    text = body.decode("utf-8", "replace").strip()
    try:
        problem = json.loads(text)
    except ValueError:
        problem = None
    if isinstance(problem, Mapping):
        parts = [str(problem[key]) for key in ("title", "detail") if problem.get(key)]
        if parts:
            text = ": ".join(parts)
    text = text[:_PROBLEM_TEXT_LIMIT] or "(no body)"
    return f"access point answered HTTP {status}: {text}"


class HttpAccessPoint:
    """A client of the access point API above; one per channel instance."""

    def __init__(self, base_url: str, token: str | None, timeout: float) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self.timeout)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def submit(self, sbdh: bytes, instance_id: str) -> SendOutcome:
        """Hand one SBDH document over; never raises for what the network or the AP does."""
        url = f"{self.base_url}/outbound"
        headers = {**self._headers(), "Content-Type": "application/xml"}
        try:
            # Not followed: a redirect would take the document (to another host, or to
            # plain http://); a moved access point is a change of configuration.
            async with self.session.post(url, data=sbdh, headers=headers,
                                         allow_redirects=False) as response:
                body = await read_bounded(response, MAX_ANSWER_BYTES)
                if response.status in (200, 201, 202):
                    return self._accepted(body, instance_id)
                reason = _problem_text(response.status, body)
                if response.status in (408, 429) or response.status >= 500:
                    return RetryableError(reason, code=f"http-{response.status}",
                                          retry_after=retry_after_header(response.headers.get("Retry-After")),
                                          transport_id=instance_id)
                return FinalError(reason, code=f"http-{response.status}",
                                  transport_id=instance_id)
        except TimeoutError:
            return RetryableError(f"no answer from the access point at {url} within "
                                  f"{self.timeout.total} s", code="timeout",
                                  transport_id=instance_id)
        except AnswerTooLarge as exc:
            # Whether it took the document is unknown, as after a cut-off answer: posting
            # the same instance again is safe.
            return RetryableError(f"the access point at {url}: {exc}", code="too-large",
                                  transport_id=instance_id)
        except aiohttp.ClientError as exc:
            return RetryableError(f"cannot reach the access point at {url}: "
                                  f"{type(exc).__name__}: {exc}", code="connection",
                                  transport_id=instance_id)

    @staticmethod
    def _accepted(body: bytes, instance_id: str) -> SendOutcome:
        try:
            answer = json.loads(body)
        except ValueError:
            answer = None
        ident = _text(answer.get("id")) if isinstance(answer, Mapping) else None
        if ident is None:
            return RetryableError("the access point accepted the document but its answer names "
                                  f"no transmission id: {body[:200]!r}", code="bad-answer",
                                  transport_id=instance_id)
        if ident != instance_id:
            # The API promises the SBDH instance id; anything else would break receipts.
            return FinalError(f"the access point answered id {ident!r} for instance "
                              f"{instance_id!r}; this channel expects the SBDH instance id",
                              code="bad-answer", transport_id=instance_id)
        return Accepted(ident, detail=f"accepted by the access point as {ident}")

    async def look_up(self, transmission_id: str) -> Receipt | NoReceipt:
        """The receipt of a transmission, or why there is none; never raises for what the
        network or the access point does."""
        url = f"{self.base_url}/outbound/{transmission_id}"
        try:
            async with self.session.get(url, headers=self._headers(),
                                        allow_redirects=False) as response:
                body = await read_bounded(response, MAX_ANSWER_BYTES)
                if response.status == 404:
                    return NoReceipt(_problem_text(404, body), unknown=True)
                if response.status != 200:
                    return NoReceipt(_problem_text(response.status, body))
                try:
                    return receipt_from_json(json.loads(body), of=transmission_id)
                except ValueError as exc:  # ReceiptError included
                    return NoReceipt(f"the access point's receipt is unreadable: {exc}")
        except TimeoutError:
            return NoReceipt(f"no answer from the access point at {url} within "
                             f"{self.timeout.total} s")
        except AnswerTooLarge as exc:
            return NoReceipt(f"the access point at {url}: {exc}")
        except aiohttp.ClientError as exc:
            return NoReceipt(f"cannot reach the access point at {url}: "
                             f"{type(exc).__name__}: {exc}")

    async def receipt(self, transmission_id: str) -> Receipt | None:
        """The receipt of a transmission; None while the access point gives none."""
        answer = await self.look_up(transmission_id)
        return answer if isinstance(answer, Receipt) else None
