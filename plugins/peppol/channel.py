"""The peppol channel instance: documents to and from a Peppol access point.

Outbound, each document is wrapped in an SBDH and handed to the access point
over its HTTP API (``access_point``) or written into a folder it collects
(``outbox_dir``). The SBDH instance id is the transport id: derived from the
message id on the first attempt and reused on every retry, so the access
point recognises a repeat instead of sending twice. A poller asks for the
receipts of sent messages (API, or files in ``receipts_dir``) and reports
delivery or failure. It stops asking, and fails the message for an operator
to send again, when the access point does not know the transmission (404),
or when no receipt came within ``receipt_deadline`` of the send. Of several
gateway instances on one database, the one that has the turn
(:class:`gateway.channels.Turn`) asks; the others skip their rounds.

Inbound, the access point delivers SBDH documents to a webhook
(``inbound_listen``, guarded by a shared secret) or into ``inbox_dir``.
Each is unwrapped, checked, stored through the gateway's inbound sink and
only then acknowledged. Of several instances scanning one inbox folder, the
one that has the folder's turn scans (see :func:`inbox_id`). Invoice
Responses and Message Level Responses also move the state of the outbound
message they answer (see :mod:`.responses`), when they come from the
participant it was sent to (noted on its "sent" event).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import hashlib
import hmac
import json
import logging
import os
import re
import uuid
from collections.abc import Callable, Coroutine, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
from aiohttp import web
from lxml import etree

from gateway.channels import (
    SERVER_STOP_TIMEOUT,
    Accepted,
    Channel,
    ChannelContext,
    DocumentRefused,
    FinalError,
    InboundDocument,
    OutboundMessage,
    RetryableError,
    SendOutcome,
    StatusReport,
    Turn,
    TurnLost,
    seconds_setting,
)
from gateway.durations import spoken
from gateway.errors import GatewayError
from gateway.fileio import NotAnInboxFile, file_away, read_inbox_file, write_atomically
from gateway.identifiers import PeppolParticipantId
from gateway.kinds import Direction
from gateway.pipeline.keys import outbound_key
from gateway.store import MessageRecord, Store
from gateway.store.model import utc_now
from gateway.tasks import cancel_and_wait
from gateway.xmlsafe import parse_xml
from plugins.peppol.ap_client import (
    HttpAccessPoint,
    NoReceipt,
    Receipt,
    ReceiptError,
    receipt_from_json,
)
from plugins.peppol.responses import status_of
from plugins.peppol.sbdh import Envelope, SBDHError, participant, unwrap, wrap

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Webhook-Secret"
# Access points retry an AS4 transmission for hours before they report it failed; a day
# covers that and a night's outage of the access point, and still tells an operator the
# next working day at the latest.
DEFAULT_RECEIPT_DEADLINE = 24 * 60 * 60.0
INBOUND_PATH = "/inbound"
INBOX_ID_FILE = ".wissel-inbox-id"
MAX_INBOUND_BYTES = 50 * 1024 * 1024
# A fixed namespace: the same message id gives the same SBDH instance id on
# every attempt and after a restart.
_INSTANCE_NAMESPACE = uuid.UUID("5b0f3c1e-7a51-4d0c-9d3e-2f6a8c4e9b17")
_FINAL_ERRNOS = {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOTDIR, errno.EISDIR}
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")
# How sends recorded before Accepted.recipient noted the receiver (see _sent_to).
_ADDRESSED_TO = ", addressed to "


def file_stem(instance_id: str) -> str:
    """The name (without suffix) of a transmission's files in the exchange folders: the
    SBDH in the outbox and its receipt; the access point must name the receipt so too."""
    return _SAFE.sub("_", instance_id)
_CBC = "{urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2}"
_CAC = "{urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2}"
# Where each outbound document names its receiver's electronic address.
_RECEIVER_PATHS = {
    "Invoice": f"{_CAC}AccountingCustomerParty/{_CAC}Party/{_CBC}EndpointID",
    "CreditNote": f"{_CAC}AccountingCustomerParty/{_CAC}Party/{_CBC}EndpointID",
    "OrderResponse": f"{_CAC}BuyerCustomerParty/{_CAC}Party/{_CBC}EndpointID",
    "ApplicationResponse": f"{_CAC}ReceiverParty/{_CBC}EndpointID",
}


# The business states in which a message's own transmission still waits for its receipt.
_RECEIPT_STATES = ("none", "delivered-to-agency")


_RESENDS_FOLLOWED = 20
"""Failed transmissions of one message walked past before sending (each an operator's
retry or reroute after a failure); beyond them the access point tells the failure again."""


def instance_id_for(message_id: str, payload: bytes | None = None) -> str:
    """The SBDH instance id a message travels under when no attempt chose one yet.

    Made from the message id, so that every retry (also one made by a newer
    release than the first attempt) is a repeat the access point recognises.
    A document an operator's reroute encoded anew passes its ``payload`` too:
    under the old id the access point would take it for a repeat and keep the
    old document.
    """
    name = message_id if payload is None else (
        f"{message_id}:{hashlib.sha256(payload).hexdigest()}")
    return str(uuid.uuid5(_INSTANCE_NAMESPACE, name))


def _addressed(payload: bytes) -> PeppolParticipantId | None:
    """The receiver's electronic address as the document states it, if it states one."""
    try:
        root = parse_xml(payload).getroot()
    except GatewayError:
        return None  # wrap() reports what is wrong with the payload
    path = _RECEIVER_PATHS.get(etree.QName(root).localname)
    node = root.find(path) if path else None
    if node is None or not (node.text or "").strip() or not node.get("schemeID"):
        return None
    return participant(f"{node.get('schemeID')}:{(node.text or '').strip()}", "receiver")


def _secret(name: str, settings: Mapping[str, Any], channel: str) -> str | None:
    variable = settings.get(name)
    if variable is None:
        return None
    value = os.environ.get(str(variable))
    if not value:
        raise ValueError(f"channel {channel!r}: {name} names the environment variable "
                         f"{variable!r}, which is not set")
    return value


def _listen(text: str, channel: str) -> tuple[str, int]:
    host, colon, port = str(text).rpartition(":")
    if not colon or not (port.isascii() and port.isdigit()):
        raise ValueError(f"channel {channel!r}: inbound_listen must be host:port, got {text!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


class PeppolChannel(Channel):
    type_name = "peppol"

    def __init__(self, name: str, settings: Mapping[str, Any]) -> None:
        super().__init__(name, settings)
        known = {"access_point", "token_env", "outbox_dir", "receipts_dir", "inbound_listen",
                 "inbound_secret_env", "inbox_dir", "poll_interval", "timeout", "sender_id",
                 "country", "receipt_deadline"}
        unknown = sorted(set(settings) - known)
        if unknown:
            raise ValueError(f"channel {name!r}: unknown setting(s) {', '.join(unknown)}; "
                             f"known: {', '.join(sorted(known))}")
        if "access_point" in settings and "outbox_dir" in settings:
            raise ValueError(f"channel {name!r}: give access_point or outbox_dir, not both")
        if not {"access_point", "outbox_dir", "inbound_listen", "inbox_dir"} & set(settings):
            raise ValueError(f"channel {name!r}: set access_point or outbox_dir (outbound) "
                             "and/or inbound_listen or inbox_dir (inbound)")
        self.poll_interval = seconds_setting(name, settings, "poll_interval", 5.0)
        timeout = seconds_setting(name, settings, "timeout", 30.0)
        self.receipt_deadline = timedelta(seconds=seconds_setting(
            name, settings, "receipt_deadline", DEFAULT_RECEIPT_DEADLINE))
        self.client = (HttpAccessPoint(str(settings["access_point"]),
                                       _secret("token_env", settings, name), timeout)
                       if "access_point" in settings else None)
        self.inbound_secret = _secret("inbound_secret_env", settings, name)
        self.listen = (_listen(settings["inbound_listen"], name)
                       if "inbound_listen" in settings else None)
        if self.listen is not None and self.inbound_secret is None:
            raise ValueError(f"channel {name!r}: inbound_listen needs inbound_secret_env, the "
                             "secret the access point sends in the X-Webhook-Secret header")
        self.sender_id = (participant(str(settings["sender_id"]), "sender")
                          if "sender_id" in settings else None)
        self.country = str(settings.get("country", "NL"))
        self.outbox = Path(settings["outbox_dir"]) if "outbox_dir" in settings else None
        self.receipts = Path(settings["receipts_dir"]) if "receipts_dir" in settings else None
        self.inbox = Path(settings["inbox_dir"]) if "inbox_dir" in settings else None
        self.context: ChannelContext | None = None
        self.inbound_address: tuple[str, int] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._receipts_turn: Turn | None = None
        self._inbox_turn: Turn | None = None
        self._runner: web.AppRunner | None = None
        # Why the last round of receipt requests got no answer from the access point, while
        # that lasts: warned about once when it starts, not every round.
        self._receipt_trouble: str | None = None

    # -- life cycle ------------------------------------------------------------------------

    async def start(self, context: ChannelContext) -> None:
        self.context = context
        if context.data_dir is not None:
            base = Path(context.data_dir)
            self.outbox = None if self.outbox is None else base / self.outbox
            self.receipts = None if self.receipts is None else base / self.receipts
            self.inbox = None if self.inbox is None else base / self.inbox
        if self.inbox is not None:
            for sub in ("done", "error"):
                (self.inbox / sub).mkdir(parents=True, exist_ok=True)
        if self.listen is not None:
            app = web.Application(client_max_size=MAX_INBOUND_BYTES)
            app.router.add_post(INBOUND_PATH, self._webhook)
            self._runner = web.AppRunner(app, access_log=None,
                                         shutdown_timeout=SERVER_STOP_TIMEOUT)
            await self._runner.setup()
            site = web.TCPSite(self._runner, *self.listen)
            await site.start()
            sockets = getattr(site._server, "sockets", None) or []
            self.inbound_address = sockets[0].getsockname()[:2] if sockets else self.listen
        if self.inbox is not None and context.inbound is not None:
            # Two scanners racing on one folder are safe without a turn: a file is stored
            # once (the sink knows its instance id), a status it carries is recorded once,
            # and a file another scanner moved first is skipped (file_away). Each would
            # still read, unwrap and look up every file the other takes; the turn saves it.
            self._inbox_turn = Turn(context.turns, f"inbox:{inbox_id(self.inbox)}",
                                    self.poll_interval,
                                    who=f"peppol channel {self.name}: inbox {self.inbox}")
            self._spawn(self._while_turn(self._inbox_turn, self.scan_inbox), "inbox")
        if (self.client is not None or self.receipts is not None) and context.sent is not None \
                and context.status is not None:
            self._receipts_turn = Turn(context.turns, "receipts", self.poll_interval,
                                       who=f"peppol channel {self.name}: receipt polling")
            self._spawn(self._while_turn(self._receipts_turn, self.poll_receipts), "receipts")

    def _spawn(self, work: Any, what: str) -> None:
        self._tasks.append(asyncio.create_task(work, name=f"peppol-{what}:{self.name}"))

    async def _while_turn(self, turn: Turn, job: Callable[[], Coroutine[Any, Any, int]]) -> None:
        """``job`` every interval while this instance has ``turn``."""
        while True:
            if await turn.take():
                try:
                    await turn.keep(job())
                except TurnLost:
                    # The instance that has it now does it (logged by the turn); an inbox
                    # file cut off half-way stays in the folder for it.
                    pass
                except Exception:
                    log.exception("peppol channel %s: %s failed", self.name, job.__name__)
            await asyncio.sleep(self.poll_interval)

    async def stop(self) -> None:
        await cancel_and_wait(self._tasks)
        self._tasks.clear()
        if self._receipts_turn is not None:
            # Another instance asks from its next try on, not only once the turn expired.
            await self._receipts_turn.give_up()
            self._receipts_turn = None
        if self._inbox_turn is not None:
            await self._inbox_turn.give_up()
            self._inbox_turn = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self.client is not None:
            await self.client.close()

    # -- outbound --------------------------------------------------------------------------

    def _sender(self) -> PeppolParticipantId | None:
        if self.sender_id is not None:
            return self.sender_id
        supplier = self.context.supplier if self.context is not None else None
        found = getattr(supplier, "peppol_id", None)
        return found if isinstance(found, PeppolParticipantId) else None

    @staticmethod
    def receiver_of(message: OutboundMessage) -> PeppolParticipantId:
        """The agency's participant id: from the agency directory (``agency_peppol_id``, which
        the dispatcher passes), else as the document addresses its buyer, else ``0190:<OIN>``.

        A document whose buyer OIN is another agency than the one it is
        routed to is refused: sending it either way would be a guess.
        """
        default = participant(f"0190:{message.agency_oin}", "receiver")
        named = _addressed(message.payload)
        if named is not None and named.scheme == default.scheme and named != default:
            raise SBDHError(f"the document addresses OIN {named.value}, but it is routed to "
                            f"agency {message.agency_oin}")
        routed = message.metadata.get("agency_peppol_id")
        if routed:
            return participant(routed, "receiver")
        return named or default

    async def send(self, message: OutboundMessage) -> SendOutcome:
        # The document in the id only once a reroute re-encoded it: every message sent
        # before keeps the id earlier releases gave it (retries in flight at an upgrade).
        reencoded = message.metadata.get("reencoded") == "true"
        instance_id = message.transport_id or instance_id_for(
            message.message_id, message.payload if reencoded else None)
        if message.transport_id or message.metadata.get("rerouted") == "true":
            # An id that may have travelled before: asked about only then, as that costs
            # a call to the access point.
            # A message the agency's side already answered on (its business state is
            # not "none": the receipt said delivered, then an MLR rejected it) is sent
            # again by an operator: its delivered transmission is spent like a failed
            # one, as the access point answers a repeat "duplicate" and sends nothing.
            # Not for a retry before any answer (a send whose acceptance got lost):
            # that one must stay a repeat, or the agency gets the document twice.
            # An MLR that rejected it before the receipt came left the business state
            # "none": the timeline tells that one.
            answered = (message.metadata.get("business_state", "none") != "none"
                        or await self._rejected_before(message.message_id, instance_id))
            instance_id = await self._not_failed(message.message_id, instance_id,
                                                 delivered_spent=answered)
        sender = self._sender()
        if sender is None:
            return FinalError(f"channel {self.name!r}: no Peppol sender id; set sender_id or the "
                              "supplier's peppol_id", code="no-sender", transport_id=instance_id)
        try:
            envelope, sbdh = wrap(message.payload, sender=sender,
                                  receiver=self.receiver_of(message), instance_id=instance_id,
                                  country_c1=self.country)
        except SBDHError as exc:
            return FinalError(f"cannot wrap the document for Peppol: {exc}", code="sbdh",
                              transport_id=instance_id)
        if self.client is not None:
            return _naming_receiver(await self.client.submit(sbdh, envelope.instance_id),
                                    envelope.receiver)
        if self.outbox is not None:
            return _naming_receiver(await self._write_outbox(envelope, sbdh),
                                    envelope.receiver)
        return FinalError(f"channel {self.name!r} has no access_point or outbox_dir for "
                          "outbound documents", code="inbound-only", transport_id=instance_id)

    async def _write_outbox(self, envelope: Envelope, sbdh: bytes) -> SendOutcome:
        assert self.outbox is not None
        target = self.outbox / f"{file_stem(envelope.instance_id)}.xml"
        try:
            await asyncio.to_thread(write_atomically, target, sbdh)
        except OSError as exc:
            reason = f"cannot write {target}: {exc.strerror or exc}"
            code = errno.errorcode.get(exc.errno or 0)
            if exc.errno in _FINAL_ERRNOS:
                return FinalError(reason, code=code, transport_id=envelope.instance_id)
            return RetryableError(reason, code=code, transport_id=envelope.instance_id)
        return Accepted(envelope.instance_id, detail=f"written to {target}")

    async def _not_failed(self, message_id: str, instance_id: str, *,
                          delivered_spent: bool = False) -> str:
        """``instance_id``, or the first resend of it the access point did not fail.

        The access point answers a repeat of a failed transmission's instance id
        with the same failure, so a failed one is sent anew under an id derived
        from it: retries of that resend reuse it, and a later reroute that derives
        the first id again (to another channel and back) finds its way along.
        With ``delivered_spent`` the first id counts as failed when delivered too
        (the agency rejected what it delivered). Only the first: the core keeps
        that id as the message's transport id until a resend is accepted, so
        each retry of the resend derives the same new id, and finds it delivered
        when an earlier try got through but its answer was lost; that one is a
        repeat, not spent.
        """
        for _ in range(_RESENDS_FOLLOWED):
            if not await self._failed_before(instance_id, delivered_spent=delivered_spent):
                break
            delivered_spent = False
            instance_id = instance_id_for(f"{message_id}:{instance_id}")
        return instance_id

    async def _rejected_before(self, message_id: str, transport_id: str) -> bool:
        """Whether an MLR rejected the message's transmission ``transport_id``."""
        store = self.context.store if self.context is not None else None
        if store is None:
            return False
        after_its_send = False
        for event in await store.events(message_id):
            if event.kind == "sent":
                after_its_send = event.detail.get("transport_id") == transport_id
            elif (event.kind == "status" and event.detail.get("code") == "MLR-RE"
                  and event.detail.get("channel") == self.name):
                # Older releases did not note the transmission an MLR answers: then the
                # one sent last before it.
                answered = event.detail.get("transmission")
                if answered == transport_id or (answered is None and after_its_send):
                    return True
        return False

    async def _failed_before(self, transport_id: str, *, delivered_spent: bool = False) -> bool:
        """Whether the access point reported that transmission failed for good (or, with
        ``delivered_spent``, delivered)."""
        # Unknown or unreadable: the same id again, which the access point takes as new or
        # recognises as a repeat.
        receipt = await self._receipt(transport_id)
        if not isinstance(receipt, Receipt) and self.receipts is not None:
            path = self.receipts / "done" / f"{file_stem(transport_id)}.json"  # filed away
            with contextlib.suppress(OSError, ValueError, ReceiptError):
                receipt = receipt_from_json(
                    json.loads(await asyncio.to_thread(path.read_bytes)), of=transport_id)
        spent = ("failed", "delivered") if delivered_spent else ("failed",)
        return isinstance(receipt, Receipt) and receipt.status in spent

    # -- receipts --------------------------------------------------------------------------

    async def poll_receipts(self) -> int:
        """Report what the access point says about sent messages; returns how many reports.

        A final receipt reports delivery or failure. A transmission the access
        point does not know fails at once (``unknown-transmission``); one that
        has no final receipt ``receipt_deadline`` after its send (the access
        point away or failing, or still reporting it accepted) fails with
        ``no-receipt``. Failed, a message is not asked about again: it waits
        in the dead letter for an operator, who may send it again. In folder
        mode, receipt files nobody asks for any more are filed away.
        """
        context = self.context
        if context is None or context.sent is None or context.status is None:
            raise RuntimeError(f"channel {self.name!r} was not started with a status desk")
        reported = 0
        troubles: list[str] = []
        # Only those without a receipt: what follows one comes as business responses.
        # A message sent again under a new instance id is back in "none" (the core starts
        # the business state of a new transmission anew), so its receipt is asked for too.
        waiting = await context.sent(500, business_states=("none",))
        for message in waiting:
            answer = await self._receipt(message.transport_id)
            if isinstance(answer, NoReceipt) and not answer.unknown:
                troubles.append(answer.reason)
            report = self._report(message.transport_id, message.last_change, answer)
            if report is None:
                continue
            await context.status(report)
            if self.receipts is not None and isinstance(answer, Receipt):
                await asyncio.to_thread(self._file_receipt, message.transport_id)
            reported += 1
        self._note_trouble(troubles)
        if self.receipts is not None and context.store is not None:
            await self._file_answered_receipts(context.store,
                                               {message.transport_id for message in waiting})
        return reported

    async def _file_answered_receipts(self, store: Store, asked: set[str]) -> None:
        """File away receipt files about messages nobody asks about any more: the agency
        answered before the receipt came (an Invoice Response), or the message went out
        again under another instance id. Left in place: those of messages still waiting
        for them, of transmissions unknown here, and unreadable or misnamed files."""
        assert self.receipts is not None
        asked_stems = {file_stem(transport_id) for transport_id in asked}
        for path in await asyncio.to_thread(sorted, self.receipts.glob("*.json")):
            if path.stem in asked_stems or path.name.startswith("."):
                continue
            try:
                receipt = receipt_from_json(json.loads(await asyncio.to_thread(path.read_bytes)))
            except (OSError, ValueError):  # ReceiptError included
                continue
            if file_stem(receipt.id) != path.stem:
                continue
            message = await store.find_by_transport_id(self.name, receipt.id,
                                                       Direction.OUTBOUND)
            if message is None or (message.transport_id == receipt.id
                                   and message.business_state in _RECEIPT_STATES):
                continue
            log.info("peppol channel %s: receipt file %s filed away unapplied: message %s "
                     "is %s under transmission %s", self.name, path.name, message.id,
                     message.business_state, message.transport_id,
                     extra={"message_id": message.id, "channel": self.name})
            await asyncio.to_thread(self._file_receipt, receipt.id)

    def _report(self, transport_id: str, since: datetime,
                answer: Receipt | NoReceipt | None) -> StatusReport | None:
        """The report ``answer`` gives for a message sent (or given a status) at ``since``;
        None to ask again next round."""
        if isinstance(answer, Receipt) and answer.final:
            return report_of(answer, transport_id)
        if isinstance(answer, NoReceipt) and answer.unknown:
            return StatusReport(
                code="unknown-transmission", transport_id=transport_id, failed=True, final=True,
                text=f"the access point does not know transmission {transport_id} "
                     f"({answer.reason})")
        if utc_now() - since < self.receipt_deadline:
            return None
        if isinstance(answer, Receipt):
            why = "the access point still reports the transmission accepted"
        elif answer is None:
            why = f"no receipt file {file_stem(transport_id)}.json in {self.receipts}"
        else:
            why = answer.reason
        return StatusReport(
            code="no-receipt", transport_id=transport_id, failed=True, final=True,
            text=f"no receipt from the access point within "
                 f"{spoken(self.receipt_deadline.total_seconds())} of the send ({why})")

    def _note_trouble(self, troubles: list[str]) -> None:
        if troubles and self._receipt_trouble is None:
            log.warning("peppol channel %s: no receipts from the access point for %d "
                        "message(s) this round (asked again until receipt_deadline): %s",
                        self.name, len(troubles), troubles[-1])
        elif not troubles and self._receipt_trouble is not None:
            log.info("peppol channel %s: the access point answers receipt requests again",
                     self.name)
        self._receipt_trouble = troubles[-1] if troubles else None

    async def _receipt(self, transport_id: str) -> Receipt | NoReceipt | None:
        """What the access point says about a transmission; None while no receipt file is
        there (folder mode)."""
        if self.client is not None:
            return await self.client.look_up(transport_id)
        if self.receipts is None:
            return None
        path = self.receipts / f"{file_stem(transport_id)}.json"
        try:
            # Checked against the transmission asked about: a file holding another one's
            # receipt is left where it is, like an unreadable one, and asked about again.
            return receipt_from_json(json.loads(await asyncio.to_thread(path.read_bytes)),
                                     of=transport_id)
        except FileNotFoundError:
            return None
        except (ValueError, ReceiptError) as exc:
            log.warning("peppol channel %s: receipt file %s unreadable: %s", self.name, path, exc)
            return NoReceipt(f"receipt file {path} unreadable: {exc}")

    def _file_receipt(self, transport_id: str) -> None:
        assert self.receipts is not None
        path = self.receipts / f"{file_stem(transport_id)}.json"
        (self.receipts / "done").mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            os.replace(path, self.receipts / "done" / path.name)

    # -- inbound ---------------------------------------------------------------------------

    def _ours(self) -> set[PeppolParticipantId]:
        # Ids, not their text: a participant id's value is case-insensitive, so a document
        # addressed to "9925:be0477472701" is for the supplier registered as "9925:BE0477472701".
        ids = {found} if (found := self._sender()) is not None else set()
        supplier = self.context.supplier if self.context is not None else None
        for attribute in ("kvk", "vat"):  # checked as KvK and VAT numbers by the configuration
            value = getattr(supplier, attribute, None)
            if value is not None:
                ids.add(value.to_peppol())
        return ids

    async def receive(self, data: bytes, filename: str | None = None) -> str:
        """Unwrap, store and apply one SBDH document from the access point; the stored id.

        Raises SBDHError for an envelope that is broken or addressed to
        someone else: nothing is stored then, and the access point keeps it.
        """
        context = self.context
        if context is None or context.inbound is None:
            raise RuntimeError(f"channel {self.name!r} receives nothing: no inbound sink")
        envelope, payload = unwrap(data)
        ours = self._ours()
        if ours and envelope.receiver not in ours:
            raise SBDHError(f"the document is addressed to {envelope.receiver}, which is not "
                            f"this supplier ({', '.join(sorted(map(str, ours)))})")
        message_id = await context.inbound(InboundDocument(
            data=payload, channel=self.name, transport_id=envelope.instance_id,
            sender=str(envelope.sender), filename=filename,
            metadata={"document_type_id": envelope.ids.document_type_id,
                      "process_id": envelope.ids.process_id,
                      "receiver": str(envelope.receiver)},
        ))
        report = status_of(envelope, parse_xml(payload).getroot())
        if report is not None and context.status is not None \
                and await self._from_addressee(report, envelope.sender):
            await self._apply(report)
        return message_id

    async def _from_addressee(self, report: StatusReport, sender: PeppolParticipantId) -> bool:
        """Whether ``sender`` may answer on the message ``report`` names: the participant it
        was sent to. An answer from anyone else is stored, as every document is, but does
        not move our message (logged). Taken when the sends do not say whom they went to
        (sent by an older release)."""
        store = self.context.store if self.context is not None else None
        message = None if store is None else await self._answered(store, report)
        if store is None or message is None:
            return True  # an answer on no message of ours: the status desk warns about it
        receivers = {
            receiver for event in await store.events(message.id)
            if event.kind == "sent" and event.detail.get("channel") == self.name
            and report.transport_id in (None, event.detail.get("transport_id"))
            and (receiver := _sent_to(event.detail)) is not None}
        if not receivers or sender in receivers:
            return True
        log.warning("peppol channel %s: %s from %s not applied to message %s, which was sent "
                    "to %s", self.name, report.code, sender, message.id,
                    ", ".join(sorted(map(str, receivers))),
                    extra={"message_id": message.id, "channel": self.name})
        return False

    async def _answered(self, store: Store, report: StatusReport) -> MessageRecord | None:
        """The outbound message ``report`` names, found as the status desk finds it."""
        if report.transport_id is not None:
            return await store.find_by_transport_id(self.name, report.transport_id,
                                                    Direction.OUTBOUND)
        kvk = getattr(self.context.supplier if self.context is not None else None, "kvk", None)
        if kvk is None or report.kind is None:
            return None
        return await store.find_by_business_key(Direction.OUTBOUND, outbound_key(
            str(kvk), str(report.agency_oin), report.kind, str(report.document_number)))

    async def _apply(self, report: StatusReport) -> None:
        status = self.context.status if self.context is not None else None
        if status is None:
            return
        found = await status(report)
        if found is None and report.transport_id is not None:
            log.warning("peppol channel %s: %s names no message we sent", self.name, report.code)

    async def _webhook(self, request: web.Request) -> web.Response:
        # aiohttp decodes header bytes that are no UTF-8 as lone surrogates; surrogateescape
        # gives those bytes back, so they are compared (and refused) instead of raising.
        given = request.headers.get(SECRET_HEADER, "").encode("utf-8", "surrogateescape")
        assert self.inbound_secret is not None  # required with inbound_listen
        if not hmac.compare_digest(given, self.inbound_secret.encode()):
            return _problem(401, "wrong or missing webhook secret",
                            f"send the shared secret in the {SECRET_HEADER} header")
        data = await request.read()
        try:
            message_id = await self.receive(data)
        except SBDHError as exc:
            return _problem(400, "not a deliverable SBDH document", str(exc))
        except DocumentRefused as exc:
            return _problem(413, "the document is larger than the gateway takes", str(exc))
        except Exception as exc:
            # Not stored, or stored but its status not applied: the access point delivers
            # again, and the repeat is recognised by its instance id.
            log.exception("peppol channel %s: inbound delivery failed", self.name)
            return _problem(503, "the gateway could not take the document now",
                            f"{type(exc).__name__}: {exc}")
        return web.json_response({"status": "received", "message_id": message_id}, status=202)

    async def scan_inbox(self) -> int:
        """Take every complete SBDH file from ``inbox_dir``; returns how many were handled."""
        if self.inbox is None:
            raise RuntimeError(f"channel {self.name!r} has no inbox_dir")
        handled = 0
        for path in sorted(self.inbox.iterdir()):
            if path.name.startswith(".") or (path.is_dir() and not path.is_symlink()):
                continue  # dot files are the access point's files being written
            try:
                data = await asyncio.to_thread(read_inbox_file, path, MAX_INBOUND_BYTES)
            except FileNotFoundError:
                continue
            except NotAnInboxFile as exc:
                log.warning("peppol inbox file %s refused: %s", path.name, exc)
                await asyncio.to_thread(self._move, path, "error", str(exc))
                handled += 1
                continue
            try:
                await self.receive(data, filename=path.name)
            except (SBDHError, DocumentRefused) as exc:
                log.warning("peppol inbox file %s refused: %s", path.name, exc)
                await asyncio.to_thread(self._move, path, "error", str(exc))
            except Exception as exc:
                # The gateway cannot take it now: the file stays for the next scan, and
                # the files after it still get their turn in this one.
                log.warning("peppol inbox file %s not taken, trying again next scan: %s",
                            path.name, exc)
                continue
            else:
                await asyncio.to_thread(self._move, path, "done", None)
            handled += 1
        return handled

    def _move(self, path: Path, folder: str, note: str | None) -> None:
        assert self.inbox is not None
        file_away(path, self.inbox / folder, note)


def inbox_id(inbox: Path) -> str:
    """The inbox folder's own id, which names its turn: made by whoever looks first.

    Not the channel's name nor the folder's path: instances with an inbox
    each of their own (a relative ``inbox_dir`` is in each one's data
    directory, and one path may be a local folder on each machine) must each
    scan theirs, and only instances that see the same folder share its turn.
    Kept in ``done/``, the gateway's own folder, so the access point never
    sees it.
    """
    marker = inbox / "done" / INBOX_ID_FILE
    try:
        return marker.read_text("ascii").strip()
    except FileNotFoundError:
        pass
    draft = marker.with_name(f"{INBOX_ID_FILE}.{os.urandom(4).hex()}.tmp")
    write_atomically(draft, uuid.uuid4().hex.encode())
    try:
        # A link fails when the name exists: of two instances making it at once, the
        # first one's id stands, whole, and the other reads it.
        os.link(draft, marker)
    except FileExistsError:
        pass
    finally:
        draft.unlink(missing_ok=True)
    return marker.read_text("ascii").strip()


def _naming_receiver(outcome: SendOutcome, receiver: PeppolParticipantId) -> SendOutcome:
    """``outcome``, which once accepted names the participant the document went to: kept on
    the message's "sent" event, where answers are checked against it (:func:`_sent_to`)."""
    if not isinstance(outcome, Accepted):
        return outcome
    return attrs.evolve(outcome, recipient=str(receiver))


def _sent_to(sent: Mapping[str, Any]) -> PeppolParticipantId | None:
    """The participant a "sent" event's document went to; None when the event does not say.

    Its ``recipient``; sends recorded before that field existed noted it at
    the end of the free text instead (", addressed to ..."), which is read for those.
    """
    recipient = sent.get("recipient")
    if not isinstance(recipient, str):
        detail = sent.get("detail")
        if not isinstance(detail, str) or _ADDRESSED_TO not in detail:
            return None
        recipient = detail.rpartition(_ADDRESSED_TO)[2]
    try:
        return PeppolParticipantId.parse(recipient)
    except ValueError:
        return None


def report_of(receipt: Receipt, transport_id: str) -> StatusReport:
    """The status report a final receipt gives."""
    if receipt.status == "delivered":
        text = "delivered to the agency's access point"
        if receipt.as4_message_id:
            text += f" (AS4 message {receipt.as4_message_id})"
        return StatusReport(code="delivered", text=text, transport_id=transport_id,
                            business_state="delivered-to-agency", at=receipt.at,
                            detail={"as4_message_id": receipt.as4_message_id or ""})
    return StatusReport(code=receipt.error_code or "failed",
                        text=receipt.error_text or "the access point could not deliver it",
                        transport_id=transport_id, failed=True, final=True, at=receipt.at)


def _problem(status: int, title: str, detail: str) -> web.Response:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    return web.json_response(body, status=status, content_type="application/problem+json")
