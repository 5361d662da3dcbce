"""``gateway simulate peppol``: a local Peppol access point that speaks the channel's API.

It stands in for the supplier's access point (C2) and, behind it, the
agency's side of the network (C3 and C4). It:

- accepts SBDH documents on ``POST /outbound`` (or as files in a pickup
  folder), checks the envelope, and validates the payload with the
  gateway's own validation (format detection, XSD, Schematron), as
  ``gateway validate`` does;
- keeps a receipt per transmission (``GET /outbound/{id}``, or a file in
  the receipts folder): delivered, or failed with the findings;
- answers like the agency would: an Invoice Response with chosen codes for
  each delivered invoice, after a delay, and an MLR for an invalid document
  when asked to; it delivers them, and orders, to the gateway's webhook or
  inbox folder;
- injects faults on request: HTTP 500 or 503, timeouts, connection resets,
  HTTP 400, failed receipts, for the next N calls or a share of them; and,
  on receipt requests, HTTP 500, 503 or 404, timeouts, resets and receipts
  that stay ``accepted``; it can also lose a transmission (``forget``);
- with a state folder, keeps every transmission there, one JSON file each,
  and takes them up again when it starts: a restart (``make run`` restarts
  it with the gateway) loses no transmission, as a real access point loses
  none.

The control endpoints under ``/control/`` and the command-line options are
documented in plugins/peppol/README.md.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import contextlib
import datetime as dt
import hmac
import json
import logging
import os
import random
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aiohttp
import attrs
import click
from aiohttp import web
from lxml import etree

from gateway.cli.simulate import configured_standards_dir
from gateway.errors import GatewayError
from gateway.eventloop import until_terminated
from gateway.fileio import write_atomically
from gateway.formats import EncodeContext, Format
from gateway.identifiers import PeppolParticipantId
from gateway.model import (
    DocumentReference,
    InvoiceResponse,
    InvoiceStatus,
    MessageLevelResponse,
    MessageLineResponse,
    MessageStatus,
    Party,
    PartyId,
    StatusClarification,
)
from gateway.paths import standards_dir
from gateway.pluginmanager import build_registry, make_plugin_manager
from gateway.registry import Registry
from gateway.statefolder import field, load_records, record_file_name, record_of
from gateway.tasks import cancel_and_wait
from gateway.validation import ValidationPool
from gateway.validation.report import Finding, Severity, ValidationReport
from gateway.xmlsafe import parse_xml
from plugins.peppol.ap_client import Receipt, receipt_to_json
from plugins.peppol.channel import SECRET_HEADER, file_stem
from plugins.peppol.sbdh import Envelope, SBDHError, participant, unwrap, wrap

log = logging.getLogger(__name__)

FAULT_KINDS = ("500", "503", "400", "timeout", "reset", "failed-receipt")
# On GET /outbound/{id}: "404" answers as for a transmission the access point does not
# know, "pending" answers the receipt as still "accepted".
RECEIPT_FAULT_KINDS = ("500", "503", "404", "timeout", "reset", "pending")
FAULT_TARGETS = ("outbound", "receipts")
INVOICE_CODES = {"AB": InvoiceStatus.ACKNOWLEDGED, "IP": InvoiceStatus.IN_PROCESS,
                 "UQ": InvoiceStatus.UNDER_QUERY, "CA": InvoiceStatus.CONDITIONALLY_ACCEPTED,
                 "RE": InvoiceStatus.REJECTED, "AP": InvoiceStatus.ACCEPTED,
                 "PD": InvoiceStatus.PAID}
INVOICE_RESPONSE_KEY = "peppol-bis:invoice-response:3"
MLR_KEY = "peppol-bis:mlr:3"
ORDER_KEY = "peppol-bis:order:3"
_CBC = "{urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2}"
_CAC = "{urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2}"
_INVOICE_TYPES = {"Invoice": "380", "CreditNote": "381"}


@attrs.frozen
class SimulatorSettings:
    """How the simulator runs; every field has a command-line option (see README.md)."""

    listen: str = "127.0.0.1:8781"
    token: str | None = None
    """The API token the channel must send as ``Authorization: Bearer``; None accepts any."""
    deliver_to: str | None = None
    """The gateway's webhook URL (``http://host:port/inbound``) for responses and orders."""
    deliver_dir: Path | None = None
    """Or the gateway's inbox folder."""
    deliver_secret: str | None = None
    """The shared secret sent in the X-Webhook-Secret header."""
    pickup_dir: Path | None = None
    """The folder the gateway's outbox_dir writes into: scanned like POST /outbound."""
    receipts_dir: Path | None = None
    """Where receipts of picked-up files are written, one ``<id>.json`` each."""
    standards: Path | None = None
    """Installed standards for validation; default: the gateway's standards folder."""
    validate: bool = True
    invalid: str = "receipt"
    """An invalid payload gets a failed receipt ("receipt") or a delivered one and an MLR RE
    ("mlr")."""
    invoice_responses: tuple[str, ...] = ()
    """T111 codes sent, in order, for every delivered invoice and credit note."""
    response_delay: float = 1.0
    """Seconds before each automatic response."""
    hang_seconds: float = 60.0
    """How long a "timeout" fault keeps the caller waiting."""
    poll_interval: float = 0.5
    faults: tuple[str, ...] = ()
    """Faults from the start, each ``KIND``, ``KIND:N`` (next N calls) or ``KIND:P%``."""
    receipt_faults: tuple[str, ...] = ()
    """The same for receipt requests (``GET /outbound/{id}``), kinds RECEIPT_FAULT_KINDS."""
    seed: int | None = None
    state_dir: Path | None = None
    """Where every transmission is kept, to be taken up again at the next start; None keeps
    them in memory only."""


@attrs.define
class Fault:
    """A fault to inject: ``count`` more times, or on ``percent`` of calls."""

    kind: str
    count: int | None = None
    percent: float | None = None

    @classmethod
    def parse(cls, text: str, kinds: Sequence[str] = FAULT_KINDS) -> Fault:
        kind, _, amount = text.partition(":")
        if kind not in kinds:
            raise ValueError(f"fault {kind!r} is not one of {', '.join(kinds)}")
        if not amount:
            return cls(kind, count=1)
        if amount.endswith("%"):
            percent = float(amount[:-1])
            if not 0 < percent <= 100:
                raise ValueError(f"fault {text!r}: the share must be between 0 and 100 %")
            return cls(kind, percent=percent)
        if not (amount.isascii() and amount.isdigit()) or int(amount) < 1:
            raise ValueError(f"fault {text!r}: give KIND:N (a count) or KIND:P% (a share)")
        return cls(kind, count=int(amount))


@attrs.define
class Transmission:
    """One SBDH document the simulator took in, with its receipt."""

    id: str
    envelope: Envelope
    payload: bytes
    received_at: dt.datetime
    status: str = "accepted"
    format_key: str | None = None
    findings: list[str] = attrs.field(factory=list)
    error: str | None = None
    copies: int = 1
    failure: str | None = None
    """The error to report instead of the validation's verdict (a fault injected when the
    document came in); kept with it, so a restart before the verdict keeps the fault too."""
    sbdh: bytes = attrs.field(default=b"", repr=False)
    """The SBDH document as received: what the state folder keeps, envelope and all."""

    def receipt(self) -> Receipt:
        if self.status == "delivered":
            return Receipt(id=self.id, status="delivered", as4_message_id=f"as4-{self.id}",
                           at=self.received_at)
        if self.status == "failed":
            return Receipt(id=self.id, status="failed", at=self.received_at,
                           error_code="delivery-failed", error_text=self.error)
        return Receipt(id=self.id, status="accepted")


@attrs.frozen
class Delivery:
    """A document the simulator delivered to the gateway, and what the gateway answered."""

    instance_id: str
    kind: str
    answer: str


def _problem(status: int, title: str, detail: str) -> web.Response:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    return web.json_response(body, status=status, content_type="application/problem+json")


def _text(root: etree._Element, path: str) -> str | None:
    node = root.find(path)
    return node.text.strip() if node is not None and node.text and node.text.strip() else None


class PeppolSimulator:
    """The simulated access point; ``start``, then ``url``, then ``stop``."""

    def __init__(self, settings: SimulatorSettings | None = None,
                 registry: Registry | None = None) -> None:
        self.settings = settings or SimulatorSettings()
        if self.settings.invalid not in ("receipt", "mlr"):
            raise ValueError(f"invalid must be 'receipt' or 'mlr', got {self.settings.invalid!r}")
        unknown = [code for code in self.settings.invoice_responses if code not in INVOICE_CODES]
        if unknown:
            raise ValueError(f"invoice response code(s) {', '.join(unknown)} not in "
                             f"{', '.join(INVOICE_CODES)}")
        self.registry = registry or build_registry(make_plugin_manager())
        self.faults: list[Fault] = [Fault.parse(text) for text in self.settings.faults]
        self.receipt_faults: list[Fault] = [Fault.parse(text, RECEIPT_FAULT_KINDS)
                                            for text in self.settings.receipt_faults]
        self.random = random.Random(self.settings.seed)
        self.transmissions: dict[str, Transmission] = {}
        self.deliveries: list[Delivery] = []
        self.calls = 0
        self.receipt_calls: collections.Counter[str] = collections.Counter()
        """Receipt requests per transmission id, answered or not."""
        self._runner: web.AppRunner | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopping = asyncio.Event()
        self._session: aiohttp.ClientSession | None = None
        self._pool: ValidationPool | None = None
        self._scanning = asyncio.Lock()
        # Writes of one transmission must land in the order its states were taken, or an
        # older state could replace a newer one.
        self._saving = asyncio.Lock()
        self.address: tuple[str, int] | None = None

    # -- life cycle ------------------------------------------------------------------------

    @property
    def url(self) -> str:
        if self.address is None:
            raise RuntimeError("the simulator is not started")
        return f"http://{self.address[0]}:{self.address[1]}"

    async def start(self) -> None:
        self._stopping.clear()
        if self.settings.state_dir is not None:
            for transmission in await asyncio.to_thread(load_state, self.settings.state_dir):
                self.transmissions.setdefault(transmission.id, transmission)
        app = web.Application(client_max_size=50 * 1024 * 1024)
        app.router.add_post("/outbound", self._post_outbound)
        app.router.add_get("/outbound/{id}", self._get_receipt)
        app.router.add_post("/control/faults", self._post_fault)
        app.router.add_delete("/control/faults", self._clear_faults)
        app.router.add_post("/control/orders", self._post_order)
        app.router.add_post("/control/invoice-responses", self._post_invoice_response)
        app.router.add_post("/control/mlrs", self._post_mlr)
        app.router.add_get("/control/transmissions", self._list_transmissions)
        app.router.add_delete("/control/transmissions/{id}", self._delete_transmission)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        host, _, port = self.settings.listen.rpartition(":")
        site = web.TCPSite(self._runner, host.strip("[]") or "127.0.0.1", int(port))
        await site.start()
        sockets = getattr(site._server, "sockets", None) or []
        self.address = sockets[0].getsockname()[:2] if sockets else (host, int(port))
        if self.settings.pickup_dir is not None:
            self._spawn(self._watch_pickup())
        # Acknowledged before the last stop but not yet validated: an access point finishes
        # what it acknowledged.
        for transmission in self.transmissions.values():
            if transmission.status == "accepted":
                self._spawn(self._deliver(transmission))

    async def stop(self) -> None:
        self._stopping.set()
        await cancel_and_wait(list(self._tasks))
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self._pool is not None:
            await asyncio.to_thread(self._pool.close)
            self._pool = None

    def _spawn(self, work: Any) -> None:
        task: asyncio.Task[None] = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        # Nobody awaits these tasks: an error not logged here would be lost.
        if not task.cancelled() and task.exception() is not None:
            log.error("peppol simulator: %s failed",
                      getattr(task.get_coro(), "__qualname__", task.get_name()),
                      exc_info=task.exception())

    # -- faults ----------------------------------------------------------------------------

    def inject(self, text: str, on: str = "outbound") -> Fault:
        """Add a fault (``503:3``, ``reset:30%``, ``400``) for the coming calls.

        ``on`` is ``outbound`` (documents handed over) or ``receipts`` (receipt
        requests, with the kinds in RECEIPT_FAULT_KINDS).
        """
        if on not in FAULT_TARGETS:
            raise ValueError(f"faults go on {' or '.join(FAULT_TARGETS)}, not {on!r}")
        receipts = on == "receipts"
        fault = Fault.parse(text, RECEIPT_FAULT_KINDS if receipts else FAULT_KINDS)
        (self.receipt_faults if receipts else self.faults).append(fault)
        return fault

    def forget(self, transmission_id: str) -> bool:
        """Lose a transmission, as an access point that lost its records would; whether it
        was known. Its receipt is a 404 from now on, and a repeat of it is new."""
        if self.transmissions.pop(transmission_id, None) is None:
            return False
        if self.settings.state_dir is not None:
            (self.settings.state_dir / record_file_name(transmission_id)).unlink(missing_ok=True)
        return True

    def _next_fault(self, faults: list[Fault]) -> str | None:
        for fault in list(faults):
            if fault.count is not None:
                fault.count -= 1
                if fault.count <= 0:
                    faults.remove(fault)
                return fault.kind
            if fault.percent is not None and self.random.random() * 100 < fault.percent:
                return fault.kind
        return None

    # -- outbound API ----------------------------------------------------------------------

    def _authorised(self, request: web.Request) -> bool:
        if self.settings.token is None:
            return True
        given = request.headers.get("Authorization", "")
        return hmac.compare_digest(given.encode(), f"Bearer {self.settings.token}".encode())

    async def _post_outbound(self, request: web.Request) -> web.StreamResponse:
        self.calls += 1
        if not self._authorised(request):
            return _problem(401, "unauthorised", "send the API token as 'Authorization: Bearer'")
        data = await request.read()
        fault = self._next_fault(self.faults)
        if fault == "400":
            return _problem(400, "simulated refusal", "the access point refuses this document "
                            "(HTTP 400 injected on request)")
        answered = await self._transport_fault(request, fault)
        if answered is not None:
            return answered
        failure = ("AS4 transmission to the receiving access point failed (injected on "
                   "request)") if fault == "failed-receipt" else None
        try:
            transmission, repeat = await self.take(data, failure)
        except SBDHError as exc:
            return _problem(400, "not a valid SBDH document", str(exc))
        return web.json_response({"id": transmission.id, "status": "accepted",
                                  "duplicate": repeat}, status=200 if repeat else 202)

    async def take(self, data: bytes, failure: str | None = None, *,
                   wait: bool = False) -> tuple[Transmission, bool]:
        """Check the envelope and keep one SBDH document; a repeated instance id is the same
        transmission.

        The payload is validated and delivered afterwards, as an access point
        does once it has acknowledged: the receipt says ``accepted`` until then
        (``wait`` does it before returning). ``failure`` makes the delivery
        fail with that error, whatever the validation says.
        """
        envelope, payload = unwrap(data)
        known = self.transmissions.get(envelope.instance_id)
        if known is not None:
            known.copies += 1
            await self._save(known)
            return known, True
        transmission = Transmission(id=envelope.instance_id, envelope=envelope, payload=payload,
                                    received_at=dt.datetime.now(dt.UTC).replace(microsecond=0),
                                    failure=failure, sbdh=data)
        self.transmissions[transmission.id] = transmission
        # Which document it is shows at once; whether it is valid, once validated.
        transmission.format_key = await asyncio.to_thread(self._detect, payload)
        try:
            await self._save(transmission)
        except Exception:
            # Not kept, not acknowledged: the sender's retry must find it new.
            if self.transmissions.get(transmission.id) is transmission:
                del self.transmissions[transmission.id]
            raise
        if wait:
            await self._deliver(transmission)
        else:
            self._spawn(self._deliver(transmission))
        return transmission, False

    async def _deliver(self, transmission: Transmission) -> None:
        report = await self._validate(transmission.payload)
        findings = [str(f) for f in report.findings if f.severity.rejects]
        valid = report.valid
        status, error = "delivered", None
        if transmission.failure is not None:
            status, error = "failed", transmission.failure
        elif not valid and self.settings.invalid != "mlr":
            status = "failed"
            error = "the receiving access point refused the document: " + "; ".join(findings[:5])
        decided = attrs.evolve(transmission, format_key=report.format_key, findings=findings,
                               status=status, error=error)
        try:
            # Kept first, served after: a receipt once given is the one a restart reads back
            # (served before it was written, a stop in between lost it).
            await self._save(transmission, decided)
        except OSError:
            # The receipt is still served from memory; only a restart would lose the verdict
            # (the document is validated again then).
            log.exception("peppol simulator: cannot keep the receipt of transmission %s in %s",
                          transmission.id, self.settings.state_dir)
        transmission.format_key, transmission.findings = decided.format_key, decided.findings
        transmission.status, transmission.error = decided.status, decided.error
        if transmission.failure is not None:
            return
        root_name = etree.QName(parse_xml(transmission.payload).getroot()).localname
        if not valid and self.settings.invalid == "mlr":
            self._spawn(self._later(self.send_mlr(transmission, report.findings)))
        elif valid and self.settings.invoice_responses and root_name in _INVOICE_TYPES:
            self._spawn(self._respond(transmission, self.settings.invoice_responses))

    async def _save(self, transmission: Transmission, state: Transmission | None = None
                    ) -> None:
        """Write the transmission's state into the state folder, if there is one: its
        current one, or ``state``, what it is about to become."""
        folder = self.settings.state_dir
        if folder is None:
            return
        async with self._saving:
            if self.transmissions.get(transmission.id) is not transmission:
                return  # forgotten: its file is gone, or a newer transmission's now
            path = folder / record_file_name(transmission.id)
            await asyncio.to_thread(write_atomically, path, state_of(state or transmission))
            current = self.transmissions.get(transmission.id)
            if current is None:
                # Forgotten while it was being written: the file must not bring it back.
                await asyncio.to_thread(path.unlink, missing_ok=True)
            elif current is not transmission:
                # Forgotten and sent anew meanwhile, under the same id: the file is the
                # new one's.
                await asyncio.to_thread(write_atomically, path, state_of(current))

    def _detect(self, payload: bytes) -> str | None:
        try:
            return self.registry.detect(payload).format.key
        except GatewayError:
            return None

    async def _validate(self, payload: bytes) -> ValidationReport:
        try:
            fmt = await asyncio.to_thread(lambda: self.registry.detect(payload).format)
        except GatewayError as exc:
            finding = Finding("detect", "unknown-format", Severity.FATAL, "", None, str(exc))
            return ValidationReport.of([finding], ["detect"], None)
        if not self.settings.validate:
            return ValidationReport.of([], [], fmt.key)
        if not fmt.layers():
            try:
                await asyncio.to_thread(fmt.decode, payload)
            except GatewayError as exc:
                finding = Finding("decode", "decode-error", Severity.FATAL, "", None, str(exc))
                return ValidationReport.of([finding], ["decode"], fmt.key)
            return ValidationReport.of([], ["decode"], fmt.key)
        if self._pool is None:
            # Saxon must not be driven from changing threads of this process (it can
            # crash the process); a worker process of the gateway's own pool is safe.
            self._pool = ValidationPool(self.settings.standards or standards_dir(), workers=1,
                                        manifest=self.registry.manifest)
        try:
            return await self._pool.validate(payload, fmt.layers(), fmt.key)
        except GatewayError as exc:
            # Standards not installed, a worker that keeps dying: without a verdict the
            # receipt would say "accepted" for ever and nobody would learn why.
            log.error("peppol simulator: cannot validate a %s document: %s", fmt.key, exc)
            finding = Finding("validation", "not-validated", Severity.FATAL, "", None,
                              f"the simulator cannot validate the document: {exc}")
            return ValidationReport.of([finding], ["validation"], fmt.key)

    async def _transport_fault(self, request: web.Request,
                               fault: str | None) -> web.Response | None:
        """The faults documents and receipt requests both take: an error answer, a reset
        connection, or (``timeout``) a hang, after which the request goes on (None)."""
        if fault in ("500", "503"):
            return _problem(int(fault), "simulated fault", f"HTTP {fault} injected on request")
        if fault == "reset":
            transport = request.transport
            if transport is not None:
                transport.abort()
            return web.Response(status=500)
        if fault == "timeout":
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.settings.hang_seconds)
        return None

    async def _get_receipt(self, request: web.Request) -> web.Response:
        ident = request.match_info["id"]
        self.receipt_calls[ident] += 1
        if not self._authorised(request):
            return _problem(401, "unauthorised", "send the API token as 'Authorization: Bearer'")
        fault = self._next_fault(self.receipt_faults)
        answered = await self._transport_fault(request, fault)
        if answered is not None:
            return answered
        transmission = self.transmissions.get(ident)
        if transmission is None or fault == "404":
            return _problem(404, "unknown transmission", ident)
        receipt = transmission.receipt()
        if fault == "pending":
            receipt = Receipt(id=transmission.id, status="accepted")
        body = receipt_to_json(receipt)
        body["findings"] = transmission.findings
        return web.json_response(body)

    # -- the pickup folder -----------------------------------------------------------------

    async def scan_pickup(self) -> int:
        """Take every SBDH file from the pickup folder and write its receipt; how many."""
        folder = self.settings.pickup_dir
        receipts = self.settings.receipts_dir
        if folder is None or receipts is None:
            raise RuntimeError("the pickup folder needs both pickup_dir and receipts_dir")
        taken = 0
        async with self._scanning:  # one scan at a time: a file is taken once
            for path in sorted(folder.glob("*.xml")):
                if path.name.startswith("."):
                    continue
                data = await asyncio.to_thread(path.read_bytes)
                (folder / "done").mkdir(exist_ok=True)
                try:
                    transmission, _ = await self.take(data, wait=True)
                except SBDHError as exc:
                    log.warning("pickup file %s refused: %s", path.name, exc)
                    await asyncio.to_thread(os.replace, path, folder / "done" / path.name)
                    continue
                body = json.dumps(receipt_to_json(transmission.receipt())).encode()
                target = receipts / f"{file_stem(transmission.id)}.json"
                await asyncio.to_thread(_write_file, target, body)
                await asyncio.to_thread(os.replace, path, folder / "done" / path.name)
                taken += 1
        return taken

    async def _watch_pickup(self) -> None:
        while True:
            try:
                await self.scan_pickup()
            except Exception:
                log.exception("peppol simulator: pickup scan failed")
            await asyncio.sleep(self.settings.poll_interval)

    # -- answers to the gateway ------------------------------------------------------------

    async def _later(self, work: Any) -> None:
        await asyncio.sleep(self.settings.response_delay)
        await work

    async def _respond(self, transmission: Transmission, codes: Sequence[str]) -> None:
        for code in codes:
            await asyncio.sleep(self.settings.response_delay)
            try:
                await self.send_invoice_response(transmission.id, code)
            except Exception:
                log.exception("peppol simulator: invoice response %s for %s failed", code,
                              transmission.id)

    def _format(self, key: str) -> Format:
        return self.registry.format(key)

    async def send_invoice_response(self, transmission_id: str, code: str,
                                    reason: str | None = None) -> str:
        """Send the gateway a T111 with ``code`` for the invoice of a transmission; its id."""
        transmission = self.transmissions[transmission_id]
        if code not in INVOICE_CODES:
            raise ValueError(f"invoice response code {code!r} not in {', '.join(INVOICE_CODES)}")
        root = parse_xml(transmission.payload).getroot()
        kind = etree.QName(root).localname
        if kind not in _INVOICE_TYPES:
            raise ValueError(f"transmission {transmission_id} is a {kind}, not an invoice")
        status = INVOICE_CODES[code]
        clarifications: tuple[StatusClarification, ...] = ()
        if status in (InvoiceStatus.UNDER_QUERY, InvoiceStatus.CONDITIONALLY_ACCEPTED,
                      InvoiceStatus.REJECTED):
            clarifications = (StatusClarification(
                code="OTH", code_list="OPStatusReason",
                text=reason or "Simulated answer from the agency"),)
        buyer = _text(root, f"{_CAC}AccountingCustomerParty/{_CAC}Party/{_CAC}PartyLegalEntity/"
                            f"{_CBC}RegistrationName") or "Agency"
        seller = _text(root, f"{_CAC}AccountingSupplierParty/{_CAC}Party/{_CAC}PartyLegalEntity"
                             f"/{_CBC}RegistrationName") or "Supplier"
        issued = _text(root, f"{_CBC}IssueDate")
        now = dt.datetime.now(dt.UTC)
        response = InvoiceResponse(
            number=f"IR-{uuid.uuid4().hex[:12]}", issue_date=now.date(),
            issue_time=now.time().replace(microsecond=0),
            status=status, clarifications=clarifications,
            invoice_reference=DocumentReference(
                id=_text(root, f"{_CBC}ID") or transmission_id, type_code=_INVOICE_TYPES[kind],
                issue_date=dt.date.fromisoformat(issued[:10]) if issued else None),
            sender=Party(registration_name=buyer,
                         endpoint_id=_party_id(transmission.envelope.receiver)),
            receiver=Party(registration_name=seller,
                           endpoint_id=_party_id(transmission.envelope.sender)),
        )
        data = self._format(INVOICE_RESPONSE_KEY).encode(response, _NO_CONTEXT)
        return await self.deliver(data, sender=transmission.envelope.receiver,
                                  receiver=transmission.envelope.sender, kind=f"T111 {code}")

    async def send_mlr(self, transmission: Transmission, findings: Sequence[Finding]) -> str:
        """Send the gateway an MLR rejecting a transmission, one line per finding."""
        now = dt.datetime.now(dt.UTC)
        lines = tuple(
            MessageLineResponse(location=f.location or "/", description=f"[{f.rule}] {f.text}",
                                reason_code="BV" if f.severity.rejects else "BW",
                                status=MessageStatus.REJECTED if f.severity.rejects else None)
            for f in findings[:50])
        response = MessageLevelResponse(
            number=f"MLR-{uuid.uuid4().hex[:12]}", issue_date=now.date(),
            issue_time=now.time().replace(microsecond=0), status=MessageStatus.REJECTED,
            description="Rejected: the document does not pass validation",
            document_reference=DocumentReference(id=transmission.id),
            sender=Party(endpoint_id=_party_id(transmission.envelope.receiver)),
            receiver=Party(endpoint_id=_party_id(transmission.envelope.sender)),
            line_responses=lines)
        data = self._format(MLR_KEY).encode(response, _NO_CONTEXT)
        return await self.deliver(data, sender=transmission.envelope.receiver,
                                  receiver=transmission.envelope.sender, kind="T71 RE")

    async def deliver_order(self, data: bytes | None = None, *, sample: int = 0,
                            times: int = 1, instance_id: str | None = None) -> str:
        """Deliver an order (``data``, else a ``peppol-bis:order:3`` sample) ``times`` times.

        Every copy carries the same SBDH instance id, as an access point's
        redelivery does. Returns that id.
        """
        if data is None:
            samples = self._format(ORDER_KEY).samples()
            chosen = samples[sample % len(samples)]
            data = chosen.data if chosen.data is not None else self._format(ORDER_KEY).encode(
                chosen.document, chosen.context)
        root = parse_xml(data).getroot()
        buyer = root.find(f"{_CAC}BuyerCustomerParty/{_CAC}Party/{_CBC}EndpointID")
        seller = root.find(f"{_CAC}SellerSupplierParty/{_CAC}Party/{_CBC}EndpointID")
        if buyer is None or seller is None:
            raise ValueError("the order names no buyer and seller EndpointID to address it by")
        sender = participant(f"{buyer.get('schemeID')}:{(buyer.text or '').strip()}", "sender")
        receiver = participant(f"{seller.get('schemeID')}:{(seller.text or '').strip()}",
                               "receiver")
        instance = instance_id or str(uuid.uuid4())
        for _ in range(times):
            await self.deliver(data, sender=sender, receiver=receiver, kind="T01",
                               instance_id=instance)
        return instance

    async def deliver(self, payload: bytes, *, sender: PeppolParticipantId,
                      receiver: PeppolParticipantId, kind: str,
                      instance_id: str | None = None) -> str:
        """Wrap ``payload`` and hand it to the gateway (webhook or folder); the instance id."""
        envelope, data = wrap(payload, sender=sender, receiver=receiver,
                              instance_id=instance_id)
        if self.settings.deliver_to is not None:
            answer = await self._post(self.settings.deliver_to, data)
        elif self.settings.deliver_dir is not None:
            name = f"{envelope.instance_id}-{uuid.uuid4().hex[:6]}.xml"
            await asyncio.to_thread(_write_file, self.settings.deliver_dir / name, data)
            answer = f"written to {name}"
        else:
            raise RuntimeError("nowhere to deliver: set deliver_to or deliver_dir")
        self.deliveries.append(Delivery(envelope.instance_id, kind, answer))
        return envelope.instance_id

    async def _post(self, url: str, data: bytes) -> str:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        headers = {"Content-Type": "application/xml"}
        if self.settings.deliver_secret is not None:
            headers[SECRET_HEADER] = self.settings.deliver_secret
        last = ""
        # An access point keeps trying a receiver that is down for a moment.
        for attempt in range(5):
            try:
                async with self._session.post(url, data=data, headers=headers) as response:
                    last = f"HTTP {response.status}: {(await response.text())[:300]}"
                    if response.status < 500:
                        if response.status >= 400:
                            raise RuntimeError(f"the gateway refused the delivery: {last}")
                        return last
            except aiohttp.ClientError as exc:
                last = f"{type(exc).__name__}: {exc}"
            await asyncio.sleep(0.2 * 2 ** attempt)
        raise RuntimeError(f"the gateway did not take the delivery: {last}")

    # -- control endpoints -----------------------------------------------------------------

    async def _json(self, request: web.Request) -> dict[str, Any]:
        try:
            body = await request.json()
        except ValueError:
            raise web.HTTPBadRequest(text="expected a JSON object") from None
        if not isinstance(body, dict):
            raise web.HTTPBadRequest(text="expected a JSON object")
        return body

    async def _post_fault(self, request: web.Request) -> web.Response:
        body = await self._json(request)
        text = str(body.get("fault", ""))
        on = str(body.get("on", "outbound"))
        try:
            fault = self.inject(text, on)
        except ValueError as exc:
            return _problem(400, "bad fault", str(exc))
        return web.json_response({"fault": fault.kind, "count": fault.count,
                                  "percent": fault.percent, "on": on}, status=201)

    async def _clear_faults(self, request: web.Request) -> web.Response:
        self.faults.clear()
        self.receipt_faults.clear()
        return web.json_response({"faults": []})

    async def _delete_transmission(self, request: web.Request) -> web.Response:
        ident = request.match_info["id"]
        if not self.forget(ident):
            return _problem(404, "unknown transmission", ident)
        return web.json_response({"forgotten": ident})

    async def _post_order(self, request: web.Request) -> web.Response:
        if request.content_type == "application/json":
            body = await self._json(request)
            data, sample, times = None, int(body.get("sample", 0)), int(body.get("times", 1))
        else:
            data, sample, times = await request.read(), 0, int(request.query.get("times", "1"))
        try:
            instance = await self.deliver_order(data, sample=sample, times=times)
        except (ValueError, GatewayError, RuntimeError) as exc:
            return _problem(400, "cannot deliver the order", str(exc))
        return web.json_response({"instance_id": instance, "times": times}, status=201)

    async def _post_invoice_response(self, request: web.Request) -> web.Response:
        body = await self._json(request)
        try:
            instance = await self.send_invoice_response(
                str(body.get("transmission", "")), str(body.get("code", "")),
                body.get("reason") if isinstance(body.get("reason"), str) else None)
        except KeyError:
            return _problem(404, "unknown transmission", str(body.get("transmission")))
        except (ValueError, GatewayError, RuntimeError) as exc:
            return _problem(400, "cannot send the invoice response", str(exc))
        return web.json_response({"instance_id": instance}, status=201)

    async def _post_mlr(self, request: web.Request) -> web.Response:
        body = await self._json(request)
        transmission = self.transmissions.get(str(body.get("transmission", "")))
        if transmission is None:
            return _problem(404, "unknown transmission", str(body.get("transmission")))
        reason = str(body.get("reason") or "Rejected by the receiving system (simulated)")
        finding = Finding("simulator", "SIM-MLR", Severity.FATAL, str(body.get("location", "/")),
                          None, reason)
        try:
            instance = await self.send_mlr(transmission, [finding])
        except (ValueError, GatewayError, RuntimeError) as exc:
            return _problem(400, "cannot send the MLR", str(exc))
        return web.json_response({"instance_id": instance}, status=201)

    async def _list_transmissions(self, request: web.Request) -> web.Response:
        return web.json_response([
            {"id": t.id, "status": t.status, "format": t.format_key, "copies": t.copies,
             "sender": str(t.envelope.sender), "receiver": str(t.envelope.receiver),
             "document_type_id": t.envelope.ids.document_type_id, "findings": t.findings}
            for t in self.transmissions.values()])


_NO_CONTEXT = EncodeContext()


def _party_id(participant_id: PeppolParticipantId) -> PartyId:
    return PartyId(scheme=participant_id.scheme, value=participant_id.value)


def _write_file(path: Path, data: bytes) -> None:
    write_atomically(path, data)


# -- the state folder -------------------------------------------------------------------------

STATE_VERSION = 1
RECEIPT_STATES = ("accepted", "delivered", "failed")
def state_of(transmission: Transmission) -> bytes:
    """A transmission as its file in the state folder holds it."""
    return json.dumps({
        "version": STATE_VERSION,
        "id": transmission.id,
        "status": transmission.status,
        "received_at": transmission.received_at.isoformat(),
        "format_key": transmission.format_key,
        "findings": transmission.findings,
        "error": transmission.error,
        "failure": transmission.failure,
        "copies": transmission.copies,
        "sbdh": base64.b64encode(transmission.sbdh).decode("ascii"),
    }, indent=1).encode()


def transmission_from_state(data: bytes) -> Transmission:
    """A transmission back from its file; ValueError or SBDHError naming what is wrong."""
    record = record_of(data, STATE_VERSION)
    ident = field(record, "id", str)
    status = field(record, "status", str)
    if status not in RECEIPT_STATES:
        raise ValueError(f"'status' is {status!r}, not one of {', '.join(RECEIPT_STATES)}")
    findings = field(record, "findings", list)
    if not all(isinstance(finding, str) for finding in findings):
        raise ValueError("'findings' must be a list of strings")
    copies = field(record, "copies", int)
    if copies < 1:
        raise ValueError(f"'copies' is {copies}, expected 1 or more")
    try:
        received_at = dt.datetime.fromisoformat(field(record, "received_at", str))
        sbdh = base64.b64decode(field(record, "sbdh", str), validate=True)
    except ValueError as exc:  # binascii.Error is one too
        raise ValueError(f"'received_at' or 'sbdh' is malformed: {exc}") from None
    try:
        envelope, payload = unwrap(sbdh)
    except SBDHError as exc:
        raise SBDHError(f"'sbdh' is no SBDH document: {exc}") from None
    if envelope.instance_id != ident:
        raise ValueError(f"'id' is {ident!r} but the SBDH InstanceIdentifier is "
                         f"{envelope.instance_id!r}")
    return Transmission(id=ident, envelope=envelope, payload=payload, received_at=received_at,
                        status=status, format_key=field(record, "format_key", str,
                                                         optional=True),
                        findings=findings, error=field(record, "error", str, optional=True),
                        copies=copies, failure=field(record, "failure", str, optional=True),
                        sbdh=sbdh)


def load_state(folder: Path) -> list[Transmission]:
    """The transmissions kept in ``folder``; a bad file is named in the log and skipped."""
    return load_records(folder, transmission_from_state, lambda kept: kept.id,
                        who="peppol simulator", what="transmission(s)")


# -- the command ------------------------------------------------------------------------------


@click.command("peppol")
@click.option("--listen", default="127.0.0.1:8781", show_default=True, metavar="HOST:PORT",
              help="Address of the access point API.")
@click.option("--deliver-to", metavar="URL",
              help="The gateway's Peppol webhook (inbound_listen), e.g. http://127.0.0.1:8782/inbound.")
@click.option("--deliver-dir", type=click.Path(path_type=Path), metavar="DIR",
              help="Or the gateway's Peppol inbox_dir.")
@click.option("--secret-env", metavar="VAR",
              help="Environment variable holding the webhook secret (X-Webhook-Secret).")
@click.option("--token", metavar="TOKEN", help="API token the channel must send (default: any).")
@click.option("--pickup-dir", type=click.Path(path_type=Path), metavar="DIR",
              help="Folder the gateway's outbox_dir writes into.")
@click.option("--receipts-dir", type=click.Path(path_type=Path), metavar="DIR",
              help="Folder for receipts of picked-up files (the channel's receipts_dir).")
@click.option("--standards-dir", type=click.Path(path_type=Path, file_okay=False), metavar="DIR",
              help="Installed standards for validation. Default: the gateway's, as its "
                   "configuration (--config) says.")
@click.option("--state-dir", type=click.Path(path_type=Path, file_okay=False), metavar="DIR",
              help="Keep every transmission in this folder and take them up again at the next "
                   "start, so receipts survive a restart. Default: in memory only.")
@click.option("--invoice-response", "invoice_responses", multiple=True, metavar="CODE",
              type=click.Choice(sorted(INVOICE_CODES)),
              help="Answer each delivered invoice with this T111 code; repeat for a sequence.")
@click.option("--response-delay", type=float, default=1.0, show_default=True, metavar="SECONDS",
              help="Delay before each automatic response.")
@click.option("--invalid", type=click.Choice(["receipt", "mlr"]), default="receipt",
              show_default=True,
              help="An invalid document gets a failed receipt, or an MLR rejection.")
@click.option("--fault", "faults", multiple=True, metavar="KIND[:N|:P%]",
              help=f"Inject a fault from the start; KIND is one of {', '.join(FAULT_KINDS)}.")
@click.option("--receipt-fault", "receipt_faults", multiple=True, metavar="KIND[:N|:P%]",
              help="Inject a fault on receipt requests from the start; KIND is one of "
                   f"{', '.join(RECEIPT_FAULT_KINDS)}.")
@click.option("--seed", type=int, help="Seed for percentage faults, for repeatable runs.")
def simulate_peppol(listen: str, deliver_to: str | None, deliver_dir: Path | None,
                    secret_env: str | None, token: str | None, pickup_dir: Path | None,
                    receipts_dir: Path | None, standards_dir: Path | None,
                    state_dir: Path | None, invoice_responses: tuple[str, ...],
                    response_delay: float, invalid: str, faults: tuple[str, ...],
                    receipt_faults: tuple[str, ...], seed: int | None) -> None:
    """A local Peppol access point for the peppol channel (see plugins/peppol/README.md)."""
    secret = None
    if secret_env is not None:
        secret = os.environ.get(secret_env)
        if not secret:
            raise click.UsageError(f"--secret-env names {secret_env!r}, which is not set")
    if (pickup_dir is None) != (receipts_dir is None):
        raise click.UsageError("--pickup-dir and --receipts-dir go together")
    try:
        settings = SimulatorSettings(
            listen=listen, token=token, deliver_to=deliver_to, deliver_dir=deliver_dir,
            deliver_secret=secret, pickup_dir=pickup_dir, receipts_dir=receipts_dir,
            standards=standards_dir or configured_standards_dir(),
            invoice_responses=invoice_responses, response_delay=response_delay,
            invalid=invalid, faults=faults, receipt_faults=receipt_faults, seed=seed,
            state_dir=state_dir)
        simulator = PeppolSimulator(settings)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None

    async def run() -> None:
        try:
            await simulator.start()
        except OSError as exc:
            # A busy port, a --state-dir that cannot be created or read.
            await simulator.stop()
            raise click.ClickException(f"cannot start the simulator: {exc}") from exc
        click.echo(f"Peppol access point simulator on {simulator.url} "
                   f"(POST /outbound, GET /outbound/{{id}}, /control/...)")
        try:
            await asyncio.Event().wait()
        finally:
            await simulator.stop()

    # `kill` (scripts/run-local.sh, systemd) stops it as Ctrl-C does, so stop() ends the
    # validation workers too; SIGTERM's default would leave them running, orphaned.
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(until_terminated(run()))
