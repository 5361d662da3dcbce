"""The export bundle of one portal task: what a person needs to key it into the portal.

A bundle is a folder ``<export_dir>/<task id>/`` holding the validated XML as
sent, ``document.html`` (the readable rendering), ``document.pdf`` when a PDF
tool is available, the document's embedded attachments under
``attachments/``, and ``task.json`` describing the task and what the bundle
holds (or why the PDF or the rendering is missing). The folder is written
under a temporary name and renamed into place, so a person never opens half
a bundle. Everything in it can be rebuilt from the message store, which is
how another gateway instance serves a download of a task it did not write.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import zipfile
from pathlib import Path
from typing import Any

import attrs

from gateway.model import Attachment, CanonicalDocument
from gateway.model.json import loads
from gateway.render import PdfTool, PdfUnavailable, render_html, render_pdf

TASK_FILE = "task.json"
HTML_FILE = "document.html"
PDF_FILE = "document.pdf"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_name(name: str, fallback: str = "file") -> str:
    cleaned = _UNSAFE.sub("_", name).strip("._")
    return cleaned or fallback


@attrs.frozen
class BundleSource:
    """What a bundle is made from: the stored message."""

    task_id: str
    message_id: str
    agency_oin: str
    kind: str
    format_key: str
    filename: str
    payload: bytes
    canonical_json: str | None


def build_files(source: BundleSource, pdf_tool: PdfTool | None,
                make_pdf: bool = True) -> dict[str, bytes]:
    """Every file of the bundle by its relative path, ``task.json`` included."""
    files: dict[str, bytes] = {document_name(source.filename): source.payload}
    notes: list[str] = []
    document: CanonicalDocument | None = None
    if source.canonical_json is None:
        notes.append("no canonical document stored: no readable rendering")
    else:
        document = loads(source.canonical_json)
    if document is not None:
        html = render_html(document)
        files[HTML_FILE] = html.encode("utf-8")
        if not make_pdf:
            notes.append("PDF switched off for this channel (pdf = false)")
        elif pdf_tool is None:
            notes.append("no PDF tool on this machine (chromium or wkhtmltopdf): HTML only")
        else:
            try:
                files[PDF_FILE] = render_pdf(html, pdf_tool)
            except PdfUnavailable as exc:
                notes.append(f"PDF failed, HTML only: {exc}")
        files.update(_attachments(document))
    task = {
        "task_id": source.task_id, "message_id": source.message_id,
        "agency_oin": source.agency_oin, "kind": source.kind, "format": source.format_key,
        "document": document_name(source.filename),
        "files": sorted(files), "notes": notes,
    }
    files[TASK_FILE] = json.dumps(task, indent=2, ensure_ascii=False).encode("utf-8")
    return files


def document_name(filename: str) -> str:
    """The document's file name in the bundle, never one of the bundle's own files."""
    name = safe_name(filename, "document.xml")
    return f"document-{name}" if name in (TASK_FILE, HTML_FILE, PDF_FILE) else name


def _embedded(document: CanonicalDocument) -> list[Attachment]:
    """Every file the document embeds: its attachments and its referenced documents'."""
    found = list(getattr(document, "attachments", ()))
    for field in ("billing_references", "other_references"):
        found += [ref.attachment for ref in getattr(document, field, ())
                  if ref.attachment is not None]
    return found


def _attachments(document: CanonicalDocument) -> dict[str, bytes]:
    found: dict[str, bytes] = {}
    for number, attachment in enumerate(_embedded(document), start=1):
        if attachment.content is None:
            continue  # a link only: task.json's document names it, the HTML lists it
        name = safe_name(attachment.filename or f"attachment-{number}", f"attachment-{number}")
        while f"attachments/{name}" in found:
            name = f"{number}-{name}"
        found[f"attachments/{name}"] = attachment.content
    return found


def _same_task(folder: Path, files: dict[str, bytes]) -> bool:
    """Whether ``folder`` already holds this bundle: same document, not marked closed.

    A task sent again after it was cancelled (an operator's retry, a new format) must
    not keep the old document or the note that says it was closed.
    """
    on_disk = read_bundle(folder)
    if on_disk is None:
        return False
    note = json.loads(on_disk[TASK_FILE])
    document = task_note(files)["document"]
    return "closed" not in note and on_disk.get(document) == files[document]


def write_bundle(folder: Path, files: dict[str, bytes]) -> bool:
    """Write the bundle into ``folder`` atomically; False if it was already there (a retry)."""
    if _same_task(folder, files):
        return False
    if (folder / TASK_FILE).is_file():  # a stale bundle of this task: set aside, then replace
        stale = folder.parent / f".{folder.name}.{os.urandom(4).hex()}.old"
        os.rename(folder, stale)
        shutil.rmtree(stale, ignore_errors=True)
    folder.parent.mkdir(parents=True, exist_ok=True)
    scratch = folder.parent / f".{folder.name}.{os.urandom(4).hex()}.tmp"
    try:
        for name, data in files.items():
            target = scratch / name
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(target, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
        try:
            os.rename(scratch, folder)
        except OSError:
            if (folder / TASK_FILE).is_file():
                return False  # another instance wrote the same task a moment earlier
            raise
    finally:
        if scratch.exists():
            shutil.rmtree(scratch, ignore_errors=True)
    return True


def replace_note(folder: Path, seen: bytes, note: bytes) -> bool:
    """Put ``note`` in place of the folder's task.json; False if it no longer holds ``seen``.

    ``seen`` is what the caller read before deciding: a close noted on this machine since
    then (``PortalChannel._note_on_bundle``) is newer than ``note`` and stays.
    """
    path = folder / TASK_FILE
    scratch = folder / f".{TASK_FILE}.{os.urandom(4).hex()}.tmp"
    try:
        with open(scratch, "wb") as handle:
            handle.write(note)
            handle.flush()
            os.fsync(handle.fileno())
        if path.read_bytes() != seen:
            return False
        os.replace(scratch, path)
    finally:
        scratch.unlink(missing_ok=True)
    return True


def read_bundle(folder: Path) -> dict[str, bytes] | None:
    """The files of a bundle on disk, or None when this machine has none for the task."""
    if not (folder / TASK_FILE).is_file():
        return None
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*")) if path.is_file()
    }


def read_document(folder: Path) -> bytes | None:
    """The document file of a bundle on disk, as its task.json names it; None if none."""
    try:
        name = json.loads((folder / TASK_FILE).read_bytes())["document"]
        if not isinstance(name, str) or name != safe_name(name):
            return None  # not a name write_bundle gave: nothing outside the folder is read
        return (folder / name).read_bytes()
    except (OSError, KeyError, TypeError, ValueError):  # none, or a task.json someone broke
        return None


def bundle_names(folder: Path) -> list[str] | None:
    """The files of a bundle on disk by name, or None when this machine has none."""
    if not (folder / TASK_FILE).is_file():
        return None
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*") if path.is_file())


def zip_files(files: dict[str, bytes], prefix: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in sorted(files.items()):
            archive.writestr(f"{prefix}/{name}", data)
    return buffer.getvalue()


def task_note(files: dict[str, bytes]) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(files[TASK_FILE])
    return parsed
