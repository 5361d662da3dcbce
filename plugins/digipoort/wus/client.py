"""``WusClient``: call one WUS operation over two-way TLS, signed both ways.

``await client.call(url, action, body, timeout)`` wraps ``body`` in a SOAP 1.1
envelope with WS-Addressing headers, signs it (``security.sign``), POSTs it with
aiohttp over the given ``ssl.SSLContext`` (see ``tls.client_context``) and
returns the response's body element after checking the response:

- HTTP 200 with a signed envelope: the signature is verified against
  ``server_trust`` (skipped only when ``server_trust`` is None, for rehearsal),
  the signer against ``signers``, its wsu:Timestamp against ``timestamps``, and
  wsa:RelatesTo must name our MessageID. ``signers`` is a ``Signers`` (who may
  sign, by subject serialNumber), ``TLS_SERVER`` (the organisation of the TLS
  server certificate presented on the connection the answer came on) or None
  (any certificate ``server_trust`` accepts: the CA alone).
- a SOAP fault (HTTP 500, or any status) with a koppelvlak fault in its detail
  raises ``WusFault`` (``.retryable`` from ``codes``); a fault without one raises
  ``SoapFault``.
- everything else raises ``WusTransportError`` with ``retryable`` and ``kind``:
  "timeout", "connection" (refused, reset, closed early), "tls" (handshake or
  certificate refused: not retryable), "http" (5xx retryable, other statuses
  not, redirects included, which are never followed; the reason quotes the
  start of the body, sanitised), "security" (the
  response's signature is not acceptable: retryable, because the request can
  be sent again with the same aanleverkenmerk),
  "protocol" (a response that is not a WUS envelope), "too-large" (an answer
  past ``MAX_ENVELOPE_BYTES``, the most ``parse_envelope`` takes: reading stops
  there; retryable, like an answer cut off).
"""

from __future__ import annotations

import asyncio
import ssl
from datetime import timedelta
from types import TracebackType
from typing import Final, Literal

import aiohttp
from aiohttp.connector import Connection
from cryptography import x509
from lxml import etree

from gateway.httpread import AnswerTooLarge, read_bounded

from .envelope import (
    MAX_ENVELOPE_BYTES,
    Envelope,
    EnvelopeError,
    SoapFault,
    parse_envelope,
    request_envelope,
)
from .koppelvlak import WusFault
from .security import (
    DEFAULT_TIMESTAMPS,
    DEFAULT_TTL,
    Algorithm,
    SecurityError,
    Signers,
    SigningIdentity,
    TimestampRule,
    Trust,
    sign,
    subject_text,
    verify,
)

# How many characters of an HTTP error's body its reason quotes.
BODY_IN_REASON: Final = 300

TLS_SERVER: Final[Literal["tls-server"]] = "tls-server"
"""``signers``: the answer is signed by the organisation of the TLS server that sent it."""


class WusTransportError(Exception):
    """The call did not produce a WUS answer; ``retryable`` says whether to try again."""

    def __init__(
        self, reason: str, *, retryable: bool, kind: str, status: int | None = None
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable
        self.kind = kind
        self.status = status


class _Answer(aiohttp.ClientResponse):
    """A response that keeps the TLS server certificate (DER) of its connection."""

    server_certificate: bytes | None = None

    async def start(self, connection: Connection) -> aiohttp.ClientResponse:
        # Taken before the body is read: once a short answer is complete, its
        # connection is back in the pool (or closed) before the caller sees it.
        transport = connection.transport
        ssl_object = None if transport is None else transport.get_extra_info("ssl_object")
        if isinstance(ssl_object, ssl.SSLObject | ssl.SSLSocket):
            self.server_certificate = ssl_object.getpeercert(binary_form=True)
        return await super().start(connection)


class WusClient:
    def __init__(
        self,
        identity: SigningIdentity,
        ssl_context: ssl.SSLContext,
        algorithm: Algorithm = "rsa-sha1",
        server_trust: Trust | None = None,
        *,
        ttl: timedelta = DEFAULT_TTL,
        timestamps: TimestampRule = DEFAULT_TIMESTAMPS,
        signers: Signers | Literal["tls-server"] | None = None,
    ) -> None:
        if isinstance(signers, str) and signers != TLS_SERVER:
            raise ValueError(f"signers must be a Signers, {TLS_SERVER!r} or None, "
                             f"not {signers!r}")
        self.identity = identity
        self.ssl_context = ssl_context
        self.algorithm: Algorithm = algorithm
        self.server_trust = server_trust
        self.ttl = ttl
        self.timestamps = timestamps
        self.signers = signers
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> WusClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _client_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(ssl=self.ssl_context, limit=32)
            self._session = aiohttp.ClientSession(connector=connector, response_class=_Answer)
        return self._session

    def build(self, url: str, action: str, body: etree._Element) -> tuple[bytes, str]:
        """The signed request bytes and its MessageID (exposed for tests and tools)."""
        envelope = request_envelope(body, to=url, action=action)
        message_id = envelope.findtext("{*}Header/{*}MessageID") or ""
        return sign(envelope, self.identity, self.algorithm, ttl=self.ttl), message_id

    async def call(
        self,
        url: str,
        action: str,
        body: etree._Element,
        timeout: float = 30.0,  # noqa: ASYNC109 - handed to aiohttp as the request's budget
    ) -> etree._Element:
        data, message_id = self.build(url, action, body)
        return await self.post(url, action, data, message_id, timeout)

    async def post(
        self,
        url: str,
        action: str,
        data: bytes,
        message_id: str | None,
        timeout: float,  # noqa: ASYNC109 - handed to aiohttp as the request's budget
    ) -> etree._Element:
        """Send already-built request bytes and check the answer as ``call`` does."""
        headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{action}"'}
        try:
            # Not followed: a redirect would take the signed document wherever it points,
            # plain http:// included. A moved service is a change of configuration.
            async with self._client_session().post(
                url, data=data, headers=headers, timeout=aiohttp.ClientTimeout(total=timeout),
                allow_redirects=False,
            ) as response:
                status = response.status
                try:
                    payload = await read_bounded(response, MAX_ENVELOPE_BYTES)
                except AnswerTooLarge as exc:
                    # More than parse_envelope takes (one inhoud is at most 20 MB of
                    # base64): a proxy's page or a broken server, which may pass, as an
                    # answer cut off may.
                    raise WusTransportError(
                        f"{url} answered HTTP {status}, refused: {exc}", retryable=True,
                        kind="too-large", status=status,
                    ) from exc
                server = response.server_certificate if isinstance(response, _Answer) else None
        except TimeoutError as exc:
            raise WusTransportError(
                f"no answer from {url} within {timeout:g} s", retryable=True, kind="timeout"
            ) from exc
        except aiohttp.ClientSSLError as exc:
            raise WusTransportError(
                f"TLS with {url} failed: {exc}", retryable=False, kind="tls"
            ) from exc
        except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError) as exc:
            if _tls_alert(exc):
                raise WusTransportError(
                    f"TLS with {url} failed: {exc}", retryable=False, kind="tls"
                ) from exc
            hint = ""
            refused = (isinstance(exc, aiohttp.ClientConnectorError)
                       and isinstance(exc.os_error, ConnectionRefusedError))
            if refused:
                # Nothing listens there (yet): no certificate was looked at.
                hint = " (the connection was refused: nothing listens at that address)"
            elif isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientOSError):
                # Under TLS 1.3 a server that refuses our client certificate often just
                # closes the connection; say so, since the operator cannot tell otherwise.
                hint = (" (a server that does not trust our client certificate closes the "
                        "connection like this under TLS 1.3: check that it trusts its CA)")
            raise WusTransportError(
                f"connection to {url} failed: {exc.__class__.__name__}: {exc}{hint}",
                retryable=True,
                kind="connection",
            ) from exc
        except asyncio.CancelledError:
            raise
        return self._answer(url, status, payload, message_id, server)

    def _answer(
        self, url: str, status: int, payload: bytes, message_id: str | None,
        server_certificate: bytes | None = None,
    ) -> etree._Element:
        parsed: Envelope | None = None
        if payload.strip():
            try:
                parsed = parse_envelope(payload)
            except EnvelopeError:
                parsed = None
        if parsed is not None and parsed.fault is not None:
            raise parsed.fault
        if status != 200:
            # The body (a proxy's error page, a stack trace) is often the only account of
            # what went wrong: the reason quotes its start for the operator.
            said = _excerpt(payload)
            raise WusTransportError(
                f"{url} answered HTTP {status}" + (f": {said}" if said else ""),
                retryable=status >= 500 or status in (408, 429),
                kind="http",
                status=status,
            )
        if parsed is None or parsed.body is None:
            raise WusTransportError(
                f"{url} answered HTTP 200 without a SOAP envelope",
                retryable=True,
                kind="protocol",
                status=status,
            )
        if self.server_trust is not None:
            try:
                checked = verify(payload, self.server_trust, timestamps=self.timestamps,
                                 signers=self._signers(server_certificate))
            except (SecurityError, EnvelopeError) as exc:
                raise WusTransportError(
                    f"response from {url} refused: {exc}", retryable=True, kind="security"
                ) from exc
            parsed = checked.envelope
        if message_id and parsed.addressing.relates_to != message_id:
            raise WusTransportError(
                f"response from {url} relates to {parsed.addressing.relates_to!r}, "
                f"not to our request {message_id}",
                retryable=True,
                kind="protocol",
            )
        assert parsed.body is not None
        return parsed.body

    def _signers(self, server_certificate: bytes | None) -> Signers | None:
        if self.signers is None or isinstance(self.signers, Signers):
            return self.signers
        if server_certificate is None:
            raise SecurityError("no TLS server certificate to check the signer against "
                                "(the answer did not come over TLS)")
        server = x509.load_der_x509_certificate(server_certificate)
        return Signers.like(server, "the organisation of the TLS server certificate "
                                    f"{subject_text(server)} of this connection")


def _excerpt(payload: bytes) -> str:
    """The start of an error answer's body as one line of printable text, bounded.

    It ends up in logs and in a message's reason: line breaks, terminal escapes
    and other control characters from a foreign server must not come along.
    """
    # Not all of a large body: enough bytes for the characters quoted, spaces and all.
    head = payload[: BODY_IN_REASON * 4]
    text = head.decode("utf-8", "replace")
    flat = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    if len(flat) <= BODY_IN_REASON and len(head) == len(payload):
        return flat
    return flat[: BODY_IN_REASON - 1].rstrip() + "…"


def _tls_alert(exc: BaseException) -> bool:
    """Whether a connection error is really the peer refusing our certificate."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


__all__ = ["TLS_SERVER", "SoapFault", "WusClient", "WusFault", "WusTransportError"]
