"""The AfleverService we host: Digipoort pushes orders, staffing orders and timecards here.

Two-way TLS (Digipoort's client certificate must chain to ``aflever_client_ca``
and carry one of the subject serialNumbers in ``aflever_client_ids``: the CA
vouches for many organisations, and the request names its own sender),
then the library's checks (addressing, WS-Security against the same CA,
signer = TLS client, koppelvlak XSD). The raw document goes to the gateway's
inbound sink, which stores it durably, and only then do we answer
afleverResponse. A delivery Digipoort repeats (it retries when it missed our
answer) carries the same kenmerk; the sink knows it by channel and kenmerk
and stores it once, and we answer it again.

If the sink cannot store the document we answer an afleverFault with ALS400,
the code Digipoort itself uses for a technical error (no code is published
for a supplier's AfleverService), so Digipoort tries again later.

``GET ?wsdl`` serves our reconstruction of the AfleverService WSDL (Logius
does not publish one; see ``wus/wsdl/AfleverService_V1_2.wsdl``).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

from aiohttp import web

from gateway.channels import SERVER_STOP_TIMEOUT, InboundDocument, InboundSink
from gateway.model.common import Attachment

from .settings import DigipoortSettings
from .wus.koppelvlak import AfleverRequest, AfleverResponse, WusFault
from .wus.security import SigningIdentity, Trust, subject_ids
from .wus.server import RequestRefused, WusEndpoint, peer_certificate
from .wus.tls import server_context

log = logging.getLogger(__name__)

WSDL = Path(__file__).resolve().parent / "wus" / "wsdl" / "AfleverService_V1_2.wsdl"
TECHNICAL_ERROR = "ALS400"
REFUSED = "ALS100"


def inbound_document(channel: str, bericht: AfleverRequest) -> InboundDocument:
    """What the gateway stores of a delivered (or fetched) Digipoort message."""
    metadata = {
        "berichtsoort": bericht.berichtsoort,
        "berichtkenmerk": bericht.berichtkenmerk,
        "tijdstempel_aangeleverd": bericht.tijdstempel_aangeleverd.isoformat(),
        "belanghebbende_type": bericht.identiteit_belanghebbende.type,
        "mime_type": bericht.bericht_inhoud.mime_type,
    }
    if bericht.aanleverkenmerk:
        metadata["aanleverkenmerk"] = bericht.aanleverkenmerk
    if bericht.identiteit_ontvanger is not None:
        metadata["ontvanger"] = bericht.identiteit_ontvanger.nummer
    # Invoices carry their attachments here, beside the document, not in the UBL.
    attachments = tuple(
        Attachment(content=bijlage.inhoud, mime_type=bijlage.mime_type,
                   filename=bijlage.bestandsnaam)
        for bijlage in bericht.bijlagen)
    return InboundDocument(
        data=bericht.bericht_inhoud.inhoud, channel=channel, transport_id=bericht.kenmerk,
        sender=bericht.identiteit_belanghebbende.nummer,
        filename=bericht.bericht_inhoud.bestandsnaam, metadata=metadata,
        attachments=attachments)


class AfleverServer:
    def __init__(self, channel: str, config: DigipoortSettings, inbound: InboundSink,
                 identity: SigningIdentity) -> None:
        if config.aflever_listen is None or config.aflever_client_ca is None:
            raise ValueError(f"channel {channel!r}: the AfleverService needs aflever_listen "
                             "and aflever_client_ca")
        self.channel = channel
        self.config = config
        self.inbound = inbound
        # The CA that Digipoort's TLS client certificate chains to also vouches for its
        # signature: the endpoint insists that both are the same certificate.
        trust = Trust.from_pem_files(config.aflever_client_ca)
        self.endpoint = WusEndpoint("aflever", identity, trust, config.signature_algorithm)
        self._runner: web.AppRunner | None = None
        self.address: tuple[str, int] | None = None

    @property
    def url(self) -> str:
        if self.address is None:
            raise RuntimeError(f"channel {self.channel!r}: the AfleverService is not running")
        host, port = self.address
        return f"https://{host if ':' not in host else f'[{host}]'}:{port}/"

    async def start(self) -> None:
        config = self.config
        assert config.aflever_listen is not None
        assert config.aflever_client_ca is not None
        passphrase = (None if config.private_key_passphrase is None
                      else config.private_key_passphrase.decode())
        ssl_context = server_context(config.aflever_certificate or config.certificate,
                                     config.aflever_private_key or config.private_key,
                                     config.aflever_client_ca, passphrase=passphrase)
        app = web.Application(client_max_size=32 * 1024 * 1024)
        app.router.add_get("/{tail:.*}", self._wsdl)
        app.router.add_post("/{tail:.*}", self._afleveren)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=SERVER_STOP_TIMEOUT)
        await self._runner.setup()
        host, port = config.aflever_listen
        site = web.TCPSite(self._runner, host, port, ssl_context=ssl_context)
        await site.start()
        sockets = getattr(site._server, "sockets", None) or []
        self.address = sockets[0].getsockname()[:2] if sockets else (host, port)
        log.info("channel %s: AfleverService on %s", self.channel, self.url)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _wsdl(self, request: web.Request) -> web.StreamResponse:
        if "wsdl" not in {key.lower() for key in request.query}:
            raise web.HTTPNotFound(text="POST SOAP requests here; GET ?wsdl for the WSDL\n")
        return web.Response(body=WSDL.read_bytes(), content_type="text/xml", charset="utf-8")

    async def _afleveren(self, request: web.Request) -> web.StreamResponse:
        peer = peer_certificate(request)
        ids = () if peer is None else subject_ids(peer)
        if not set(ids) & set(self.config.aflever_client_ids):
            reason = (f"the TLS client certificate (subject serialNumber "
                      f"{', '.join(ids) or 'none'}) is not one that may deliver here")
            log.warning("channel %s: afleverRequest from %s refused: %s", self.channel,
                        request.remote, reason)
            return self.endpoint.fault_response(WusFault("aflever", REFUSED, reason),
                                                "afleveren", None)
        try:
            wus_request = await self.endpoint.read(request)
        except RequestRefused as refused:
            log.warning("channel %s: afleverRequest from %s refused: %s", self.channel,
                        request.remote, refused.fault.foutbeschrijving)
            return self.endpoint.fault_response(refused.fault, refused.operation,
                                                refused.relates_to)
        bericht = AfleverRequest.from_element(wus_request.body)
        try:
            await self.inbound(inbound_document(self.channel, bericht))
        except Exception as exc:
            log.exception("channel %s: delivery %s could not be stored", self.channel,
                          bericht.kenmerk)
            fault = WusFault("aflever", TECHNICAL_ERROR,
                             f"het bericht {bericht.kenmerk} kon niet worden opgeslagen: "
                             f"{type(exc).__name__}: {exc}"[:1000])
            return self.endpoint.fault_response(fault, wus_request.operation,
                                                wus_request.message_id, client_error=False)
        response = AfleverResponse(
            kenmerk=bericht.kenmerk, berichtkenmerk=bericht.berichtkenmerk,
            tijdstempel_afgeleverd=datetime.now(UTC), berichtsoort=bericht.berichtsoort)
        return self.endpoint.respond(wus_request, response.to_element())
