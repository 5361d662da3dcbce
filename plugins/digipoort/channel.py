"""The ``digipoort`` channel: aanleveren over WUS, status polling, inbound delivery.

``send`` submits one document to the AanleverService and answers with
Digipoort's kenmerk as the transport id. The aanleverkenmerk (our own
reference on the envelope) is derived from the message id, so every retry of
a message carries the same one and Digipoort's records and ours line up.

Errors are classified here, where the fault codes are known: ALS100..ALS170
say the request itself is wrong (final, with Digipoort's text); ALS400,
overload, time-outs and connection failures may pass (retryable). A response
whose signature does not verify is retryable: we cannot tell what Digipoort
answered, and the dispatcher's bounded retries end in the dead letter with
the reason if it keeps failing (a rotated Digipoort certificate that our
``server_ca`` does not know yet, say), rather than dropping a document that
may have been refused.

After acceptance a poller asks the StatusinformatieService about every
message the core still lists as waiting, and reports each status (see
:mod:`plugins.digipoort.status`). The first question after a start is
``getStatussenProces`` (the whole history: the core ignores what it already
has), later ones ``getNieuweStatussenProces``. Nothing is asked about for
ever: a process with no new status ``status_deadline`` after the send or its
latest status ends the asking (``no-status`` before the agency has it,
``polling-stopped`` after). Silence is only what Digipoort says or fails to
say when asked: while the StatusinformatieService does not answer, the
deadline also counts from the first unanswered question about the process
since this instance started asking (``DigipoortChannel._end_if_overdue``).
Of several gateway instances on one database, the one that has the turn
(:class:`gateway.channels.Turn`) polls; the others skip their rounds, and
one of them takes over when it stops or dies. The
OphaalService poller calls Digipoort under a turn of its own (``ophaal``);
see :mod:`plugins.digipoort.ophaal` for what needs no turn.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from lxml import etree

from gateway.channels import (
    Accepted,
    Channel,
    ChannelContext,
    FinalError,
    OutboundMessage,
    RetryableError,
    SendOutcome,
    SentMessage,
    StatusSink,
    Turn,
    TurnLost,
)
from gateway.errors import GatewayError
from gateway.store import BusinessState
from gateway.store.model import utc_now
from gateway.tasks import cancel_and_wait
from gateway.xmlsafe import parse_xml

from .aflever import AfleverServer
from .ophaal import OphaalPoller
from .settings import DigipoortSettings, parse_settings
from .status import last_status, overdue_report, report_for
from .wus import koppelvlak
from .wus.berichtsoorten import UnknownBerichtsoort, by_name, for_document
from .wus.client import TLS_SERVER, WusClient, WusTransportError
from .wus.envelope import EnvelopeError, SoapFault
from .wus.koppelvlak import (
    AanleverRequest,
    AanleverResponse,
    BerichtInhoud,
    Identiteit,
    KoppelvlakError,
    StatusRequest,
    StatusResponse,
    StatusResultaat,
    WusFault,
    parse_as,
)
from .wus.ns import AANLEVEREN, request_action
from .wus.security import SecurityError, Signers, SigningIdentity, Trust
from .wus.tls import client_context

log = logging.getLogger(__name__)

MAX_KENMERK = 40
_KENMERK_SAFE = re.compile(r"[A-Za-z0-9-]+")
_PREFIX = "WSL-"


_UNAVAILABLE = "StatusinformatieService unavailable"


def aanleverkenmerk_for(message_id: str) -> str:
    """Our reference for a message on the Digipoort envelope: stable, at most 40 characters."""
    candidate = _PREFIX + message_id
    if len(candidate) <= MAX_KENMERK and _KENMERK_SAFE.fullmatch(message_id):
        return candidate
    digest = hashlib.sha256(message_id.encode()).hexdigest()
    return _PREFIX + digest[: MAX_KENMERK - len(_PREFIX)]


class DigipoortChannel(Channel):
    type_name = "digipoort"

    def __init__(self, name: str, settings: Mapping[str, Any]) -> None:
        super().__init__(name, settings)
        self.config: DigipoortSettings = parse_settings(name, settings)
        self.client: WusClient | None = None
        self.context: ChannelContext | None = None
        self.aflever: AfleverServer | None = None
        self.ophaal: OphaalPoller | None = None
        self._poller: asyncio.Task[None] | None = None
        self._status_turn: Turn | None = None
        # Kenmerken asked about since this start and without a final status yet: later
        # questions need only what is new. A final status drops its kenmerk, so the
        # set holds what still waits, not everything ever sent.
        self._asked: set[str] = set()
        # Per kenmerk still waiting: Digipoort's time of the newest status seen since this
        # start (is an answer news?), and what Digipoort last said (for ``no-status``).
        self._newest: dict[str, datetime] = {}
        self._last_word: dict[str, str] = {}
        # Per kenmerk: when a question about it first went unanswered (no connection,
        # HTTP 5xx, a time-out, an answer we cannot read or verify), or was not asked as
        # the service had just left one unanswered, since this start or since this
        # instance took the turn; dropped at the next real answer. Only this
        # lets a process end for silence while Digipoort does not answer: the message's
        # last change says nothing about whether anyone asked since (a gateway stopped
        # for a long weekend has not).
        self._unanswered_since: dict[str, datetime] = {}
        # The kinds of trouble status requests have had since they were last all answered
        # ("unavailable", "fault"): each logged when it first shows, and the end logged.
        self._trouble_kinds: set[str] = set()

    # --- lifecycle ------------------------------------------------------------

    async def start(self, context: ChannelContext) -> None:
        self.context = context
        if context.standards_dir is None:
            await self._start(context)
            return
        folder = Path(context.standards_dir)
        koppelvlak.use_standards_dir(folder)
        try:
            await self._start(context)
        except BaseException:
            koppelvlak.release_standards_dir(folder)  # no stop() follows a failed start
            raise

    async def _start(self, context: ChannelContext) -> None:
        # Every request and answer is checked against the XSD: without it, fail to start
        # (and say so in /health) rather than send nothing and dead-letter every message.
        koppelvlak.schema()
        self.config = config = self.config.resolved(context.data_dir)
        identity = SigningIdentity.from_files(config.certificate, config.private_key,
                                              config.private_key_passphrase)
        ssl_context = client_context(config.certificate, config.private_key, config.server_ca,
                                     passphrase=_text(config.private_key_passphrase))
        trust = Trust.from_pem_files(config.signature_ca or config.server_ca)
        # The CA certifies every other supplier and government body too: an answer
        # must come from the ones named, or else from the TLS server's organisation.
        signers = (Signers.named(config.signature_ids, "signature_ids")
                   if config.signature_ids else TLS_SERVER)
        self.client = WusClient(identity, ssl_context, config.signature_algorithm, trust,
                                signers=signers)
        if config.aflever_listen is not None and context.inbound is not None:
            self.aflever = AfleverServer(self.name, config, context.inbound, identity)
            await self.aflever.start()
        if config.ophaal and context.inbound is not None:
            self.ophaal = OphaalPoller(self.name, config, self.client, context.inbound,
                                       self._belanghebbende(), context.data_dir,
                                       turns=context.turns)
            self.ophaal.start()
        if context.status is not None and context.sent is not None:
            self._status_turn = Turn(context.turns, "status", config.status_poll_interval,
                                     who=f"channel {self.name}: status polling")
            self._poller = asyncio.create_task(self._poll_forever(self._status_turn),
                                               name=f"digipoort-status:{self.name}")

    async def stop(self) -> None:
        await cancel_and_wait([self._poller])
        self._poller = None
        if self._status_turn is not None:
            # Another instance polls from its next try on, not only once the turn expired.
            await self._status_turn.give_up()
            self._status_turn = None
        if self.context is not None and self.context.standards_dir is not None:
            koppelvlak.release_standards_dir(Path(self.context.standards_dir))
        if self.ophaal is not None:
            await self.ophaal.stop()
            self.ophaal = None
        if self.aflever is not None:
            await self.aflever.stop()
            self.aflever = None
        if self.client is not None:
            await self.client.close()
            self.client = None

    async def problems(self) -> Sequence[str]:
        """Documents the OphaalService handed over that the gateway refused, until a person
        takes them out of the folder they wait in."""
        kept = [] if self.ophaal is None else self.ophaal.refused()
        if not kept:
            return ()
        return (f"{len(kept)} document(s) fetched from the OphaalService were refused by "
                f"the gateway and wait for a person in {kept[0].parent} (the reason is in "
                "each NAME.error.json)",)

    # --- aanleveren -------------------------------------------------------------

    def _belanghebbende(self) -> Identiteit:
        config = self.config
        if config.belanghebbende_nummer is not None:
            return Identiteit(config.belanghebbende_nummer, config.belanghebbende_type)
        supplier = None if self.context is None else self.context.supplier
        if supplier is None:
            raise ValueError(f"channel {self.name!r}: no [supplier] identity and no "
                             "belanghebbende_nummer setting")
        nummer = supplier.kvk if config.belanghebbende_identity == "kvk" else supplier.oin
        return Identiteit(str(nummer), config.belanghebbende_type)

    def aanlever_request(self, message: OutboundMessage) -> AanleverRequest:
        """The aanleverRequest for ``message``; raises ValueError when it cannot be made."""
        berichtsoort = berichtsoort_for(message)
        config = self.config
        kenmerk = (message.metadata.get("aanleverkenmerk") or config.aanleverkenmerk_scenario
                   or aanleverkenmerk_for(message.message_id))
        return AanleverRequest(
            berichtsoort=berichtsoort,
            aanleverkenmerk=kenmerk,
            identiteit_belanghebbende=self._belanghebbende(),
            rol_belanghebbende=config.belanghebbende_rol,
            identiteit_ontvanger=Identiteit(message.agency_oin, config.ontvanger_type),
            rol_ontvanger=config.ontvanger_rol,
            bericht_inhoud=BerichtInhoud(message.media_type, message.filename[:80],
                                         message.payload),
            autorisatie_adres=config.autorisatie_adres,
        )

    async def send(self, message: OutboundMessage) -> SendOutcome:
        if self.client is None:
            return RetryableError(f"channel {self.name!r} is not started", code="not-started")
        if message.transport_id:
            known = await self._already_accepted(message.transport_id)
            if known is not None:
                return known
        try:
            request = self.aanlever_request(message)
            body = request.to_element()
        except (ValueError, KoppelvlakError) as exc:
            return FinalError(f"cannot build the aanleverRequest: {exc}", code="request")
        try:
            answer = await self.client.call(self.config.aanlever_url, AANLEVEREN, body,
                                            timeout=self.config.request_timeout)
            response = parse_as(answer, AanleverResponse)
        except WusFault as fault:
            return _fault_outcome(fault)
        except WusTransportError as exc:
            if exc.retryable:
                return RetryableError(f"Digipoort AanleverService: {exc}", code="transport")
            return FinalError(f"Digipoort AanleverService: {exc}", code="transport")
        except SecurityError as exc:
            return RetryableError(f"Digipoort's answer fails its signature check: {exc}",
                                  code="signature")
        except (EnvelopeError, KoppelvlakError, SoapFault) as exc:
            return RetryableError(f"Digipoort's answer cannot be read: {exc}", code="response")
        return Accepted(response.kenmerk, detail=(
            f"{response.berichtsoort} aangeleverd als {response.kenmerk} "
            f"(aanleverkenmerk {request.aanleverkenmerk}) om "
            f"{response.tijdstempel_aangeleverd.isoformat()}"))

    async def _already_accepted(self, kenmerk: str) -> Accepted | RetryableError | None:
        """Accepted when Digipoort runs a process ``kenmerk`` that has not failed.

        A message carries a kenmerk only when an earlier send was accepted:
        submitting it again would make a second process, so ask first. None
        (submit anew) only on Digipoort's real answer that the process failed,
        is lost (silent past the deadline, not at the agency) or is unknown
        (a statusinformatieFault: STS100 is its answer to an unknown kenmerk).
        A question that gets no usable answer is a RetryableError: the process
        may well be at the agency, and a second aanlevering would be a second
        invoice there.
        """
        try:
            resultaten = await self.statuses(kenmerk, new_only=False)
        except WusFault:
            return None
        except (WusTransportError, SecurityError, EnvelopeError, KoppelvlakError,
                SoapFault) as exc:
            # HTTP 503, a reset, a time-out, a signature that does not verify, an answer
            # we cannot read: we learnt nothing about the process, so we neither keep it
            # nor replace it. The dispatcher asks again later (bounded: its retries end
            # in the dead letter with this reason), with the same kenmerk.
            return RetryableError(f"cannot ask Digipoort about {kenmerk}; not submitting "
                                  f"again: {exc}", code="status-unanswered",
                                  transport_id=kenmerk)
        reports = [report_for(r) for r in resultaten]
        if not reports or any(r.failed for r in reports):
            return None
        at_agency = any(r.business_state is not None for r in reports)
        silent = utc_now() - resultaten[-1].tijdstempel_status
        if not at_agency and silent >= timedelta(seconds=self.config.status_deadline):
            # Lost on the way (what ``no-status`` reports): only a new aanlevering, under
            # a new kenmerk, can reach the agency.
            return None
        return Accepted(kenmerk, detail=f"Digipoort already has {kenmerk} (status "
                                        f"{reports[-1].code}); not submitted again")

    # --- statuses ---------------------------------------------------------------

    async def statuses(self, kenmerk: str, *, new_only: bool) -> list[StatusResultaat]:
        """StatusResultaat values of one process, oldest first."""
        assert self.client is not None
        request = StatusRequest(kenmerk, autorisatie_adres=self.config.autorisatie_adres,
                                nieuw=new_only)
        answer = await self.client.call(self.config.status_url,
                                        request_action("status", request.operation),
                                        request.to_element(),
                                        timeout=self.config.request_timeout)
        response = parse_as(answer, StatusResponse)
        return sorted(response.resultaten, key=lambda r: r.tijdstempel_status)

    async def poll_statuses(self) -> int:
        """One round over the waiting messages; returns how many statuses were reported.

        A fault about one process (STS100, say) is asked about again next
        round. An overloaded or unreachable StatusinformatieService ends the
        asking for this round: asking about the next message now would only add
        to the load. Neither holds a message for ever: one whose process gave
        no new status ``status_deadline`` after its send or its latest status
        is not asked about again (:meth:`_end_if_overdue`); while questions
        about it go unanswered, only once they have for ``status_deadline``.
        """
        context = self.context
        if context is None or context.sent is None or context.status is None:
            raise RuntimeError(f"channel {self.name!r} was not started with a status sink")
        reported = 0
        troubles: list[str] = []
        answered = False
        unreachable: str | None = None
        for waiting in await context.sent(self.config.status_batch):
            kenmerk = waiting.transport_id
            if unreachable is not None:
                # Not asked: the service did not answer the question before it this round,
                # and would not answer this one. Its silence about this process counts from
                # now too, so that in a long outage all end one deadline after it was seen,
                # not one after another, each waiting for its turn to be the one asked.
                self._unanswered_since.setdefault(kenmerk, utc_now())
                reported += await self._end_if_overdue(context.status, waiting, unreachable,
                                                       answered=False)
                continue
            try:
                resultaten = await self.statuses(kenmerk, new_only=kenmerk in self._asked)
            except WusTransportError as exc:
                # Digipoort may have answered and counted its new statuses as fetched
                # (a time-out on the way back, a refused signature): ask for the whole
                # history next time, or those statuses are lost.
                self._asked.discard(kenmerk)
                self._unanswered_since.setdefault(kenmerk, utc_now())
                unreachable = f"{_UNAVAILABLE}: {exc}"
                troubles.append(unreachable)
                reported += await self._end_if_overdue(context.status, waiting, unreachable,
                                                       answered=False)
                continue
            except (WusFault, SoapFault, EnvelopeError, KoppelvlakError) as exc:
                # STS100, the only status fault code in our sources, says neither "unknown
                # kenmerk" nor "try later" (domain.md 3.4): asked again until the deadline.
                # It is Digipoort's answer about the process; a SOAP fault of another kind
                # or an answer we cannot read is not, and counts as unanswered.
                self._asked.discard(kenmerk)
                fault = isinstance(exc, WusFault)
                if fault:
                    self._unanswered_since.pop(kenmerk, None)
                else:
                    self._unanswered_since.setdefault(kenmerk, utc_now())
                troubles.append(f"{kenmerk}: {exc}")
                reported += await self._end_if_overdue(context.status, waiting,
                                                       f"the last answer was {exc}",
                                                       answered=fault)
                continue
            self._unanswered_since.pop(kenmerk, None)
            answered = True
            news = await self._report(context.status, waiting, resultaten)
            reported += len(resultaten)
            if not news:
                reported += await self._end_if_overdue(context.status, waiting, None,
                                                       answered=True)
        self._note_trouble(troubles, answered)
        if unreachable is not None:
            raise StatusRoundFailed(unreachable)
        return reported

    async def _report(self, sink: StatusSink, waiting: SentMessage,
                      resultaten: Sequence[StatusResultaat]) -> bool:
        """Report the statuses of one answer; whether it may hold news (no deadline then).

        A new-only answer holds news when it is not empty. The first whole
        history after a start may, as far as we can tell: the next round's
        new-only answer decides.
        """
        kenmerk = waiting.transport_id
        newest = self._newest.get(kenmerk)
        self._asked.add(kenmerk)
        ended = False
        try:
            for resultaat in resultaten:
                report = report_for(resultaat)
                await sink(report)
                ended = ended or report.final
        except Exception:
            # Statuses fetched as "new" would be lost: ask for the whole history next time.
            self._asked.discard(kenmerk)
            raise
        if ended:  # nobody asks about this process again
            self._forget(kenmerk)
            return True
        if not resultaten:
            return False
        latest = resultaten[-1]
        self._newest[kenmerk] = latest.tijdstempel_status
        self._last_word[kenmerk] = last_status(latest)
        return newest is None or latest.tijdstempel_status > newest

    async def _end_if_overdue(self, sink: StatusSink, waiting: SentMessage,
                              trouble: str | None, *, answered: bool) -> int:
        """Stop asking about a process silent for ``status_deadline``; 1 when it was reported.

        Silence is what Digipoort's answers show, never a gap in our asking.
        The deadline counts from the message's latest change: its send, or
        the latest status recorded. When Digipoort ``answered`` this round
        (nothing new, or a fault about the process), that is all. When it did
        not (unreachable, or this message was not asked because the service
        had just failed to answer), the deadline must also have passed since
        the first unanswered question about this process since this instance
        started asking: the latest change may lie days back only because the
        gateway was stopped, and one 503 after the start must not end every
        message Digipoort was not asked about since.

        Not yet at the agency, the message fails with ``no-status`` (the dead
        letter, for an operator to send again); delivered to the agency, it
        keeps its state and gets one ``polling-stopped`` event.
        """
        deadline = timedelta(seconds=self.config.status_deadline)
        now = utc_now()
        if now - waiting.last_change < deadline:
            return 0
        kenmerk = waiting.transport_id
        if not answered:
            since = self._unanswered_since.get(kenmerk)
            if since is None or now - since < deadline:
                return 0
            trouble = (f"{trouble or _UNAVAILABLE}; asked without an answer since "
                       f"{since.isoformat(timespec='seconds')}")
        said = self._last_word.get(kenmerk)
        why = "; ".join(w for w in (trouble, said) if w) or "Digipoort gave no status"
        delivered = waiting.business_state == BusinessState.DELIVERED_TO_AGENCY.value
        # Final either way: the core lists the message no more (a delivered one stays
        # sent, waiting for an answer nobody asks about), until it is sent again.
        await sink(overdue_report(kenmerk, delivered, self.config.status_deadline, why))
        self._forget(kenmerk)
        return 1

    def _forget(self, kenmerk: str) -> None:
        self._asked.discard(kenmerk)
        self._newest.pop(kenmerk, None)
        self._last_word.pop(kenmerk, None)
        self._unanswered_since.pop(kenmerk, None)

    def _forget_all(self) -> None:
        """As after a start: another instance may have polled since, and fetched as new
        what this one would ask for next. Unanswered questions count afresh too: this
        instance did not ask while another held the turn."""
        self._asked.clear()
        self._newest.clear()
        self._last_word.clear()
        self._unanswered_since.clear()

    def _note_trouble(self, troubles: list[str], answered: bool) -> None:
        # Each kind logged once while troubles last: an unreachable service and faults
        # about processes (STS100 from a Digipoort that lost them) are two problems, the
        # operator must see both, and one coming and going must not repeat the other.
        latest = {("unavailable" if t.startswith(_UNAVAILABLE) else "fault"): t
                  for t in troubles}
        fresh = [text for kind, text in latest.items() if kind not in self._trouble_kinds]
        if fresh:
            log.warning("channel %s: status requests fail (%d this round; each message is "
                        "asked again until status_deadline): %s", self.name, len(troubles),
                        "; ".join(fresh))
            self._trouble_kinds |= latest.keys()
        elif not troubles and answered and self._trouble_kinds:
            log.info("channel %s: status requests are answered again", self.name)
            self._trouble_kinds = set()

    async def _poll_forever(self, turn: Turn) -> None:
        """A round every interval while this instance has the turn.

        The turn is taken or renewed every interval, also while backing off
        (a round after 2, 4 ... up to 16 intervals while Digipoort is
        overloaded or away): the holder keeps it, and keeps its pace, rather
        than another instance taking over at once and asking again.
        """
        failures = 0
        skip = 0  # intervals to let pass before the next round
        while True:
            if await turn.take():
                if turn.new:
                    self._forget_all()
                    failures = skip = 0
                if skip:
                    skip -= 1
                else:
                    try:
                        await turn.keep(self.poll_statuses())
                        failures = 0
                    except TurnLost:
                        pass  # the instance that has it now polls; logged by the turn
                    except StatusRoundFailed:
                        failures += 1
                    except Exception:
                        failures += 1
                        log.exception("channel %s: status round failed", self.name)
                    skip = min(2 ** failures, 16) - 1
            await asyncio.sleep(self.config.status_poll_interval)


def berichtsoort_for(message: OutboundMessage) -> str:
    """The berichtsoort on the envelope; raises ValueError when Digipoort has none for it.

    An invoice on an order (FACTUUR-UBL, FACTUUR-HRXML) and one without
    (E-Factuur-UBL, E-FACTUUR-HRXML) are different berichtsoorten of one
    format, so the payload decides: does it quote an order?
    """
    try:
        named = message.metadata.get("berichtsoort")
        if named:
            return by_name(named).name
        on_order = message.kind.value != "invoice" or _quotes_an_order(message.payload)
        return for_document(message.kind.value, message.format_key, with_order=on_order).name
    except UnknownBerichtsoort as exc:
        raise ValueError(str(exc)) from None


_ORDER_REFERENCES = frozenset({"OrderReference", "PurchaseOrderNumber"})


def _quotes_an_order(payload: bytes) -> bool:
    try:
        root = parse_xml(payload).getroot()
    except GatewayError:
        return True  # unreadable: the AanleverService's own validation will say why
    return any(isinstance(e.tag, str) and etree.QName(e).localname in _ORDER_REFERENCES
               for e in root.iter())


class StatusRoundFailed(Exception):
    """The StatusinformatieService did not answer; the round ends and is tried later."""


def _fault_outcome(fault: WusFault) -> SendOutcome:
    reason = f"Digipoort {fault.foutcode}: {fault.foutbeschrijving}"
    if fault.retryable:
        return RetryableError(reason, code=fault.foutcode)
    return FinalError(reason, code=fault.foutcode)


def _text(secret: bytes | None) -> str | None:
    return None if secret is None else secret.decode()
