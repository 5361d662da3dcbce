"""The portal channel instance: outbound documents become tasks for a person.

The Leveranciersportaal is a website without an API. ``send`` writes an
export bundle for the task and answers Accepted with the task id, so the
message is ``sent``: it has reached the queue a person works from. Closing
the task (``done``) records a status: business state delivered-to-agency
with the portal's reference; cancelling records non-delivery, which moves the
message to the dead letter with the reason. Because the queue is the message
store, it survives restarts and every gateway instance on the same database
sees the same tasks; so the database, not a lock in one process, decides
which of two closes of one task is recorded.
"""

from __future__ import annotations

import asyncio
import errno
import hashlib
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from gateway.channels import (
    Accepted,
    Channel,
    ChannelContext,
    FinalError,
    InboundDocument,
    OutboundMessage,
    RetryableError,
    SendOutcome,
    StatusReport,
    refuse_unknown_settings,
)
from gateway.errors import GatewayError
from gateway.identifiers import OIN, InvalidIdentifier
from gateway.kinds import Direction, DocumentKind
from gateway.model import CanonicalDocument, Invoice, kind_of
from gateway.model.json import loads
from gateway.pipeline.keys import agency_party, number_from_key, party_oin
from gateway.render import find_pdf_tool
from gateway.store import BusinessState, Event, MessageRecord, TimelineMoved, TransportState
from gateway.store.model import utc_now
from gateway.xmlsafe import parse_xml

from .bundle import (
    PDF_FILE,
    TASK_FILE,
    BundleSource,
    build_files,
    bundle_names,
    read_bundle,
    read_document,
    replace_note,
    safe_name,
    write_bundle,
    zip_files,
)
from .tasks import (
    CANCELLED_CODE,
    OPEN,
    STATES,
    SUBMITTED,
    SUBMITTED_CODE,
    Task,
    parse_duration,
    task_from,
)

if TYPE_CHECKING:
    from aiohttp.web import AbstractRouteDef

    from gateway.registry import Registry
    from gateway.store import Store

log = logging.getLogger(__name__)

_FINAL_ERRNOS = {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOTDIR, errno.EISDIR,
                 errno.ENAMETOOLONG}
_PAGE = 500
# Each try is lost only to a write on the same message between reading and closing
# it; one that is not a close (rare on a sent message) is followed by another try.
_CLOSE_TRIES = 5


def _file_in_the_way(folder: Path) -> Path | None:
    """The first existing path on the way to ``folder`` that is not a folder, if any."""
    for path in (folder, *folder.parents):
        if path.exists():
            return None if path.is_dir() else path
    return None


class TaskNotFound(GatewayError):
    """No portal task has this id."""


class TaskClosed(GatewayError):
    """The task is no longer open: it was submitted or cancelled before.

    ``meanwhile``: it was open when this close read it, and another close (on
    this or another gateway instance) was recorded first.
    """

    def __init__(self, task: Task, action: str, meanwhile: bool = False) -> None:
        self.task = task
        self.meanwhile = meanwhile
        how = f"{task.state} by {task.closed_by or 'an operator'}"
        if task.closed_at is not None:
            how += f" at {task.closed_at.isoformat()}"
        if task.reference:
            how += f", reference {task.reference}"
        if task.reason:
            how += f", reason: {task.reason}"
        when = "was closed meanwhile and " if meanwhile else ""
        super().__init__(f"portal task {task.id} {when}is {task.state}, not open ({how}); "
                         f"this {action} was not recorded")


class TaskChanging(GatewayError):
    """The task's message kept changing while it was being closed; nothing was recorded."""


class BadImport(GatewayError):
    """An imported document is not what the portal import accepts."""


_BOM = b"\xef\xbb\xbf"


def _first_byte(data: bytes) -> bytes:
    """The byte that tells JSON from XML: the first one past a UTF-8 byte-order mark and blanks.

    Windows Notepad saves UTF-8 with a byte-order mark; the canonical JSON reader and the
    inbound pipeline's detection skip it, so this sniff must too, or keyed-in JSON is
    taken for XML and refused as not well-formed.
    """
    return data.removeprefix(_BOM).lstrip()[:1]


def _looks_like_json(data: bytes) -> bool:
    return _first_byte(data) in (b"{", b"[")


def _describe(exc: Exception) -> str:
    # A GatewayError's text says what is wrong (an XMLParseError already begins with
    # "not well-formed XML"); anything else is named by its type as well.
    return str(exc) if isinstance(exc, GatewayError) else f"{type(exc).__name__}: {exc}"


_IMPORTABLE = {DocumentKind.ORDER, DocumentKind.STAFFING_ORDER, DocumentKind.TIMECARD,
               DocumentKind.REQUEST_FOR_QUOTATION,
               DocumentKind.REQUEST_FOR_QUOTATION_CANCELLATION}


def _check_import(document: CanonicalDocument, oin: str, name: str) -> None:
    """What the portal shows the supplier, from the agency named: nothing the supplier sends."""
    kind = kind_of(document)
    proposal = isinstance(document, Invoice) and document.proposal
    if kind not in _IMPORTABLE and not proposal:
        raise BadImport(f"{name}: this {kind.value} is not a proposal invoice; it is a document "
                        "the supplier sends, not one the portal shows to import")
    try:
        stated = party_oin(agency_party(document))
    except ValueError as exc:  # no agency party, or an OIN that is none
        raise BadImport(f"{name}: {exc}") from None
    if stated != oin:
        raise BadImport(f"{name}: the document names agency {stated or 'none'}, not "
                        f"--agency {oin}")


def _holds_payload(files: dict[str, bytes], record: MessageRecord) -> bool:
    """Whether a bundle read from the export folder holds the document the store holds."""
    try:
        document = json.loads(files[TASK_FILE])["document"]
    except (KeyError, TypeError, ValueError):  # a task.json someone broke: rebuild
        return False
    return isinstance(document, str) and files.get(document) == (record.raw_payload or b"")


def _close_detail(task: Task) -> dict[str, str | None]:
    """What ``_note_on_bundle`` notes of the task's close, as the store's timeline has it."""
    if task.state == SUBMITTED:
        return {"reference": task.reference, "by": task.closed_by}
    return {"reason": task.reason, "by": task.closed_by}


def _with_close(note: bytes, task: Task) -> bytes:
    """``task.json`` whose ``closed`` entry says what the store says since the latest send.

    ``_note_on_bundle`` notes a close in this instance's folder only: a close recorded by
    another instance is missing from it, and a task sent again elsewhere after a close
    still carries the old one. Unchanged (the bytes on disk) when it agrees.
    """
    parsed = json.loads(note)
    closes = parsed.get("closed") or []
    if task.state == OPEN and not closes:
        return note
    # One close per send: a second entry is a stale close noted before a send elsewhere.
    if task.state != OPEN and len(closes) == 1 and isinstance(closes[0], dict) and {
            k: v for k, v in closes[0].items() if k != "at"} == _close_detail(task):
        return note
    parsed.pop("closed", None)
    if task.state != OPEN:
        at = task.closed_at.isoformat() if task.closed_at is not None else None
        parsed["closed"] = [{**_close_detail(task), "at": at}]
    return json.dumps(parsed, indent=2, ensure_ascii=False).encode("utf-8")


class PortalChannel(Channel):
    type_name = "portal"

    def __init__(self, name: str, settings: Mapping[str, Any], *,
                 registry: Registry | None = None) -> None:
        super().__init__(name, settings)
        # The formats, to read an XML import before it is stored (register_channels hands
        # the gateway's registry to the factory; see import_document).
        self._registry = registry
        refuse_unknown_settings(name, settings, ("export_dir", "warn_after", "pdf"))
        if not settings.get("export_dir"):
            raise ValueError(f"channel {name!r}: set 'export_dir', the folder for task bundles")
        self.export_dir = Path(str(settings["export_dir"]))
        self.warn_after = parse_duration(settings.get("warn_after", "3d"),
                                         f"channels.{name}.warn_after")
        make_pdf = settings.get("pdf", True)
        if not isinstance(make_pdf, bool):
            raise ValueError(f"channel {name!r}: 'pdf' must be true or false, got {make_pdf!r}")
        self.make_pdf = make_pdf
        self.pdf_tool = find_pdf_tool() if make_pdf else None
        self._context: ChannelContext | None = None

    async def start(self, context: ChannelContext) -> None:
        self._context = context
        # A relative folder lives in the data directory, whatever the working directory.
        if context.data_dir is not None:
            self.export_dir = Path(context.data_dir) / self.export_dir

    # -- outbound ------------------------------------------------------------------------------

    async def send(self, message: OutboundMessage) -> SendOutcome:
        task_id = message.transport_id or message.message_id
        canonical: str | None = None
        store = self._store_or_none()
        if store is not None:
            try:
                record = await store.get(message.message_id)
            except GatewayError as exc:
                return RetryableError(f"cannot read message {message.message_id}: {exc}",
                                      code="store", transport_id=task_id)
            canonical = None if record is None else record.canonical_json
        source = BundleSource(
            task_id=task_id, message_id=message.message_id, agency_oin=message.agency_oin,
            kind=message.kind.value, format_key=message.format_key, filename=message.filename,
            payload=message.payload, canonical_json=canonical,
        )
        folder = self.export_dir / safe_name(task_id)
        blocker = _file_in_the_way(self.export_dir)
        if blocker is not None:
            return FinalError(f"cannot write the task bundle {folder}: {blocker} is a file, "
                              "not a folder (check export_dir)", code="ENOTDIR",
                              transport_id=task_id)
        try:
            files = await asyncio.to_thread(build_files, source, self.pdf_tool, self.make_pdf)
            await asyncio.to_thread(write_bundle, folder, files)
        except OSError as exc:
            reason = f"cannot write the task bundle {folder}: {exc.strerror or exc}"
            code = errno.errorcode.get(exc.errno or 0)
            if exc.errno in _FINAL_ERRNOS:
                return FinalError(reason, code=code, transport_id=task_id)
            return RetryableError(reason, code=code, transport_id=task_id)
        except GatewayError as exc:  # a stored canonical document that no longer loads
            return FinalError(f"cannot render the document: {exc}", code="render",
                              transport_id=task_id)
        return Accepted(task_id, detail=f"portal task {task_id} open, bundle in {folder}")

    # -- the work queue ------------------------------------------------------------------------

    def _store_or_none(self) -> Store | None:
        return None if self._context is None else self._context.store

    def _store(self) -> Store:
        store = self._store_or_none()
        if store is None:
            raise GatewayError(f"channel {self.name!r} is not started with a message store")
        return store

    async def stored(self, message_id: str) -> MessageRecord | None:
        return await self._store().get(message_id)

    async def tasks(self, state: str | None = None) -> list[Task]:
        """Tasks of this channel, newest first; ``state`` is open, submitted or cancelled."""
        if state is not None and state not in STATES:
            raise GatewayError(f"unknown task state {state!r}; expected one of "
                               + ", ".join(STATES))
        store = self._store()
        # Open and submitted tasks are sent messages; cancelled ones are failed.
        transport_states = [TransportState.FAILED] if state == "cancelled" else (
            [TransportState.SENT] if state in ("open", "submitted") else
            [TransportState.SENT, TransportState.FAILED])
        found: list[Task] = []
        for transport_state in transport_states:
            cursor: str | None = None
            while True:
                # An open task's business state is still none: asking for exactly that
                # keeps /health's check proportional to the open tasks, not to all ever sent.
                page = await store.list_messages(
                    direction=Direction.OUTBOUND, channel=self.name,
                    transport_state=transport_state,
                    business_state=BusinessState.NONE.value if state == OPEN else None,
                    limit=_PAGE, cursor=cursor)
                for record in page.items:
                    task = task_from(record, await store.events(record.id))
                    if task is not None and (state is None or task.state == state):
                        found.append(task)
                cursor = page.next_cursor
                if cursor is None:
                    break
        found.sort(key=lambda t: t.message_id, reverse=True)
        return found

    async def _record(self, task_id: str) -> MessageRecord:
        record = await self._store().find_by_transport_id(self.name, task_id, Direction.OUTBOUND)
        if record is None:
            raise TaskNotFound(f"no portal task {task_id!r} on channel {self.name!r}")
        return record

    async def task(self, task_id: str) -> Task:
        return (await self._read(task_id))[0]

    async def _read(self, task_id: str) -> tuple[Task, MessageRecord, list[Event]]:
        record = await self._record(task_id)
        events = await self._store().events(record.id)
        task = task_from(record, events)
        if task is None:
            raise TaskNotFound(f"message {record.id} has not reached the portal queue yet")
        return task, record, events

    def is_overdue(self, task: Task) -> bool:
        age = task.age(utc_now())
        return task.state == OPEN and age is not None and age > self.warn_after

    async def problems(self) -> Sequence[str]:
        if self._store_or_none() is None:
            return ()
        overdue = [t for t in await self.tasks(OPEN) if self.is_overdue(t)]
        if not overdue:
            return ()
        oldest = min(overdue, key=lambda t: t.opened_at or utc_now())
        return (f"{len(overdue)} portal task(s) open longer than {self.warn_after}; oldest "
                f"{oldest.id} for {oldest.agency_oin} since "
                f"{oldest.opened_at.isoformat() if oldest.opened_at else '?'}",)

    async def _close(self, task_id: str, report: StatusReport, action: str) -> Task:
        """Record ``report`` on the task's message if the task is still open, else TaskClosed.

        Several gateway instances (and operators) may close one task at once,
        so "still open" is checked by the database in the write itself: the
        report is recorded only if the message's timeline has not grown since
        the task was read open (``StatusReport.after_event``).
        """
        if self._context is None or self._context.status is None:
            raise GatewayError(f"channel {self.name!r} is not started with a status sink")
        moved = False
        for _ in range(_CLOSE_TRIES):
            task, _record, events = await self._read(task_id)
            if task.state != OPEN:
                raise TaskClosed(task, action, meanwhile=moved)
            try:
                await self._context.status(attrs.evolve(report, after_event=events[-1].seq))
            except TimelineMoved:
                moved = True
                continue
            await asyncio.to_thread(self._note_on_bundle, task_id, dict(report.detail))
            return await self.task(task_id)
        raise TaskChanging(f"portal task {task_id} changed {_CLOSE_TRIES} times while this "
                           f"{action} tried to record it; nothing was recorded, try again")

    async def done(self, task_id: str, reference: str, by: str) -> Task:
        """A person submitted the task in the portal, which gave it ``reference``."""
        reference, by = reference.strip(), by.strip()
        if not reference:
            raise GatewayError("a portal reference is required to close a task as submitted")
        return await self._close(task_id, StatusReport(
            code=SUBMITTED_CODE, text=f"submitted in the portal by {by or 'an operator'}, "
            f"reference {reference}", transport_id=task_id,
            business_state=BusinessState.DELIVERED_TO_AGENCY.value, final=True, at=utc_now(),
            detail={"reference": reference, "by": by}), "done")

    async def cancel(self, task_id: str, reason: str, by: str) -> Task:
        """The task will not be submitted; the message goes to the dead letter with ``reason``."""
        reason, by = reason.strip(), by.strip()
        if not reason:
            raise GatewayError("a reason is required to cancel a portal task")
        return await self._close(task_id, StatusReport(
            code=CANCELLED_CODE, text=reason, transport_id=task_id, failed=True, final=True,
            at=utc_now(), detail={"reason": reason, "by": by}), "cancel")

    def _note_on_bundle(self, task_id: str, detail: dict[str, str]) -> None:
        # task.json on disk follows the store for whoever opens the folder; the store decides.
        path = self.export_dir / safe_name(task_id) / "task.json"
        if not path.is_file():
            return
        note = json.loads(path.read_text(encoding="utf-8"))
        note.setdefault("closed", []).append({**detail, "at": utc_now().isoformat()})
        scratch = path.with_name(".task.json.tmp")
        scratch.write_text(json.dumps(note, indent=2, ensure_ascii=False), encoding="utf-8")
        scratch.replace(path)

    async def bundle(self, task_id: str) -> dict[str, bytes]:
        """The task's bundle files: from the export folder, else rebuilt from the store.

        The folder is served only while it holds the document the store holds: another
        instance on the same database may have sent the task again since this one wrote
        it (a retry after a cancel, a reroute to another format), and the store decides.
        Its task.json's close is set from the store's timeline as well (see
        ``_with_close``), so a task reopened or closed elsewhere is not served as this
        folder last saw it, and nothing is rebuilt (no PDF printed) just for that. The
        folder is then brought up to date too (see ``_refresh_folder``).
        """
        task, record, _events = await self._read(task_id)
        folder = self.export_dir / safe_name(task_id)
        on_disk = await asyncio.to_thread(read_bundle, folder)
        if on_disk is not None and _holds_payload(on_disk, record):
            found = {**on_disk, TASK_FILE: _with_close(on_disk[TASK_FILE], task)}
            if found[TASK_FILE] != on_disk[TASK_FILE]:
                await self._refresh_folder(folder, replace_note, folder,
                                           on_disk[TASK_FILE], found[TASK_FILE])
            return found
        found = await asyncio.to_thread(build_files, self._source(task_id, record),
                                        self.pdf_tool, self.make_pdf)
        found[TASK_FILE] = _with_close(found[TASK_FILE], task)
        if on_disk is not None:
            # Unless the task was sent again while this was built (a PDF takes seconds):
            # then the folder is that send's, or about to be.
            now = await self._record(task_id)
            if now.raw_payload == record.raw_payload:
                await self._refresh_folder(folder, write_bundle, folder, found)
        return found

    async def _refresh_folder(self, folder: Path, write: Callable[..., bool],
                              *args: Any) -> None:
        """Make a stale export folder hold what a download serves.

        A person may take the files from the folder itself rather than download them, so it
        must not keep an earlier send's document or a task.json that says the task is
        still open when it was closed elsewhere. The download is served all the same when
        the folder cannot be written (the store, not the folder, is what counts).
        """
        try:
            await asyncio.to_thread(write, *args)
        except OSError as exc:
            log.warning("portal channel %s: the stale task bundle %s was served as the store "
                        "has it but could not be rewritten on disk: %s", self.name, folder, exc)

    async def bundle_names(self, task_id: str) -> list[str]:
        """The names of the task's bundle files, without printing a PDF to learn them.

        Showing a task is cheap; only a download builds what this instance lacks. As for
        ``bundle``, the folder counts only while it holds the stored document (a task
        sent again elsewhere in another format has other files).
        """
        record = await self._record(task_id)
        folder = self.export_dir / safe_name(task_id)
        document = await asyncio.to_thread(read_document, folder)
        if document is not None and document == (record.raw_payload or b""):
            found = await asyncio.to_thread(bundle_names, folder)
            if found is not None:
                return found
        files = await asyncio.to_thread(build_files, self._source(task_id, record), None, False)
        if self.make_pdf and self.pdf_tool is not None:
            files[PDF_FILE] = b""
        return sorted(files)

    def _source(self, task_id: str, record: MessageRecord) -> BundleSource:
        payload = record.raw_payload or b""
        number = number_from_key(record.business_key or record.id)
        # As the dispatcher named it for send: the number, .json for a JSON payload.
        extension = ".json" if _looks_like_json(payload) else ".xml"
        return BundleSource(
            task_id=task_id, message_id=record.id, agency_oin=record.agency_oin or "",
            kind=record.document_kind or "", format_key=record.format_key or "",
            filename=f"{number}{extension}", payload=payload,
            canonical_json=record.canonical_json,
        )

    async def bundle_zip(self, task_id: str) -> bytes:
        files = await self.bundle(task_id)
        return await asyncio.to_thread(zip_files, files, safe_name(task_id))

    # -- inbound -------------------------------------------------------------------------------

    async def import_document(self, data: bytes, agency_oin: str, filename: str | None,
                              by: str = "") -> str:
        """Hand a document taken from the portal to the inbound pipeline; its message id.

        The portal shows orders and proposal invoices: an operator downloads
        the XML or keys the document in as canonical JSON. Unreadable input is
        refused here, before anything is stored, with what is wrong.
        """
        try:
            oin = str(OIN(agency_oin))
        except (InvalidIdentifier, ValueError) as exc:
            raise BadImport(f"--agency {agency_oin!r}: {exc}") from None
        name = filename or "the import"
        if not _first_byte(data):
            raise BadImport(f"{name} is empty")
        if _looks_like_json(data):
            try:
                document = loads(data)
            except (GatewayError, ValueError) as exc:
                raise BadImport(f"{name}: not a canonical JSON document: {exc}") from None
        else:
            document = await asyncio.to_thread(self._read_xml, data, name)
        # The same checks for XML as for JSON, before anything is stored: the supplier's own
        # invoice from a task bundle, or another agency's order, is refused by name either
        # way, rather than stored and handed to the ERP as the agency's (or under the
        # document's own buyer whatever --agency said).
        _check_import(document, oin, name)
        if self._context is None or self._context.inbound is None:
            raise GatewayError(f"channel {self.name!r} is not started with an inbound sink")
        digest = hashlib.sha256(data).hexdigest()
        return await self._context.inbound(InboundDocument(
            data=data, channel=self.name, transport_id=f"import:{digest[:32]}",
            sender=oin, filename=filename,
            metadata={"agency_oin": oin, "source": "portal import", "by": by},
        ))

    def _read_xml(self, data: bytes, name: str) -> CanonicalDocument:
        """The document an XML import holds, read as the inbound pipeline will read it.

        The pipeline detects and decodes again after storing; reading it here too is what
        lets ``_check_import`` see an XML import before anything is stored.
        """
        try:
            parse_xml(data)
        except Exception as exc:  # XMLParseError's text begins "not well-formed XML" itself
            raise BadImport(f"{name}: {_describe(exc)}") from None
        if self._registry is None:
            raise GatewayError(f"channel {self.name!r} was made without the format registry "
                               "(see register_channels); it cannot read an XML import")
        # Unknown or broken input is refused here, named, as unreadable JSON is.
        try:
            fmt = self._registry.detect(data).format
        except Exception as exc:
            raise BadImport(f"{name}: {_describe(exc)}") from None
        try:
            document: CanonicalDocument = fmt.decode(data).document
        except Exception as exc:
            raise BadImport(f"{name}: {fmt.key}: {_describe(exc)}") from None
        return document

    def web_routes(self) -> Sequence[AbstractRouteDef]:
        from .web import routes

        return routes(self)
