"""``DigipoortSimulator``: a local Digipoort speaking WUS 1.2 over two-way TLS.

Serves the AanleverService, StatusinformatieService and OphaalService under
the Aansluit Suite paths (``/cpl/...``) on one loopback port, checks every
request with ``wus.server.WusEndpoint`` (TLS client certificate, SOAP 1.1,
WS-Addressing, WS-Security, koppelvlak XSD), signs its answers with its
server certificate (or ``settings.sign_with``), and walks each aanlevering through its statuses (see
``scenarios``). It can deliver agency documents to a supplier's AfleverService
(``deliver``) and keeps them for the OphaalService. With
``settings.state_dir`` it keeps its aanlever processes there (module
``state``) and takes them up again at the next start, walks and all.

For tests and the conformance runner::

    sim = DigipoortSimulator(SimulatorSettings(step_delay=0))
    await sim.start()
    sim.aanlever_url, sim.status_url, sim.ophaal_url, sim.pki  # PEM paths
    ...
    process = sim.process(kenmerk)      # .codes, .statuses, .scenario
    await sim.wait_finished(kenmerk)    # until a terminal status
    sim.inject(Fault(FaultKind.HTTP_503, count=2, service="aanlever"))
    sim.ophaal_calls["getNieuweBerichten"]  # OphaalService requests it answered
    await sim.stop()
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import tempfile
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID
from lxml import etree

from gateway.fileio import write_atomically
from gateway.paths import standards_dir as default_standards_dir
from gateway.pluginmanager import build_registry, make_plugin_manager
from gateway.registry import Registry
from gateway.statefolder import record_file_name
from gateway.tasks import cancel_and_wait

from ..wus import berichtsoorten, codes
from ..wus import koppelvlak as kv
from ..wus.client import WusClient, WusTransportError
from ..wus.ns import AFLEVEREN, CPL_PATHS
from ..wus.pki import Pki, make_pki
from ..wus.security import SigningIdentity, Trust
from ..wus.server import RequestRefused, WusEndpoint, WusRequest
from ..wus.tls import client_context, server_context
from . import scenarios as sc
from .deliveries import DELIVERED, GAVE_UP, MAX_PAUSE, QUEUED, REFUSED, RETRYING, Delivery
from .payload import check_payload
from .processes import MailboxEntry, Process, StatusEvent
from .settings import Fault, FaultKind, SimulatorSettings
from .state import load_state, state_of

log = logging.getLogger(__name__)

Handler = Callable[[WusRequest], Awaitable[etree._Element]]


class Overloaded(Exception):
    """Answer HTTP 503 with Retry-After instead of a SOAP response."""


class _Stalled(Exception):
    """The process got its ``stall_after`` status: it walks no further."""


class _Diverged(Exception):
    """A history taken up from the state folder is not the one this walk makes (settings
    such as ``max_delivery_attempts`` changed): it is left as it stands."""


def _now() -> datetime:
    return datetime.now(UTC)


def _event(code: str, fout: str | None = None, details: str | None = None) -> StatusEvent:
    return StatusEvent(
        code,
        _now(),
        codes.meaning(code)[:80],
        kv.Fout(fout, codes.fault_text(fout)) if fout else None,
        details,
    )


def _authorised(request: WusRequest, belanghebbende: kv.Identiteit, adres: str | None) -> None:
    """autorisatieAdres is required when the belanghebbende is not the caller (koppelvlak XSD,
    autorisatieAdresType); the caller is the subject serialNumber of its certificate
    (00000003 + KvK + 0000, or an OIN)."""
    if adres is not None:
        return
    serials = [
        str(a.value)
        for a in request.signer.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)
    ]
    own = set(serials) | {s[8:16] for s in serials if len(s) == 20 and s.startswith("00000003")}
    if belanghebbende.nummer not in own:
        raise kv.WusFault(
            "status",
            "STS100",
            "autorisatieAdres ontbreekt: de belanghebbende is niet de opvrager",
        )


def _caller(request: WusRequest) -> str:
    return hashlib.sha256(request.signer.public_bytes(serialization.Encoding.DER)).hexdigest()


class DigipoortSimulator:
    def __init__(self, settings: SimulatorSettings | None = None) -> None:
        self.settings = settings or SimulatorSettings()
        self.pki: Pki | None = None
        self.registry: Registry | None = None
        self._processes: dict[str, Process] = {}
        self._mailbox: list[MailboxEntry] = []
        self._faults: list[Fault] = []
        self._overload: dict[str, int] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._temp: tempfile.TemporaryDirectory[str] | None = None
        self._deliverer: WusClient | None = None
        self._control: web.AppRunner | None = None
        self._control_port: int | None = None
        self.deliveries: list[Delivery] = []
        """What ``deliver_reliably`` delivered or is still trying to, oldest first."""
        # Writes of one process must land in the order its states were taken, or an older
        # state could replace a newer one.
        self._saving = asyncio.Lock()
        self.ophaal_calls: Counter[str] = Counter()
        """OphaalService requests by operation, counted as they are answered: those a fault
        or a check refused before any document was handed over do not count."""

    # --- life cycle -----------------------------------------------------------

    async def start(self) -> None:
        settings = self.settings
        if settings.state_dir is not None:
            for kept in await asyncio.to_thread(load_state, settings.state_dir):
                self._processes.setdefault(kept.kenmerk, kept)
        self.pki = self._prepare_pki()
        trust_files = list(settings.trust) or [self.pki.ca]
        trust = Trust.from_pem_files(*trust_files)
        signer = settings.sign_with or self.pki.server
        identity = SigningIdentity.from_files(signer.cert, signer.key)
        self._endpoints = {
            service: WusEndpoint(
                service,
                identity,
                trust,
                settings.algorithm,
                timestamps=settings.timestamp_rule(),
                as_digipoort=True,
            )
            for service in ("aanlever", "status", "ophaal")
        }
        if settings.validate_payload:
            self.registry = settings.registry or build_registry(make_plugin_manager())
        app = web.Application(client_max_size=32 * 1024 * 1024)
        app.router.add_post(CPL_PATHS["aanlever"], self._route("aanlever", self._aanleveren))
        app.router.add_post(CPL_PATHS["status"], self._route("status", self._status))
        app.router.add_post(CPL_PATHS["ophaal"], self._route("ophaal", self._ophalen))
        self._runner = web.AppRunner(app, shutdown_timeout=1.0)
        await self._runner.setup()
        context = server_context(self.pki.server.cert, self.pki.server.key, trust_files)
        site = web.TCPSite(self._runner, settings.host, settings.port, ssl_context=context)
        await site.start()
        self._port = int(self._runner.addresses[0][1])
        # Acknowledged before the last stop and not at its end: Digipoort goes on with it.
        for process in self._processes.values():
            if not process.finished:
                self._start_walk(process)
        if settings.control_listen is not None:
            from .control import control_app

            self._control = web.AppRunner(control_app(self), access_log=None,
                                          shutdown_timeout=1.0)
            await self._control.setup()
            host, port = settings.control_listen
            await web.TCPSite(self._control, host, port).start()
            self._control_port = int(self._control.addresses[0][1])

    async def stop(self) -> None:
        # The server first: an aanlevering it is still answering starts its walk, which
        # must be cancelled with the others rather than outlive the stop.
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._control is not None:
            await self._control.cleanup()
            self._control = None
        await cancel_and_wait(list(self._tasks))
        if self._deliverer is not None:
            await self._deliverer.close()
            self._deliverer = None
        if self._temp is not None:
            self._temp.cleanup()
            self._temp = None

    async def __aenter__(self) -> DigipoortSimulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def _prepare_pki(self) -> Pki:
        folder = self.settings.pki_dir
        if folder is None:
            self._temp = tempfile.TemporaryDirectory(prefix="digipoort-sim-pki-")
            return make_pki(Path(self._temp.name))
        if (folder / "ca.pem").is_file():
            return Pki.load(folder)
        return make_pki(folder)

    # --- addresses and inspection ---------------------------------------------

    def _url(self, service: str) -> str:
        if self._port is None:
            raise RuntimeError("the simulator is not started")
        host = self.settings.host
        shown = f"[{host}]" if ":" in host else host
        return f"https://{shown}:{self._port}{CPL_PATHS[service]}"

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the simulator is not started")
        return self._port

    @property
    def aanlever_url(self) -> str:
        return self._url("aanlever")

    @property
    def status_url(self) -> str:
        return self._url("status")

    @property
    def ophaal_url(self) -> str:
        return self._url("ophaal")

    @property
    def control_url(self) -> str:
        """The base address of the control API (``settings.control_listen``)."""
        if self._control_port is None:
            raise RuntimeError("the simulator serves no control API")
        assert self.settings.control_listen is not None
        host = self.settings.control_listen[0]
        return f"http://{f'[{host}]' if ':' in host else host}:{self._control_port}"

    def process(self, kenmerk: str) -> Process:
        try:
            return self._processes[kenmerk]
        except KeyError:
            raise KeyError(f"no aanlevering with kenmerk {kenmerk!r}") from None

    def processes(self) -> list[Process]:
        return list(self._processes.values())

    async def wait_finished(self, kenmerk: str, timeout: float = 10.0) -> Process:  # noqa: ASYNC109
        process = self.process(kenmerk)
        await asyncio.wait_for(process.done.wait(), timeout)
        return process

    def inject(self, fault: Fault) -> None:
        """Make the next ``fault.count`` requests (of ``fault.service``) fail that way."""
        if fault.count < 1:
            raise ValueError("a fault needs a count of at least 1")
        self._faults.append(fault)

    def pending_faults(self) -> list[Fault]:
        return list(self._faults)

    def _take_fault(self, service: str) -> Fault | None:
        for fault in self._faults:
            if fault.service in (None, service):
                fault.count -= 1
                if fault.count <= 0:
                    self._faults.remove(fault)
                return fault
        return None

    # --- request handling -----------------------------------------------------

    def _route(
        self, service: str, handler: Handler
    ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        endpoint = self._endpoints[service]

        async def handle(request: web.Request) -> web.StreamResponse:
            fault = self._take_fault(service)
            if fault is not None:
                early = await self._fault_before(fault, request)
                if early is not None:
                    return early
            try:
                wus_request = await endpoint.read(request)
            except RequestRefused as refused:
                return endpoint.fault_response(
                    refused.fault, refused.operation, refused.relates_to
                )
            if fault is not None and fault.kind is FaultKind.LATE:
                # Read first: a caller that gives up meanwhile no longer stops it.
                await asyncio.sleep(fault.delay)
            try:
                body = await handler(wus_request)
            except kv.KoppelvlakError as invalid:
                # XSD-valid but still not acceptable (e.g. an empty berichtsoort)
                code = "STS100" if service == "status" else "ALS100"
                return endpoint.fault_response(
                    kv.WusFault(service, code, f"koppelvlak: {invalid}"),
                    wus_request.operation,
                    wus_request.message_id,
                )
            except kv.WusFault as wus_fault:
                return endpoint.fault_response(
                    wus_fault,
                    wus_request.operation,
                    wus_request.message_id,
                    client_error=not wus_fault.retryable,
                )
            except Overloaded as exc:
                return web.Response(status=503, text=str(exc), headers={"Retry-After": "1"})
            response = endpoint.respond(wus_request, body)
            if fault is not None and fault.kind is FaultKind.BAD_SIGNATURE:
                response.body = _break_signature(bytes(response.body))  # type: ignore[arg-type]
            return response

        return handle

    async def _fault_before(self, fault: Fault, request: web.Request) -> web.StreamResponse | None:
        if fault.kind is FaultKind.SLOW:
            await asyncio.sleep(fault.delay)
            return None
        if fault.kind is FaultKind.HTTP_500:
            return web.Response(status=500, text="Internal Server Error (injected)")
        if fault.kind is FaultKind.HTTP_503:
            return web.Response(
                status=503, text="Service Unavailable (injected)", headers={"Retry-After": "1"}
            )
        if fault.kind in (FaultKind.RESET, FaultKind.TIMEOUT):
            if fault.kind is FaultKind.TIMEOUT:
                await asyncio.sleep(fault.delay)
            if request.transport is not None:
                request.transport.abort()
            raise ConnectionResetError(f"{fault.kind.value} injected")
        return None

    # --- AanleverService --------------------------------------------------------

    async def _aanleveren(self, request: WusRequest) -> etree._Element:
        body = kv.AanleverRequest.from_element(request.body)
        scenario = sc.scenario_of(body.aanleverkenmerk)
        if scenario == sc.AANLEVER_FAULT:
            raise kv.WusFault(
                "aanlever",
                "ALS100",
                f"{codes.fault_text('ALS100')} (scenario {sc.AANLEVER_FAULT})",
            )
        if scenario == sc.OVERBELAST_AANLEVEREN:
            refused = self._overload.get(scenario, 0)
            if refused < self.settings.overload_refusals:
                self._overload[scenario] = refused + 1
                raise kv.WusFault(
                    "aanlever", "ALS400", "Digipoort is overbelast, probeer het later opnieuw"
                )
            self._overload[scenario] = 0
        try:
            berichtsoort = berichtsoorten.by_name(body.berichtsoort)
        except berichtsoorten.UnknownBerichtsoort as exc:
            raise kv.WusFault("aanlever", "ALS110", str(exc)) from exc
        if not berichtsoort.active or berichtsoort.direction != "outbound":
            raise kv.WusFault(
                "aanlever",
                "ALS110",
                f"berichtsoort {berichtsoort.name} kan niet worden aangeleverd",
            )
        if scenario == sc.ZWAARBELAST_AANLEVEREN:
            await asyncio.sleep(self.settings.slow_delay)
        kenmerk = str(uuid.uuid4())
        process = Process(kenmerk, body, scenario, _now(), stall_after=self.settings.stall_after)
        process.add(_event("105"))
        process.add(_event("100"))
        # Kept before it is answered: a kenmerk the caller holds is never unknown after a
        # restart.
        try:
            await self._save(process)
        except (OSError, ValueError) as exc:
            log.error("digipoort simulator: cannot keep aanlevering %s in %s: %s",
                      kenmerk, self.settings.state_dir, exc)
            raise kv.WusFault(
                "aanlever", "ALS400",
                f"{codes.fault_text('ALS400')}: de aanlevering kan niet worden bewaard",
            ) from exc
        self._processes[kenmerk] = process
        self._start_walk(process)
        last = process.statuses[-1]
        return kv.AanleverResponse(
            kenmerk=kenmerk,
            berichtsoort=body.berichtsoort,
            tijdstempel_aangeleverd=process.aangeleverd,
            identiteit_belanghebbende=body.identiteit_belanghebbende,
            rol_belanghebbende=body.rol_belanghebbende,
            aanleverkenmerk=body.aanleverkenmerk,
            eerder_aanleverkenmerk=body.eerder_aanleverkenmerk,
            identiteit_ontvanger=body.identiteit_ontvanger,
            rol_ontvanger=body.rol_ontvanger,
            autorisatie_adres=body.autorisatie_adres,
            statuscode=last.code,
            tijdstempel_status=last.tijdstempel,
            statusomschrijving=last.omschrijving,
        ).to_element()

    def _start_walk(self, process: Process) -> None:
        self._spawn(self._walk(process), f"walk {process.kenmerk}")

    def _spawn(self, work: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _walk(self, process: Process) -> None:
        try:
            await self._steps(process, berichtsoorten.by_name(process.request.berichtsoort))
        except _Stalled:
            pass
        except _Diverged as exc:
            log.warning("digipoort simulator: aanlevering %s keeps the %d statuses it had "
                        "and walks no further: %s", process.kenmerk, len(process.statuses), exc)

    async def _steps(self, process: Process, berichtsoort: berichtsoorten.Berichtsoort) -> None:
        """Walk the process through its scenario's statuses, one per step delay.

        A process taken up from the state folder has some of them already: the
        steps are the same for its scenario, so those are passed over (checked,
        not added again) and the walk goes on after the last one.
        """
        delay = self.settings.step_delay
        position = 2  # 105 and 100 came with the aanleverResponse

        def recorded() -> StatusEvent | None:
            return process.statuses[position] if position < len(process.statuses) else None

        async def step(code: str, fout: str | None = None, details: str | None = None,
                       wait: float = delay) -> None:
            nonlocal position
            earlier = recorded()
            position += 1
            if earlier is None:
                await asyncio.sleep(wait)
                event = _event(code, fout, details)
                # Kept before any caller can be told it: a restart then answers the same.
                await self._save_step(process, (event,))
                process.add(event)
            elif (earlier.code, earlier.fout.foutcode if earlier.fout else None) != (code, fout):
                shown = earlier.code + (f"/{earlier.fout.foutcode}" if earlier.fout else "")
                raise _Diverged(f"status {position} was {shown}, this walk makes "
                                f"{code}{f'/{fout}' if fout else ''} there")
            if code == process.stall_after:
                raise _Stalled

        await step("110")
        await step("200")
        earlier = recorded()
        if earlier is None:
            problem = await self._check(process, berichtsoort)
        else:  # checked before the restart: its verdict is the status that followed
            problem = earlier.details if earlier.code == "311" else None
        if problem is not None:
            await step("311", "VAS500", problem)
            return
        await step("301")
        await step("301")
        await step("405")
        scenario = process.scenario
        if scenario == sc.AFLEVERFOUT:
            await step("410", "AFS400")
        elif scenario == sc.TECHNISCH_PROBLEEM_AFLEVEREN:
            await step("420")
            redelivery = self.settings.redelivery_delay
            await step("420", "AFS600", wait=3 * delay if redelivery is None else redelivery)
        elif scenario == sc.MAXIMAAL_AANTAL_AFLEVERPOGINGEN:
            attempts = max(1, self.settings.max_delivery_attempts)
            for attempt in range(1, attempts + 1):
                if attempt > 1:
                    await step("405")
                last = attempt == attempts
                await step(
                    "420",
                    "AFS600" if last else None,
                    f"afleverpoging {attempt} van {attempts}",
                )
        else:
            await step("400")
            if scenario == sc.FOUT_UITVRAGENDE_PARTIJ:
                await step("311", "VAS500", "afgewezen door de uitvragende partij")
            else:
                await step("500")

    async def _save(self, process: Process, pending: Sequence[StatusEvent] = ()) -> None:
        """Write the process's state, with ``pending`` statuses, into the state folder, if
        there is one."""
        folder = self.settings.state_dir
        if folder is None:
            return
        async with self._saving:
            write = asyncio.ensure_future(asyncio.to_thread(
                write_atomically, folder / record_file_name(process.kenmerk),
                state_of(process, pending)))
            try:
                await asyncio.shield(write)
            except asyncio.CancelledError:
                # stop() cancels the walks: the write under way still lands before the lock
                # goes, so no later state is overtaken and a restart in the same process
                # reads what was written.
                await write
                raise

    async def _save_step(self, process: Process,
                         pending: Sequence[StatusEvent] = ()) -> None:
        try:
            await self._save(process, pending)
        except (OSError, ValueError) as exc:
            # Status questions are still answered from memory; only a restart would lose
            # this step (the walk then makes it again).
            at = pending[-1].code if pending else process.codes[-1]
            log.error("digipoort simulator: cannot keep aanlevering %s (at status %s) in %s: %s",
                      process.kenmerk, at, self.settings.state_dir, exc)

    async def _check(
        self, process: Process, berichtsoort: berichtsoorten.Berichtsoort
    ) -> str | None:
        if self.registry is None:
            return None
        standards = self.settings.standards_dir or default_standards_dir()
        data = process.request.bericht_inhoud.inhoud
        return await asyncio.to_thread(
            check_payload, self.registry, standards, berichtsoort, data
        )

    # --- StatusinformatieService ------------------------------------------------

    async def _status(self, request: WusRequest) -> etree._Element:
        body: Any = kv.parse_body(request.body)
        caller = _caller(request)
        if isinstance(body, kv.StatusRequest):
            process = self._processes.get(body.kenmerk)
            if process is None:
                raise kv.WusFault("status", "STS100", f"onbekend kenmerk {body.kenmerk}")
            _authorised(request, process.request.identiteit_belanghebbende, body.autorisatie_adres)
            await self._status_scenario(process)
            if body.nieuw:
                events = await self._take_new(process, caller)
            else:
                events = list(process.statuses)
            resultaten = process.resultaten(events, body.vanaf, body.tot)
            return kv.StatusResponse(body.operation, tuple(resultaten)).to_element()
        if isinstance(body, kv.NieuweStatussenRequest | kv.ProcessenRequest):
            _authorised(request, body.identiteit_belanghebbende, body.autorisatie_adres)
        if isinstance(body, kv.NieuweStatussenRequest):
            found: list[kv.StatusResultaat] = []
            for process in self._matching(body.berichtsoort, body.identiteit_belanghebbende):
                found += process.resultaten(await self._take_new(process, caller),
                                            body.vanaf, body.tot)
            return kv.StatusResponse("getNieuweStatussen", tuple(found)).to_element()
        if isinstance(body, kv.ProcessenRequest):
            items = tuple(
                kv.ProcesResultaat(
                    p.kenmerk,
                    p.request.berichtsoort,
                    p.request.identiteit_belanghebbende,
                    p.request.identiteit_ontvanger,
                )
                for p in self._matching(body.berichtsoort, body.identiteit_belanghebbende)
            )
            return kv.ProcessenResponse(items).to_element()
        if isinstance(body, kv.BerichtsoortenRequest):
            names = tuple(b.name for b in berichtsoorten.BERICHTSOORTEN if b.active)
            return kv.BerichtsoortenResponse(names).to_element()
        raise kv.WusFault("status", "STS100", f"{request.operation} wordt niet ondersteund")

    async def _take_new(self, process: Process, caller: str) -> list[StatusEvent]:
        """``process.take_new``, kept before the answer goes out: statuses fetched are not
        new again after a restart."""
        before = process.fetched.get(caller)
        events = process.take_new(caller)
        if process.fetched[caller] != before:
            await self._save_step(process)
        return events

    def _matching(self, berichtsoort: str, identiteit: kv.Identiteit) -> list[Process]:
        return [
            p
            for p in self._processes.values()
            if p.request.berichtsoort.upper() == berichtsoort.upper()
            and p.request.identiteit_belanghebbende == identiteit
        ]

    async def _status_scenario(self, process: Process) -> None:
        process.status_calls += 1
        if process.scenario == sc.STATUSINFORMATIE_FAULT:
            raise kv.WusFault(
                "status",
                "STS100",
                f"{codes.fault_text('STS100')} (scenario {sc.STATUSINFORMATIE_FAULT})",
            )
        if process.scenario == sc.ZWAARBELAST_STATUSINFORMATIE:
            await asyncio.sleep(self.settings.slow_delay)
        if (
            process.scenario == sc.OVERBELAST_STATUSINFORMATIE
            and process.status_calls <= self.settings.overload_refusals
        ):
            raise Overloaded("StatusinformatieService is overbelast (scenario)")

    # --- OphaalService ------------------------------------------------------------

    async def _ophalen(self, request: WusRequest) -> etree._Element:
        body = kv.parse_as(request.body, kv.OphaalRequest)
        self.ophaal_calls[body.operation] += 1
        caller = _caller(request)
        nieuw = body.operation.startswith("getNieuwe")
        selected = []
        for entry in self._mailbox:
            message = entry.message
            if nieuw and caller in entry.fetched_by:
                continue
            if body.kenmerk is not None and message.kenmerk != body.kenmerk:
                continue
            if body.berichtsoort is not None and (
                message.berichtsoort.upper() != body.berichtsoort.upper()
            ):
                continue
            if body.identiteit_belanghebbende is not None and (
                message.identiteit_ontvanger not in (None, body.identiteit_belanghebbende)
            ):
                continue
            stamp = message.tijdstempel_aangeleverd
            if (body.vanaf is not None and stamp < body.vanaf) or (
                body.tot is not None and stamp > body.tot
            ):
                continue
            selected.append(entry)
        for entry in selected:
            entry.fetched_by.add(caller)
        if body.operation in kv.OPHAAL_LIJST_OPERATIONS:
            lijst = tuple(
                kv.BerichtLijstResultaat(
                    e.message.berichtsoort, e.message.identiteit_belanghebbende, e.message.kenmerk
                )
                for e in selected
            )
            return kv.OphaalResponse(body.operation, lijst=lijst).to_element()
        berichten = tuple(e.message for e in selected)
        return kv.OphaalResponse(body.operation, berichten=berichten).to_element()

    # --- afleveren ------------------------------------------------------------------

    def make_afleverbericht(
        self,
        payload: bytes,
        berichtsoort: str,
        *,
        ontvanger: kv.Identiteit | None = None,
        bestandsnaam: str | None = None,
        kenmerk: str | None = None,
        agency: kv.Identiteit | None = None,
    ) -> kv.AfleverRequest:
        """An afleverRequest from ``agency`` (default ``settings.agency``) carrying
        ``payload``."""
        soort = berichtsoorten.by_name(berichtsoort)
        now = _now()
        kenmerk = kenmerk or str(uuid.uuid4())
        agency = agency or self.settings.agency
        return kv.AfleverRequest(
            kenmerk=kenmerk,
            berichtsoort=soort.name,
            berichtkenmerk=f"urn:uuid:{uuid.uuid4()}",
            tijdstempel_aangeleverd=now,
            identiteit_belanghebbende=agency,
            rol_belanghebbende="Overheid",
            bericht_inhoud=kv.BerichtInhoud(
                "text/xml", bestandsnaam or f"{soort.name.lower()}-{kenmerk[:8]}.xml", payload
            ),
            identiteit_aanleveraar=agency.nummer,
            identiteit_ontvanger=ontvanger,
            rol_ontvanger="Bedrijf" if ontvanger is not None else None,
        )

    def queue_for_pickup(self, message: kv.AfleverRequest) -> None:
        """Make ``message`` available through the OphaalService."""
        self._mailbox.append(MailboxEntry(message))

    async def deliver(
        self,
        payload: bytes,
        berichtsoort: str,
        to: str | None = None,
        *,
        ontvanger: kv.Identiteit | None = None,
        message: kv.AfleverRequest | None = None,
        timeout: float = 30.0,  # noqa: ASYNC109 - the budget of the HTTPS call
    ) -> kv.AfleverResponse:
        """Deliver an agency document to an AfleverService; raise what the call raises.

        ``to`` defaults to ``settings.deliver_to``. The message is also kept for
        the OphaalService. Pass ``message`` (from ``make_afleverbericht``) to
        deliver the very same message twice.
        """
        url = to or self.settings.deliver_to
        if url is None:
            raise ValueError("no AfleverService address: pass to= or set deliver_to")
        message = message or self.make_afleverbericht(payload, berichtsoort, ontvanger=ontvanger)
        if not any(entry.message is message for entry in self._mailbox):
            self.queue_for_pickup(message)
        client = self._delivery_client()
        body = await client.call(url, AFLEVEREN, message.to_element(), timeout=timeout)
        return kv.parse_as(body, kv.AfleverResponse)

    async def deliver_reliably(
        self, message: kv.AfleverRequest, what: str, times: int = 1
    ) -> list[Delivery]:
        """Deliver ``message`` ``times`` times to ``settings.deliver_to`` as Digipoort does.

        Each delivery is tried at once; one the AfleverService did not take for a
        reason that may pass (nothing listening yet, say) is tried again in the
        background (module ``deliveries``). Without ``deliver_to`` the message is
        offered through the OphaalService instead. Returns the deliveries as they
        stand after their first attempt; ``self.deliveries`` keeps them.
        """
        made = []
        for _ in range(times):
            delivery = Delivery(len(self.deliveries) + 1, message, self.settings.deliver_to,
                                what)
            self.deliveries.append(delivery)
            made.append(delivery)
            if delivery.to is None:
                self.queue_for_pickup(message)
                delivery.state = QUEUED
                continue
            give_up_at = _now() + timedelta(seconds=self.settings.redeliver_for)
            await self._attempt(delivery)
            if delivery.state == RETRYING:
                self._plan_retry(delivery, self.settings.redeliver_interval, give_up_at)
            if delivery.state == RETRYING:
                self._spawn(self._redeliver(delivery, give_up_at),
                            f"redeliver {delivery.number}")
        return made

    async def _attempt(self, delivery: Delivery) -> None:
        assert delivery.to is not None
        delivery.attempts += 1
        delivery.next_attempt = None
        message = delivery.message
        try:
            answer = await self.deliver(b"", message.berichtsoort, delivery.to, message=message)
        except (WusTransportError, kv.WusFault) as exc:
            delivery.state = RETRYING if exc.retryable else REFUSED
            delivery.error = str(exc)
        except Exception as exc:  # an answer that is no afleverResponse: Digipoort gives up
            delivery.state = REFUSED
            delivery.error = f"{type(exc).__name__}: {exc}"
        else:
            delivery.state = DELIVERED
            delivery.error = None
            delivery.delivered_at = answer.tijdstempel_afgeleverd
            return
        if delivery.state == REFUSED:
            log.warning("digipoort simulator: delivery %d (%s, kenmerk %s) refused by %s: %s",
                        delivery.number, message.berichtsoort, message.kenmerk, delivery.to,
                        delivery.error)

    def _plan_retry(self, delivery: Delivery, pause: float, give_up_at: datetime) -> None:
        due = _now() + timedelta(seconds=pause)
        if due > give_up_at:
            delivery.state = GAVE_UP
            log.warning("digipoort simulator: delivery %d (%s, kenmerk %s) to %s given up after "
                        "%d attempt(s) in %g s: %s", delivery.number,
                        delivery.message.berichtsoort, delivery.message.kenmerk, delivery.to,
                        delivery.attempts, self.settings.redeliver_for, delivery.error)
            return
        delivery.next_attempt = due
        if delivery.attempts == 1:
            log.warning("digipoort simulator: delivery %d (%s, kenmerk %s) to %s not taken, "
                        "trying again for up to %g s: %s", delivery.number,
                        delivery.message.berichtsoort, delivery.message.kenmerk, delivery.to,
                        self.settings.redeliver_for, delivery.error)

    async def _redeliver(self, delivery: Delivery, give_up_at: datetime) -> None:
        pause = self.settings.redeliver_interval
        while delivery.state == RETRYING and delivery.next_attempt is not None:
            await asyncio.sleep(max(0.0, (delivery.next_attempt - _now()).total_seconds()))
            await self._attempt(delivery)
            if delivery.state == DELIVERED:
                log.info("digipoort simulator: delivery %d (%s, kenmerk %s) to %s taken at "
                         "attempt %d", delivery.number, delivery.message.berichtsoort,
                         delivery.message.kenmerk, delivery.to, delivery.attempts)
            elif delivery.state == RETRYING:
                pause = min(pause * 2, MAX_PAUSE)
                self._plan_retry(delivery, pause, give_up_at)

    def _delivery_client(self) -> WusClient:
        if self._deliverer is None:
            if self.pki is None:
                raise RuntimeError("the simulator is not started")
            own = self.pki.digipoort_client
            cas = list(self.settings.aflever_trust) or [self.pki.ca]
            self._deliverer = WusClient(
                SigningIdentity.from_files(own.cert, own.key),
                client_context(own.cert, own.key, cas),
                self.settings.algorithm,
                server_trust=Trust.from_pem_files(*cas),
                timestamps=self.settings.timestamp_rule(),
            )
        return self._deliverer


_SIGNATURE_VALUE = re.compile(rb"(<ds:SignatureValue>)(.)")


def _break_signature(data: bytes) -> bytes:
    """Flip one character of the SignatureValue: the signature no longer verifies."""

    def flip(match: re.Match[bytes]) -> bytes:
        first = match.group(2)
        return match.group(1) + (b"B" if first != b"B" else b"C")

    return _SIGNATURE_VALUE.sub(flip, data, count=1)
