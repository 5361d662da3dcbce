"""Serving a WUS service from an aiohttp handler.

``WusEndpoint(service, identity, trust)`` knows one service ("aanlever",
"status", "ophaal" or "aflever"). ``await endpoint.read(request)`` checks, in
this order, and raises ``RequestRefused`` (holding the fault to answer) at the
first problem:

1. the TLS client certificate is there (when ``require_client_cert``);
2. the bytes are a well-formed SOAP 1.1 envelope with one body element;
3. wsa:Action names an operation of this service (and a SOAPAction header, if
   sent, agrees) and wsa:MessageID is present; ReplyTo, if present, is anonymous;
4. the body element is that operation's request element;
5. WS-Security verifies (``security.verify`` against ``trust``, the wsu:Timestamp
   against ``timestamps``) and the signing certificate is the TLS client certificate;
6. the body validates against the koppelvlak XSD.

Steps 2 to 6 answer the service's "request invalid" fault: ALS100 for the
AanleverService (the published meaning: "voldoet niet aan de
koppelvlakspecificaties"), STS100 for the StatusinformatieService. For the
OphaalService and the AfleverService no code is published; we answer ALS100
there too (our interpretation). The fault's foutbeschrijving names the reason.

``endpoint.respond(wus_request, body)`` returns the signed response;
``endpoint.fault_response(fault, ...)`` an unsigned SOAP fault with HTTP 500.
``endpoint.handler(callback)`` turns ``async callback(WusRequest) -> body`` into
an aiohttp handler; the callback raises ``WusFault`` to answer a fault.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Final
from urllib.parse import urlsplit

import attrs
from aiohttp import web
from cryptography import x509
from lxml import etree

from .envelope import Envelope, EnvelopeError, fault_envelope, parse_envelope, response_envelope
from .koppelvlak import KoppelvlakError, WusFault, q, validate
from .ns import OPERATIONS, SOAP, WSA, WSA_ANONYMOUS, WSSE, operation_of, response_action
from .security import (
    DEFAULT_TIMESTAMPS,
    Algorithm,
    SecurityError,
    SigningIdentity,
    TimestampRule,
    Trust,
    sign,
    verify,
)

INVALID_REQUEST_CODE: Final = {
    "aanlever": "ALS100",
    "status": "STS100",
    "ophaal": "ALS100",
    "aflever": "ALS100",
}

MAX_REQUEST_BYTES: Final = 32 * 1024 * 1024


@attrs.frozen
class WusRequest:
    service: str
    operation: str
    envelope: Envelope
    body: etree._Element
    signer: x509.Certificate
    peer_certificate: x509.Certificate | None
    raw: bytes = b""  # the request exactly as received, e.g. to persist before answering

    @property
    def message_id(self) -> str | None:
        return self.envelope.addressing.message_id


class RequestRefused(Exception):
    def __init__(self, fault: WusFault, operation: str, relates_to: str | None) -> None:
        super().__init__(str(fault))
        self.fault = fault
        self.operation = operation
        self.relates_to = relates_to


def peer_certificate(request: web.Request) -> x509.Certificate | None:
    """The TLS client certificate of the connection, if any."""
    transport = request.transport
    ssl_object = transport.get_extra_info("ssl_object") if transport is not None else None
    if ssl_object is None:
        return None
    der = ssl_object.getpeercert(binary_form=True)
    return x509.load_der_x509_certificate(der) if der else None


class WusEndpoint:
    def __init__(
        self,
        service: str,
        identity: SigningIdentity,
        trust: Trust,
        algorithm: Algorithm = "rsa-sha1",
        *,
        require_client_cert: bool = True,
        timestamps: TimestampRule = DEFAULT_TIMESTAMPS,
        as_digipoort: bool = False,
    ) -> None:
        if service not in OPERATIONS:
            raise ValueError(f"unknown WUS service {service!r}; one of {sorted(OPERATIONS)}")
        self.service = service
        # Digipoort's own checks (the simulator): wsa:To must be this service's address and
        # no headers of one's own. Our AfleverService does not make them: behind a proxy
        # that rewrites paths, Digipoort's wsa:To is not the path we are reached at.
        self.as_digipoort = as_digipoort
        self.identity = identity
        self.trust = trust
        self.algorithm: Algorithm = algorithm
        self.require_client_cert = require_client_cert
        self.timestamps = timestamps

    def _refuse(self, reason: str, operation: str, relates_to: str | None) -> RequestRefused:
        code = INVALID_REQUEST_CODE[self.service]
        return RequestRefused(WusFault(self.service, code, reason), operation, relates_to)

    async def read(self, request: web.Request) -> WusRequest:
        default_operation = OPERATIONS[self.service][0]
        peer = peer_certificate(request)
        if self.require_client_cert and peer is None:
            raise self._refuse("no TLS client certificate presented", default_operation, None)
        if request.content_length is not None and request.content_length > MAX_REQUEST_BYTES:
            raise self._refuse(
                f"request of {request.content_length} bytes exceeds {MAX_REQUEST_BYTES}",
                default_operation,
                None,
            )
        data = await request.read()
        try:
            envelope = parse_envelope(data)
        except EnvelopeError as exc:
            raise self._refuse(f"malformed SOAP envelope: {exc}", default_operation, None) from exc
        addressing = envelope.addressing
        relates_to = addressing.message_id
        if envelope.body is None:
            raise self._refuse("the request body is a SOAP fault", default_operation, relates_to)
        found = operation_of(addressing.action or "")
        if found is None or found[0] != self.service:
            raise self._refuse(
                f"wsa:Action {addressing.action!r} is not an operation of this service",
                default_operation,
                relates_to,
            )
        operation = found[1]
        soap_action = request.headers.get("SOAPAction")
        if soap_action is not None and soap_action.strip().strip('"') not in (
            "",
            addressing.action,
        ):
            raise self._refuse(
                f"SOAPAction {soap_action!r} differs from wsa:Action {addressing.action!r}",
                operation,
                relates_to,
            )
        if not addressing.message_id:
            raise self._refuse("wsa:MessageID is missing", operation, relates_to)
        if not addressing.to:
            raise self._refuse("wsa:To is missing", operation, relates_to)
        if self.as_digipoort and (
                urlsplit(addressing.to).path.rstrip("/") != request.path.rstrip("/")):
            raise self._refuse(
                f"wsa:To {addressing.to!r} is not the address of this service", operation,
                relates_to,
            )
        header = envelope.root.find(f"{{{SOAP}}}Header")
        own = [
            etree.QName(child).text
            for child in (header if header is not None else ())
            if isinstance(child.tag, str) and etree.QName(child).namespace not in (WSA, WSSE)
        ]
        if own and self.as_digipoort:
            raise self._refuse(
                f"own SOAP headers are not allowed: {', '.join(own)}", operation, relates_to
            )
        if addressing.reply_to is not None and addressing.reply_to != WSA_ANONYMOUS:
            raise self._refuse(
                f"wsa:ReplyTo must be {WSA_ANONYMOUS}, not {addressing.reply_to!r}",
                operation,
                relates_to,
            )
        expected = "afleverRequest" if operation == "afleveren" else (
            "aanleverRequest" if operation == "aanleveren" else f"{operation}Request"
        )
        if envelope.body.tag != q(expected):
            raise self._refuse(
                f"body element {envelope.body.tag} does not match wsa:Action "
                f"(expected kv:{expected})",
                operation,
                relates_to,
            )
        try:
            verified = verify(envelope.root, self.trust, timestamps=self.timestamps)
        except SecurityError as exc:
            raise self._refuse(f"WS-Security: {exc}", operation, relates_to) from exc
        if peer is not None and verified.certificate != peer:
            raise self._refuse(
                "the message is signed with another certificate than the TLS client certificate",
                operation,
                relates_to,
            )
        try:
            validate(envelope.body)
        except KoppelvlakError as exc:
            raise self._refuse(f"koppelvlak: {exc}", operation, relates_to) from exc
        return WusRequest(
            self.service, operation, envelope, envelope.body, verified.certificate, peer, data
        )

    def respond(self, wus_request: WusRequest, body: etree._Element) -> web.Response:
        """A signed response envelope around ``body``."""
        envelope = response_envelope(
            body,
            action=response_action(self.service, wus_request.operation),
            relates_to=wus_request.message_id,
        )
        data = sign(envelope, self.identity, self.algorithm)
        return web.Response(body=data, content_type="text/xml", charset="utf-8")

    def fault_response(
        self,
        fault: WusFault,
        operation: str,
        relates_to: str | None,
        *,
        client_error: bool = True,
        status: int = 500,
    ) -> web.Response:
        data = fault_envelope(
            fault, operation=operation, relates_to=relates_to, client_error=client_error
        )
        return web.Response(status=status, body=data, content_type="text/xml", charset="utf-8")

    def handler(
        self, callback: Callable[[WusRequest], Awaitable[etree._Element]]
    ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def handle(request: web.Request) -> web.StreamResponse:
            try:
                wus_request = await self.read(request)
            except RequestRefused as refused:
                return self.fault_response(refused.fault, refused.operation, refused.relates_to)
            try:
                body = await callback(wus_request)
            except WusFault as fault:
                return self.fault_response(
                    fault,
                    wus_request.operation,
                    wus_request.message_id,
                    client_error=not fault.retryable,
                )
            return self.respond(wus_request, body)

        return handle
