"""The folder channel instance."""

from __future__ import annotations

import asyncio
import errno
import hashlib
import logging
import os
import re
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from gateway.channels import (
    Accepted,
    Channel,
    ChannelContext,
    DocumentRefused,
    FinalError,
    InboundDocument,
    OutboundMessage,
    RetryableError,
    SendOutcome,
    refuse_unknown_settings,
    seconds_setting,
)
from gateway.fileio import NotAnInboxFile, file_away, read_inbox_file, write_atomically
from gateway.pipeline.inbound import MAX_INBOUND_BYTES
from gateway.store import TransportState
from gateway.tasks import cancel_and_wait

log = logging.getLogger(__name__)

# Errors that a person must fix before a retry can succeed.
_FINAL_ERRNOS = {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOTDIR, errno.EISDIR,
                 errno.ENAMETOOLONG}
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
_MAX_NAME = 120
"""Characters kept of a name part: file systems allow 255 bytes for a whole name, and a
long document number would otherwise fail every attempt the same way."""


SETTLE_SECONDS = 1.0
"""A file changed this recently may still be being written by a producer that writes
under the final name (scp, many ERPs): it is taken only if it stays the same that long.
The default of the ``settle`` setting: a producer that pauses longer (a slow share) needs
more, one that only ever renames finished files into the inbox can have 0."""
_TEMPORARY_SUFFIXES = (".tmp", ".part", ".partial", ".filepart", ".crdownload", "~")
"""Names under which producers (curl, WinSCP, browsers, editors) write before renaming."""


def _skipped(path: Path) -> bool:
    """Not an inbox document: a producer's temporary file, or a folder (done/, error/)."""
    name = path.name
    if name.startswith((".", "~")) or name.endswith(_TEMPORARY_SUFFIXES):
        return True
    return path.is_dir() and not path.is_symlink()


def _same(one: os.stat_result, other: os.stat_result) -> bool:
    return (one.st_dev, one.st_ino, one.st_size, one.st_mtime_ns) == \
        (other.st_dev, other.st_ino, other.st_size, other.st_mtime_ns)


def _printable(name: str) -> str:
    """The file name as text a database takes: bytes that are no UTF-8 (a Latin-1 name
    from a Windows share) become \\xNN instead of lone surrogates, which no store takes."""
    return os.fsencode(name).decode("utf-8", "backslashreplace")


def _safe(name: str) -> str:
    cleaned = _SAFE_NAME.sub("_", name).strip("._") or "document"
    if len(cleaned) <= _MAX_NAME:
        return cleaned
    stem, dot, extension = cleaned.rpartition(".")
    if not dot or len(extension) > 10:
        return cleaned[:_MAX_NAME]
    return f"{stem[:_MAX_NAME - len(extension) - 1]}.{extension}"


class InboxUnreadable(OSError):
    """The inbox folder itself cannot be listed: missing, unmounted, no permission."""


class FolderChannel(Channel):
    type_name = "folder"

    def __init__(self, name: str, settings: Mapping[str, Any]) -> None:
        super().__init__(name, settings)
        refuse_unknown_settings(name, settings, ("path", "inbox", "poll_interval", "settle"))
        if "path" not in settings and "inbox" not in settings:
            raise ValueError(f"channel {name!r}: set 'path' (outbound) and/or 'inbox' (inbound)")
        self.outbox = Path(settings["path"]) if "path" in settings else None
        self.inbox = Path(settings["inbox"]) if "inbox" in settings else None
        self.poll_interval = seconds_setting(name, settings, "poll_interval", 2)
        self.settle = seconds_setting(name, settings, "settle", SETTLE_SECONDS, zero=True)
        self._task: asyncio.Task[None] | None = None
        self._context: ChannelContext | None = None
        # Why the inbox cannot be read now (removed, a share unmounted), for /health.
        self._unreadable: str | None = None

    async def start(self, context: ChannelContext) -> None:
        self._context = context
        # Relative folders live in the data directory, whatever the working directory.
        if context.data_dir is not None:
            base = Path(context.data_dir)
            self.outbox = None if self.outbox is None else base / self.outbox
            self.inbox = None if self.inbox is None else base / self.inbox
        if self.inbox is not None and context.inbound is not None:
            for sub in ("done", "error"):
                (self.inbox / sub).mkdir(parents=True, exist_ok=True)
            self._task = asyncio.create_task(self._watch(), name=f"folder-inbox:{self.name}")

    async def stop(self) -> None:
        await cancel_and_wait([self._task])
        self._task = None

    def target_for(self, message: OutboundMessage) -> Path:
        if self.outbox is None:
            raise ValueError(f"channel {self.name!r} has no outbound 'path'")
        filename = f"{_safe(message.message_id)}-{_safe(message.filename)}"
        return self.outbox / _safe(message.agency_oin) / filename

    async def send(self, message: OutboundMessage) -> SendOutcome:
        if self.outbox is None:
            return FinalError(f"channel {self.name!r} has no outbound 'path' configured")
        target = self.target_for(message)
        transport_id = str(target.relative_to(self.outbox))
        try:
            await asyncio.to_thread(write_atomically, target, message.payload)
        except OSError as exc:
            reason = f"cannot write {target}: {exc.strerror or exc}"
            if exc.errno in _FINAL_ERRNOS:
                return FinalError(reason, code=errno.errorcode.get(exc.errno or 0))
            return RetryableError(reason, code=errno.errorcode.get(exc.errno or 0))
        return Accepted(transport_id, detail=f"written to {target}")

    async def scan_once(self) -> int:
        """Hand every complete file in the inbox to the gateway; returns how many."""
        if self.inbox is None or self._context is None or self._context.inbound is None:
            raise RuntimeError(f"channel {self.name!r} has no inbox or was not started")
        sink = self._context.inbound
        handled = 0
        try:
            entries = sorted(self.inbox.iterdir())
        except OSError as exc:
            raise InboxUnreadable(
                f"cannot read the inbox {self.inbox}: {exc.strerror or exc}") from exc
        for path in entries:
            if _skipped(path):
                continue
            seen = await self._settled(path, self.settle)
            if seen is None:
                continue  # still being written, or another scanner took it: next scan
            try:
                data = await asyncio.to_thread(read_inbox_file, path, MAX_INBOUND_BYTES)
                changed = not _same(seen, await asyncio.to_thread(os.lstat, path))
            except FileNotFoundError:
                continue  # another scanner of the same folder took it first
            except NotAnInboxFile as exc:
                log.warning("inbox file %s refused: %s", _printable(path.name), exc)
                await asyncio.to_thread(self._move, path, "error", str(exc), seen)
                handled += 1
                continue
            if changed:
                continue  # written to while it was read: the whole of it next scan
            digest = hashlib.sha256(data).hexdigest()
            name = _printable(path.name)
            try:
                message_id = await sink(InboundDocument(
                    data=data, channel=self.name, transport_id=f"{name}:{digest[:16]}",
                    filename=name,
                ))
                refusal = await self._refusal(message_id)
            except DocumentRefused as exc:
                log.warning("inbox file %s refused: %s", name, exc)
                await asyncio.to_thread(self._move, path, "error", str(exc), seen)
            except Exception as exc:
                # The gateway cannot take it now (its store is down, say): the file stays
                # for the next scan, which is known by its transport id if it was stored.
                log.warning("inbox file %s not taken, trying again next scan: %s",
                            name, exc)
                continue
            else:
                # Stored either way; a document the gateway could not read goes to error/
                # so whoever drops files there sees at once which ones need fixing.
                # Moved only if the name is still the file that was read: a new file
                # dropped under the same name meanwhile waits for the next scan.
                await asyncio.to_thread(self._move, path, "error" if refusal else "done",
                                        refusal, seen)
            handled += 1
        return handled

    async def _refusal(self, message_id: str) -> str | None:
        """Why the gateway rejected the stored message, or None when it took it."""
        store = None if self._context is None else self._context.store
        if store is None:
            return None
        record = await store.get(message_id)
        if record is None or record.transport_state is not TransportState.REJECTED:
            return None
        return f"message {message_id} rejected: {record.last_error}"

    @staticmethod
    async def _settled(path: Path, settle: float) -> os.stat_result | None:
        """The file's lstat once it has not changed for ``settle`` seconds; None if it did."""
        try:
            first = await asyncio.to_thread(os.lstat, path)
        except FileNotFoundError:
            return None
        # Clamped: a clock ahead on a network share must not hold the scan up for long.
        wait = min(settle, settle - (time.time() - first.st_mtime))
        if wait <= 0:
            return first
        await asyncio.sleep(wait)
        try:
            again = await asyncio.to_thread(os.lstat, path)
        except FileNotFoundError:
            return None
        return again if _same(first, again) else None

    def _move(self, path: Path, folder: str, note: str | None,
              read: os.stat_result | None = None) -> None:
        assert self.inbox is not None
        file_away(path, self.inbox / folder, note, only=read)

    async def problems(self) -> Sequence[str]:
        return [] if self._unreadable is None else [self._unreadable]

    async def _watch(self) -> None:
        while True:
            try:
                await self.scan_once()
            except InboxUnreadable as exc:
                # Said once, not at every scan: the folder may stay away for hours. Not
                # made again either: under an unmounted share that would hide the fault.
                if str(exc) != self._unreadable:
                    log.error("folder channel %s: %s; trying again every %g s", self.name, exc,
                              self.poll_interval)
                self._unreadable = str(exc)
            except Exception:
                log.exception("folder channel %s: inbox scan failed", self.name)
            else:
                if self._unreadable is not None:
                    log.info("folder channel %s: the inbox %s is readable again", self.name,
                             self.inbox)
                    self._unreadable = None
            await asyncio.sleep(self.poll_interval)
