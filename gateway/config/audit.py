"""The audit trail of configuration changes, one JSON object per line.

A plain file, so that a change made with the CLI on a machine where no
gateway runs is still recorded. A running gateway copies the file's new
lines, and every configuration it reloads while it runs (with what changed),
into the store's audit table (:class:`StoreAuditor`), where the API and
operators read them. The configuration a gateway starts with is not
recorded: a hand edit made while no gateway ran leaves no record there.
"""

from __future__ import annotations

import asyncio
import collections
import errno
import getpass
import hashlib
import json
import logging
import os
import socket
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from gateway.config.changes import config_changes
from gateway.config.model import GatewayConfig
from gateway.errors import GatewayError
from gateway.store.model import AuditRecord

if TYPE_CHECKING:
    from gateway.config.holder import ConfigHolder
    from gateway.store.base import Store

log = logging.getLogger(__name__)

RELOAD_ACTOR = "gateway"
RELOAD_ACTION = "config-reload"


class AuditLog:
    """Append-only JSON Lines file of configuration changes."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def append(self, record: Mapping[str, Any]) -> None:
        """Write ``record`` as one line and make it durable before returning.

        Raises OSError if the whole line could not be written.
        """
        data = (json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # One write() on an O_APPEND descriptor keeps lines from concurrent
        # writers whole; fsync because an audit record that vanishes on a
        # crash is worse than a slow CLI command. Read-write only to look at
        # the last byte.
        fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o640)
        try:
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                # An earlier write was cut short (crash, full disk): end that torn line
                # first, or this record would join it and be unreadable too.
                data = b"\n" + data
            written = os.write(fd, data)
            if written != len(data):
                # Not finished with a second write(): another writer's line could land
                # between the two parts. The caller must not report a switch recorded
                # when only part of its record is in the file.
                raise OSError(errno.EIO, f"only {written} of {len(data)} bytes of the audit "
                                         "record were written (disk full?)")
            os.fsync(fd)
        finally:
            os.close(fd)

    def check_writable(self) -> None:
        """Raise OSError unless a record could be appended now (the file is created)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # As append opens it: a file this user may write but not read refuses the switch
        # here, before the configuration changes, not after.
        os.close(os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o640))

    def lines(self) -> list[AuditLine]:
        """The file's non-blank lines, oldest first; an empty list if nothing was written.

        A line that is not a JSON object comes with its problem instead of an
        entry: half a line after a crash or a full disk must not hide the
        records after it.
        """
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return []
        # Split at "\n" only, and decode per line: str.splitlines() also splits at
        # U+2028, which json.dumps(ensure_ascii=False) leaves in a record, and one
        # torn multi-byte character must not make the whole file unreadable.
        *ended, tail = data.split(b"\n")
        found = [_parse_line(n, raw) for n, raw in enumerate(ended, start=1) if raw.strip()]
        if tail.strip():
            last = _parse_line(len(ended) + 1, tail)
            # No line end: a hand-edited file may lack the last one, so a whole record
            # counts; half of one may be a write under way, so it is left for the next
            # look (by then finished, or ended by the next append and so reported).
            if last.entry is not None:
                found.append(last)
        return found

    def read(self) -> list[dict[str, Any]]:
        """The readable records, oldest first; lines that are not are left out (see lines)."""
        return [line.entry for line in self.lines() if line.entry is not None]


@attrs.frozen
class AuditLine:
    """One line of the audit file: its entry, or why it has none."""

    number: int
    sha256: str  # of the line's bytes without the line end: what the store knows it by
    entry: dict[str, Any] | None
    problem: str | None = None


def _parse_line(number: int, raw: bytes) -> AuditLine:
    digest = hashlib.sha256(raw).hexdigest()
    try:
        entry = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        return AuditLine(number, digest, None, "not UTF-8 text")
    except json.JSONDecodeError as exc:
        return AuditLine(number, digest, None, f"not valid JSON ({exc.msg})")
    if not isinstance(entry, dict):
        return AuditLine(number, digest, None, "not a JSON object")
    return AuditLine(number, digest, entry)


def utc_now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def default_actor() -> str:
    """``$USER@hostname``: who made a change when the caller does not say."""
    user = os.environ.get("USER") or os.environ.get("USERNAME")
    if not user:
        try:
            user = getpass.getuser()
        except (KeyError, OSError):  # no passwd entry, e.g. an arbitrary uid in a container
            user = "unknown"
    return f"{user}@{socket.gethostname()}"


IMPORT_SOURCE = "audit-file"
# The detail key of an imported line's sha256 ("sha256" is a switch's configuration file's).
LINE_SHA256 = "line_sha256"


class StoreAuditor:
    """Copies configuration changes into the store's audit table while a gateway runs.

    Two sources: every configuration the running gateway swaps in (with what
    changed, from :func:`gateway.config.changes.config_changes`), and the
    JSON Lines file the CLI writes, so a `gateway agencies switch` made while
    no gateway ran, or while one runs, reaches the store with its who and
    why. File lines are imported once: each stored copy carries the sha256
    of its line, so a line is known by what it says, not by where it is
    (two identical lines are two records: the n-th is copied while the store
    holds fewer than n), and a rotated or truncated file is copied from its
    first line on. A
    line that cannot be read is skipped, logged once and listed by
    :meth:`problems` for as long as the file holds it.
    """

    def __init__(self, store: Store, holder: ConfigHolder, instance: str | None = None) -> None:
        self.store = store
        self.holder = holder
        # Named in each reload's record: instances following one file each reload it, and
        # their records would otherwise read as one change recorded twice.
        self.instance = instance
        self.file = AuditLog(holder.current().gateway.audit_log)
        self._loop: asyncio.AbstractEventLoop | None = None
        # How many lines with each sha256 this instance knows are in the store: those
        # are not sent to it again (identical lines are as many records).
        self._copied: collections.Counter[str] = collections.Counter()
        # Inode, size and change time as the file was at the last look.
        self._file_state: tuple[int, int, int] | None = None
        self._problems: list[str] = []
        self._logged: set[tuple[str, int, str]] = set()
        self._pending: set[asyncio.Task[None]] = set()
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        """Import file lines not yet in the store, then follow reloads."""
        self._loop = asyncio.get_running_loop()
        await self.import_file()
        self.holder.subscribe(self._changed)

    def _changed(self, old: GatewayConfig, new: GatewayConfig, version: int) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        # Reloads are noticed in whatever thread asked for the configuration.
        loop.call_soon_threadsafe(self._spawn, old, new, version)

    def _spawn(self, old: GatewayConfig, new: GatewayConfig, version: int) -> None:
        task = asyncio.get_running_loop().create_task(self.record_reload(old, new, version))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def record_reload(self, old: GatewayConfig, new: GatewayConfig, version: int) -> None:
        changes = config_changes(old, new)
        try:
            await self.store.append_audit(AuditRecord(
                actor=RELOAD_ACTOR, action=RELOAD_ACTION, subject=str(new.path),
                detail={"version": version, "changes": changes,
                        **({"instance": self.instance} if self.instance else {})},
            ))
            await self.import_file()
        except (GatewayError, OSError):
            log.exception("configuration change (version %d) not recorded in the store",
                          version)

    async def import_file(self) -> int:
        """Copy lines the audit file gained since the last look; returns how many."""
        async with self._lock:
            try:
                stat = self.file.path.stat()
            except FileNotFoundError:
                self._problems = []
                return 0
            # The inode and change time too: a rotated file may have the old one's size.
            state = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
            if state == self._file_state:
                return 0
            lines = await asyncio.to_thread(self.file.lines)
            path = str(self.file.path)
            in_file = collections.Counter(line.sha256 for line in lines if line.entry is not None)
            new: list[AuditRecord] = []
            problems: list[str] = []
            for line in lines:
                problem = line.problem
                # Every line of a sha256 with one more line than copied: the store tells
                # the n-th identical line from the first by counting them.
                if line.entry is not None and in_file[line.sha256] > self._copied[line.sha256]:
                    try:
                        record = AuditRecord.from_mapping(line.entry)
                    except ValueError as exc:  # a "time" that is no ISO 8601 time with a zone
                        problem = f"not an audit record ({exc})"
                    else:
                        detail = {**record.detail, "source": IMPORT_SOURCE, "file": path,
                                  "line": line.number, LINE_SHA256: line.sha256}
                        new.append(attrs.evolve(record, detail=detail))
                if problem is not None:
                    problems.append(self._unreadable(path, line, problem))
            # Another gateway instance following the same file may have copied some of
            # them since this one last looked: the store skips those.
            copied = await self.store.import_audit(new, source=IMPORT_SOURCE, file=path)
            for record in new:
                digest = record.detail[LINE_SHA256]
                self._copied[digest] = max(self._copied[digest], in_file[digest])
            self._problems = problems
            self._file_state = state
            return copied

    def _unreadable(self, path: str, line: AuditLine, problem: str) -> str:
        text = (f"audit file {path}, line {line.number}: {problem}; skipped, so that change "
                "is not in the audit table (mend or remove the line)")
        # Once per line, not at every look at the file while it holds the line.
        key = (path, line.number, line.sha256)
        if key not in self._logged:
            self._logged.add(key)
            log.warning("%s", text)
        return text

    def problems(self) -> list[str]:
        """Lines of the audit file that cannot be read, as of the last look (for /health)."""
        return list(self._problems)

    async def watch(self, interval: float | None = None) -> None:
        """Look at the file and the audit file every ``interval`` s, also while no message
        asks for the configuration; run as a task until cancelled."""
        while True:
            await asyncio.sleep(interval or max(self.holder.check_interval, 0.05))
            try:
                await asyncio.to_thread(self.holder.current)
                await self.import_file()
            except (GatewayError, OSError):
                log.exception("cannot copy configuration changes into the store")

    async def flush(self) -> None:
        """Wait for reload records still being written (at shutdown)."""
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)
