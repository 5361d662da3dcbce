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

from gateway.model import CanonicalDocument, Invoice
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
    files: dict[str, bytes] = {safe_name(source.filename, "document.xml"): source.payload}
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
        "document": safe_name(source.filename, "document.xml"),
        "files": sorted(files), "notes": notes,
    }
    files[TASK_FILE] = json.dumps(task, indent=2, ensure_ascii=False).encode("utf-8")
    return files


def _attachments(document: CanonicalDocument) -> dict[str, bytes]:
    found: dict[str, bytes] = {}
    attachments = document.attachments if isinstance(document, Invoice) else ()
    for number, attachment in enumerate(attachments, start=1):
        if attachment.content is None:
            continue  # a link only: task.json's document names it, the HTML lists it
        name = safe_name(attachment.filename or f"attachment-{number}", f"attachment-{number}")
        if name in (f.split("/", 1)[1] for f in found):
            name = f"{number}-{name}"
        found[f"attachments/{name}"] = attachment.content
    return found


def write_bundle(folder: Path, files: dict[str, bytes]) -> bool:
    """Write the bundle into ``folder`` atomically; False if it was already there (a retry)."""
    if (folder / TASK_FILE).is_file():
        return False
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


def read_bundle(folder: Path) -> dict[str, bytes] | None:
    """The files of a bundle on disk, or None when this machine has none for the task."""
    if not (folder / TASK_FILE).is_file():
        return None
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*")) if path.is_file()
    }


def zip_files(files: dict[str, bytes], prefix: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in sorted(files.items()):
            archive.writestr(f"{prefix}/{name}", data)
    return buffer.getvalue()


def task_note(files: dict[str, bytes]) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(files[TASK_FILE])
    return parsed
